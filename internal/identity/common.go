package identity

import (
	_ "embed"
	"strings"
	"sync"
)

// commonPasswordsText is the 10,000 most frequent passwords, most frequent
// first, one per line, lower case: the first 10,000 entries of
// data/passwords.txt in github.com/trustelem/zxcvbn v1.0.1 (MIT License,
// Copyright (c) 2018 Vincent Vanackere and Trustelem), the ranked list
// zxcvbn 4.4.2 built from Mark Burnett's ten million leaked passwords. It is
// shipped as a file so the build does not depend on that module.
//
//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords is built on first use so commands that never check a
// password do not pay for it.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(strings.TrimSpace(commonPasswordsText), "\n")
	set := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		set[l] = struct{}{}
	}
	return set
})

// isCommonPassword reports whether password, ignoring case, is on the list.
func isCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}
