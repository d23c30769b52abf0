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
		factor        mfa.Factor
		allowed       []string
		e164, numRgn  string
		err           error
	}{
		{"US", "(704) 555-0112", mfa.FactorSMS, us, "+17045550112", "US", nil},
		{"us", "704.555.0112", mfa.FactorSMS, us, "+17045550112", "US", nil},
		{"GB", "+1 704 555 0112", mfa.FactorSMS, us, "+17045550112", "US", nil},
		{"US", "+44 20 7946 0958", mfa.FactorVoice, us, "", "", mfa.ErrCountryNotAllowed{Region: "GB"}},
		{"US", "+44 20 7946 0958", mfa.FactorVoice, []string{"US", "GB"}, "+442079460958", "GB", nil},
		{"GB", "020 7946 0958", mfa.FactorVoice, []string{"us", "gb"}, "+442079460958", "GB", nil},
		{"US", "+1 416 555 0123", mfa.FactorSMS, us, "", "", mfa.ErrCountryNotAllowed{Region: "CA"}},
		{"US", "555-0100", mfa.FactorSMS, us, "", "", mfa.ErrInvalidPhone},
		{"US", "not a number", mfa.FactorSMS, us, "", "", mfa.ErrInvalidPhone},
		{"US", "", mfa.FactorSMS, us, "", "", mfa.ErrInvalidPhone},
		{"US", "704-555-0112 ext. 5", mfa.FactorSMS, us, "", "", mfa.ErrInvalidPhone},
		{"US", "+800 1234 5678", mfa.FactorSMS, us, "", "", mfa.ErrInvalidPhone},
		{"", "704 555 0112", mfa.FactorSMS, us, "", "", mfa.ErrInvalidPhone},
	} {
		e164, rgn, err := mfa.ParsePhone(tc.region, tc.input, tc.factor, tc.allowed)
		if e164 != tc.e164 || rgn != tc.numRgn || !errors.Is(err, tc.err) {
			t.Errorf("ParsePhone(%q, %q, %q, %q) = %q, %q, %v; want %q, %q, %v",
				tc.region, tc.input, tc.factor, tc.allowed, e164, rgn, err, tc.e164, tc.numRgn, tc.err)
		}
	}
}

func TestErrCountryNotAllowed(t *testing.T) {
	_, _, err := mfa.ParsePhone("US", "+44 20 7946 0958", mfa.FactorSMS, []string{"US"})
	var e mfa.ErrCountryNotAllowed
	if !errors.As(err, &e) || e.Region != "GB" {
		t.Fatalf("err = %#v, want ErrCountryNotAllowed{GB}", err)
	}
	want := "Gatehouse can't send codes to phone numbers in United Kingdom (+44). Use a number from an allowed country."
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

// TestParsePhoneRefusesCostlyTypes: codes never go to numbers a text or
// call to can bill the district (toll fraud), and landlines take calls only.
func TestParsePhoneRefusesCostlyTypes(t *testing.T) {
	allowed := []string{"US", "GB"}
	for _, tc := range []struct {
		input  string
		factor mfa.Factor
		ok     bool
	}{
		{"+1 704 555 0112", mfa.FactorSMS, true},    // fixed-line-or-mobile, like most US numbers
		{"+1 704 555 0100", mfa.FactorVoice, true},  // the test numbers used across the suite
		{"+44 7400 123456", mfa.FactorSMS, true},    // mobile
		{"+44 56 1234 5678", mfa.FactorSMS, true},   // VoIP
		{"+44 20 7946 0958", mfa.FactorVoice, true}, // a landline can take a call
		{"+44 20 7946 0958", mfa.FactorSMS, false},  // but not a text
		{"+1 900 555 0123", mfa.FactorSMS, false},   // premium rate
		{"+1 900 555 0123", mfa.FactorVoice, false},
		{"+1 800 555 0123", mfa.FactorVoice, false}, // toll-free
		{"+1 888 555 0199", mfa.FactorSMS, false},
		{"+44 871 234 5678", mfa.FactorVoice, false}, // premium rate
		{"+44 300 123 4567", mfa.FactorVoice, false}, // UAN
		{"+1 500 555 0100", mfa.FactorSMS, false},    // personal number
		{"+44 70 1234 5678", mfa.FactorVoice, false}, // personal number
		{"+44 7640 123456", mfa.FactorSMS, false},    // pager
	} {
		e164, _, err := mfa.ParsePhone("US", tc.input, tc.factor, allowed)
		var badType mfa.ErrPhoneType
		if tc.ok && (err != nil || e164 == "") || !tc.ok && !errors.As(err, &badType) {
			t.Errorf("ParsePhone(%q, %s) = %q, %v; want accepted %v", tc.input, tc.factor, e164, err, tc.ok)
		}
	}
	_, _, err := mfa.ParsePhone("US", "+1 900 555 0123", mfa.FactorSMS, allowed)
	if err == nil || !strings.Contains(err.Error(), "premium-rate, toll-free") {
		t.Errorf("premium-rate message = %v", err)
	}
	_, _, err = mfa.ParsePhone("GB", "020 7946 0958", mfa.FactorSMS, allowed)
	if err == nil || !strings.Contains(err.Error(), "landline") {
		t.Errorf("landline message = %v", err)
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
		e164, rgn, err := mfa.ParsePhone(region, input, mfa.FactorVoice, allowed)
		if err != nil {
			var notAllowed mfa.ErrCountryNotAllowed
			var badType mfa.ErrPhoneType
			if !errors.Is(err, mfa.ErrInvalidPhone) && !errors.As(err, &notAllowed) && !errors.As(err, &badType) {
				t.Errorf("ParsePhone(%q, %q) = %v", region, input, err)
			}
			return
		}
		if !strings.HasPrefix(e164, "+") {
			t.Errorf("ParsePhone(%q, %q) = %q, not E.164", region, input, e164)
		}
		again, againRgn, err := mfa.ParsePhone("", e164, mfa.FactorVoice, allowed)
		if again != e164 || againRgn != rgn || err != nil {
			t.Errorf("ParsePhone(%q, %q) = %q, %q; parsing that gives %q, %q, %v", region, input, e164, rgn, again, againRgn, err)
		}
	})
}
