package identity

import (
	"errors"
	"strings"
)

// ErrInvalidUsername is returned for a username that cannot be a UPN.
var ErrInvalidUsername = errors.New("a username may use letters, digits and . _ - ' only, with an optional @domain")

// NormalizeUsername turns what a person types ("JDoe", "jdoe@District.Example")
// into the stored UPN form "jdoe@district.example". A short name gets the
// district's domain.
func NormalizeUsername(in, domain string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(in))
	local, host, hasAt := strings.Cut(s, "@")
	if !hasAt {
		host = domain
	}
	if !validLocal(local) || !validHost(host) {
		return "", ErrInvalidUsername
	}
	return local + "@" + host, nil
}

func validLocal(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-'", r)) {
			return false
		}
	}
	return true
}

func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
