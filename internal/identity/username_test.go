package identity

import (
	"errors"
	"strings"
	"testing"
)

const testDomain = "district.example"

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"jdoe", "jdoe@district.example"},
		{"JDoe", "jdoe@district.example"},
		{"  jdoe \t", "jdoe@district.example"},
		{"jdoe@District.Example", "jdoe@district.example"},
		{"j.doe@other.example", "j.doe@other.example"},
		{"o'brien", "o'brien@district.example"},
		{"a_b-c.d", "a_b-c.d@district.example"},
		{"jdoe@localhost", "jdoe@localhost"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64) + "@district.example"},
		{"", ""},
		{"   ", ""},
		{"@district.example", ""},
		{"jdoe@", ""},
		{"a@b@c", ""},
		{"jdoe@@district.example", ""},
		{"j doe", ""},
		{"j+doe", ""},
		{"jdöe", ""},
		{".jdoe", ""},
		{"jdoe.", ""},
		{strings.Repeat("a", 65), ""},
		{"jdoe@-bad.example", ""},
		{"jdoe@bad-.example", ""},
		{"jdoe@bad..example", ""},
		{"jdoe@bad_host.example", ""},
		{"jdoe@" + strings.Repeat("a", 64) + ".example", ""},
		{"jdoe@" + strings.Repeat("a.", 127) + "ex", ""}, // host > 253
		{"jdoe\x00", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeUsername(tt.in, testDomain)
		if tt.want == "" {
			if err == nil {
				t.Errorf("NormalizeUsername(%q) = %q, want refusal", tt.in, got)
			} else if !errors.Is(err, ErrInvalidUsername) {
				t.Errorf("NormalizeUsername(%q) error = %v, want ErrInvalidUsername", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeUsernameBadDomain(t *testing.T) {
	// A short name cannot be completed with an invalid domain.
	for _, d := range []string{"", "Bad Domain", "-x.example"} {
		if got, err := NormalizeUsername("jdoe", d); err == nil {
			t.Errorf("NormalizeUsername(jdoe, %q) = %q, want refusal", d, got)
		}
	}
}

func FuzzNormalizeUsername(f *testing.F) {
	for _, s := range []string{"jdoe", "JDoe@District.Example", " a.b ", "a@b@c", "", "\u212a", "İ", "o'brien", "x@-y"} {
		f.Add(s, testDomain)
	}
	f.Add("jdoe", "")
	f.Add("jdoe", "UPPER.example")
	f.Fuzz(func(t *testing.T, in, domain string) {
		out, err := NormalizeUsername(in, domain)
		if err != nil {
			if out != "" {
				t.Fatalf("refused %q but returned %q", in, out)
			}
			return
		}
		if n := strings.Count(out, "@"); n != 1 {
			t.Fatalf("NormalizeUsername(%q, %q) = %q with %d '@'", in, domain, out, n)
		}
		for _, d := range []string{domain, testDomain, ""} {
			again, err := NormalizeUsername(out, d)
			if err != nil || again != out {
				t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
			}
		}
	})
}
