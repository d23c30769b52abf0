package identity

import (
	"strings"
	"testing"
)

func TestCommonPasswordsList(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	if len(lines) != 10000 || len(commonPasswords()) != len(lines) {
		t.Fatalf("%d lines, %d distinct; want 10000 distinct", len(lines), len(commonPasswords()))
	}
	for i, l := range lines {
		if l == "" || l != strings.ToLower(strings.TrimSpace(l)) {
			t.Fatalf("line %d = %q: want a non-empty, trimmed, lower-case entry", i+1, l)
		}
	}
	for _, pw := range []string{"password", "PassWord", "123456", "qwerty123456", "1qaz2wsx3edc"} {
		if !isCommonPassword(pw) {
			t.Errorf("%q is not found as common", pw)
		}
	}
	for _, pw := range []string{"correct horse battery", "", "password "} {
		if isCommonPassword(pw) {
			t.Errorf("%q is found as common", pw)
		}
	}
}
