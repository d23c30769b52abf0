package mfa_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/mfa"
)

func TestCountries(t *testing.T) {
	got := mfa.Countries([]string{"US", "gb", "CA", "US", "XX"})
	want := []mfa.Country{
		{Region: "CA", Name: "Canada", Dial: "+1"},
		{Region: "GB", Name: "United Kingdom", Dial: "+44"},
		{Region: "US", Name: "United States", Dial: "+1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Countries = %v, want %v", got, want)
	}
}

func TestParsePhone(t *testing.T) {
	us := []string{"US"}
	for _, tc := range []struct {
		region, input string
		allowed       []string
		e164, numRgn  string
		err           error
	}{
		{"US", "(704) 555-0112", us, "+17045550112", "US", nil},
		{"us", "704.555.0112", us, "+17045550112", "US", nil},
		{"GB", "+1 704 555 0112", us, "+17045550112", "US", nil},
		{"US", "+44 20 7946 0958", us, "", "", mfa.ErrCountryNotAllowed{Region: "GB"}},
		{"US", "+44 20 7946 0958", []string{"US", "GB"}, "+442079460958", "GB", nil},
		{"GB", "020 7946 0958", []string{"us", "gb"}, "+442079460958", "GB", nil},
		{"US", "+1 416 555 0123", us, "", "", mfa.ErrCountryNotAllowed{Region: "CA"}},
		{"US", "555-0100", us, "", "", mfa.ErrInvalidPhone},
		{"US", "not a number", us, "", "", mfa.ErrInvalidPhone},
		{"US", "", us, "", "", mfa.ErrInvalidPhone},
		{"US", "704-555-0112 ext. 5", us, "", "", mfa.ErrInvalidPhone},
		{"US", "+800 1234 5678", us, "", "", mfa.ErrInvalidPhone},
		{"", "704 555 0112", us, "", "", mfa.ErrInvalidPhone},
	} {
		e164, rgn, err := mfa.ParsePhone(tc.region, tc.input, tc.allowed)
		if e164 != tc.e164 || rgn != tc.numRgn || !errors.Is(err, tc.err) {
			t.Errorf("ParsePhone(%q, %q, %q) = %q, %q, %v; want %q, %q, %v",
				tc.region, tc.input, tc.allowed, e164, rgn, err, tc.e164, tc.numRgn, tc.err)
		}
	}
}

func TestErrCountryNotAllowed(t *testing.T) {
	_, _, err := mfa.ParsePhone("US", "+44 20 7946 0958", []string{"US"})
	var e mfa.ErrCountryNotAllowed
	if !errors.As(err, &e) || e.Region != "GB" {
		t.Fatalf("err = %#v, want ErrCountryNotAllowed{GB}", err)
	}
	want := "Gatehouse can't send codes to phone numbers in United Kingdom (+44). Use a number from an allowed country."
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range [][2]string{
		{"US", "(704) 555-0112"}, {"US", "+44 20 7946 0958"}, {"GB", "020 7946 0958"},
		{"CA", "416-555-0123"}, {"US", "555-0100"}, {"US", "1-800-FLOWERS"}, {"", "+17045550112"},
		{"ZZ", "+1 704 555 0112 ext 12"}, {"US", "+800 1234 5678"}, {"US", "tel:+1-704-555-0112"},
		{"xx", "٠٧٠٤٥٥٥٠١١٢"}, {"US", strings.Repeat("9", 300)},
	} {
		f.Add(s[0], s[1])
	}
	allowed := []string{"US", "CA", "GB"}
	f.Fuzz(func(t *testing.T, region, input string) {
		e164, rgn, err := mfa.ParsePhone(region, input, allowed)
		if err != nil {
			var notAllowed mfa.ErrCountryNotAllowed
			if !errors.Is(err, mfa.ErrInvalidPhone) && !errors.As(err, &notAllowed) {
				t.Errorf("ParsePhone(%q, %q) = %v", region, input, err)
			}
			return
		}
		if !strings.HasPrefix(e164, "+") {
			t.Errorf("ParsePhone(%q, %q) = %q, not E.164", region, input, e164)
		}
		again, againRgn, err := mfa.ParsePhone("", e164, allowed)
		if again != e164 || againRgn != rgn || err != nil {
			t.Errorf("ParsePhone(%q, %q) = %q, %q; parsing that gives %q, %q, %v", region, input, e164, rgn, again, againRgn, err)
		}
	})
}
