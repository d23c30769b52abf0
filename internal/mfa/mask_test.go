package mfa_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/mfa"
)

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+17045550112":   "+1 704 XXX XX12",
		"+442079460958":  "+44 207 XXX XX58",
		"+4915123456789": "+49 151 XXX XXX89",
		"+33612345678":   "+33 612 XXX X78",
		"+6834001":       "+683 XX01", // Niue: too short to show the start
	} {
		if got := mfa.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskPhoneMalformed(t *testing.T) {
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	for _, in := range []string{"", "+", "abc", "12", "+1", "7045550112", "+999 1234 5678", "+1 704 555 0112", "704-555-0112!!"} {
		got := mfa.MaskPhone(in)
		if shown := digits(got); len(shown) > 2 || !strings.HasSuffix(digits(in), shown) {
			t.Errorf("MaskPhone(%q) = %q shows more than the last two digits", in, got)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"jdoe@home.example":   "jd***@home.example",
		"jd@home.example":     "j***@home.example",
		"j@home.example":      "j***@home.example",
		"élodie@home.example": "él***@home.example",
		"a@b@home.example":    "a@***@home.example",
		"@home.example":       "***",
		"no-at-sign":          "***",
		"":                    "***",
	} {
		if got := mfa.MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
