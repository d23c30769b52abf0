package mfa_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/mfa"
)

const testSecret = "JBSWY3DPEHPK3PXP"

// testNow is 15 s into a 30-s step, so ±30 s lands in the neighbouring steps.
var testNow = time.Date(2025, 9, 2, 8, 0, 15, 0, time.UTC)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewTOTP(t *testing.T) {
	e, err := mfa.NewTOTP("Springfield Schools", "jdoe@springfield.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Secret) != 32 { // 20 bytes in base32
		t.Errorf("secret %q: want 32 base32 characters", e.Secret)
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Springfield Schools:jdoe@springfield.example" {
		t.Errorf("URL %s: wrong scheme, type or label", e.URL)
	}
	for k, want := range map[string]string{
		"issuer": "Springfield Schools", "digits": "6", "period": "30", "algorithm": "SHA1", "secret": e.Secret,
	} {
		if got := q.Get(k); got != want {
			t.Errorf("URL %s: %s = %q, want %q", e.URL, k, got, want)
		}
	}

	payload, ok := strings.CutPrefix(e.QRCode, "data:image/png;base64,")
	if !ok {
		t.Fatalf("QRCode %.40q…: not a PNG data URL", e.QRCode)
	}
	raw, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 200 || b.Dy() != 200 {
		t.Errorf("QR code is %v, want 200x200", b)
	}

	kv, _ := newKV(t)
	v := &mfa.TOTPVerifier{KV: kv, Now: func() time.Time { return testNow }}
	if err := v.Verify(t.Context(), "enroll-1", e.Secret, code(t, e.Secret, testNow)); err != nil {
		t.Errorf("code for the new secret: %v", err)
	}
}

func TestNewTOTPNeedsNames(t *testing.T) {
	if _, err := mfa.NewTOTP("", "jdoe"); err == nil {
		t.Error("no issuer: want an error")
	}
}

func TestGroupSecret(t *testing.T) {
	for in, want := range map[string]string{
		"JBSWY3DPEHPK3PXP": "JBSW Y3DP EHPK 3PXP",
		"JBSWY3":           "JBSW Y3",
		"JBSW":             "JBSW",
		"":                 "",
	} {
		if got := mfa.GroupSecret(in); got != want {
			t.Errorf("GroupSecret(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTOTPVerify(t *testing.T) {
	step := 30 * time.Second
	for _, tc := range []struct {
		name string
		at   time.Time
		want error
	}{
		{"current step", testNow, nil},
		{"previous step", testNow.Add(-step), nil},
		{"next step", testNow.Add(step), nil},
		{"two steps back", testNow.Add(-2 * step), mfa.ErrInvalidCode},
		{"two steps ahead", testNow.Add(2 * step), mfa.ErrInvalidCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv, _ := newKV(t)
			v := &mfa.TOTPVerifier{KV: kv, Now: func() time.Time { return testNow }}
			if err := v.Verify(t.Context(), "m1", testSecret, code(t, testSecret, tc.at)); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTOTPReplay(t *testing.T) {
	ctx := t.Context()
	now := testNow
	kv, _ := newKV(t)
	v := &mfa.TOTPVerifier{KV: kv, Now: func() time.Time { return now }}
	c := code(t, testSecret, now)
	if err := v.Verify(ctx, "m1", testSecret, c); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(ctx, "m1", testSecret, c); !errors.Is(err, mfa.ErrCodeReused) {
		t.Errorf("same code again = %v, want ErrCodeReused", err)
	}
	// Thirty seconds on, the same code is the previous step's: still used.
	now = now.Add(30 * time.Second)
	if err := v.Verify(ctx, "m1", testSecret, c); !errors.Is(err, mfa.ErrCodeReused) {
		t.Errorf("same code a step later = %v, want ErrCodeReused", err)
	}
	if err := v.Verify(ctx, "m1", testSecret, code(t, testSecret, now)); err != nil {
		t.Errorf("next step's code: %v", err)
	}
	if err := v.Verify(ctx, "m2", testSecret, c); err != nil {
		t.Errorf("another subject: %v", err)
	}
}

func TestTOTPSpaces(t *testing.T) {
	kv, _ := newKV(t)
	v := &mfa.TOTPVerifier{KV: kv, Now: func() time.Time { return testNow }}
	c := code(t, testSecret, testNow)
	if err := v.Verify(t.Context(), "m1", testSecret, " "+c[:3]+" "+c[3:]+" "); err != nil {
		t.Errorf("code with spaces: %v", err)
	}
}

func TestTOTPMalformed(t *testing.T) {
	// A nil KV shows malformed codes are refused before the store is used.
	v := &mfa.TOTPVerifier{Now: func() time.Time { return testNow }}
	for _, c := range []string{"", "12345", "1234567", "12a456", "١٢٣٤٥٦", "123-456"} {
		if err := v.Verify(t.Context(), "m1", testSecret, c); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("Verify(%q) = %v, want ErrInvalidCode", c, err)
		}
	}
}

func TestTOTPBadSecret(t *testing.T) {
	kv, _ := newKV(t)
	v := &mfa.TOTPVerifier{KV: kv, Now: func() time.Time { return testNow }}
	err := v.Verify(t.Context(), "m1", "not base32!", "123456")
	if err == nil || errors.Is(err, mfa.ErrInvalidCode) {
		t.Errorf("Verify with a broken secret = %v, want an internal error", err)
	}
}
