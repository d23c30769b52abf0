package mfa

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Errors for codes, worded to be shown as they are. ErrInvalidCode also
// serves one-time codes.
var (
	ErrInvalidCode = errors.New("That code didn't work. Check the code and try again.")
	ErrCodeReused  = errors.New("That code was already used. Wait for the next code in the app and enter it.")
)

// SHA1, 6 digits and 30 s are what every authenticator app supports.
const (
	totpPeriod = 30 * time.Second
	qrSize     = 200
)

var totpOpts = totp.ValidateOpts{
	Period:    uint(totpPeriod / time.Second),
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// TOTPEnrollment is a new authenticator-app secret and how to show it.
type TOTPEnrollment struct {
	Secret string // base32, for "Can't scan image?" manual entry (show with GroupSecret)
	URL    string // otpauth:// URL
	QRCode string // "data:image/png;base64,...", rendered here so no outside service sees the secret
}

// NewTOTP makes a 20-byte secret for account, labelled with issuer (the
// district name) in the app.
func NewTOTP(issuer, account string) (*TOTPEnrollment, error) {
	return totpEnrollment(totp.GenerateOpts{Issuer: issuer, AccountName: account, SecretSize: 20})
}

// TOTPFromSecret shows an existing secret again (the QR code is not stored).
func TOTPFromSecret(issuer, account, secret string) (*TOTPEnrollment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		return nil, fmt.Errorf("mfa: totp secret: %w", err)
	}
	return totpEnrollment(totp.GenerateOpts{Issuer: issuer, AccountName: account, Secret: raw})
}

func totpEnrollment(opts totp.GenerateOpts) (*TOTPEnrollment, error) {
	opts.Period, opts.Digits, opts.Algorithm = totpOpts.Period, totpOpts.Digits, totpOpts.Algorithm
	key, err := totp.Generate(opts)
	if err != nil {
		return nil, fmt.Errorf("mfa: new totp: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("mfa: totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("mfa: totp qr code: %w", err)
	}
	return &TOTPEnrollment{
		Secret: key.Secret(),
		URL:    key.String(),
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

// GroupSecret splits a secret into groups of four for reading and typing.
func GroupSecret(secret string) string {
	var b strings.Builder
	for i := 0; i < len(secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(secret[i:min(i+4, len(secret))])
	}
	return b.String()
}

// TOTPVerifier checks authenticator-app codes and refuses replays.
type TOTPVerifier struct {
	KV  store.KV
	Now func() time.Time // time.Now when nil
}

// usedTTL outlasts the three periods in which a step is accepted, plus one
// for clock differences between servers.
const usedTTL = 4 * totpPeriod

// Verify accepts code for secret in the current step or one step either
// side, once per step for subject (the method, or the enrollment before the
// method exists): ErrInvalidCode for a wrong code, ErrCodeReused for a
// replay.
func (v *TOTPVerifier) Verify(ctx context.Context, subject, secret, code string) error {
	code, ok := normalizeCode(code)
	if !ok {
		return ErrInvalidCode
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	step, err := matchStep(secret, code, now())
	if err != nil {
		return err
	}
	key := "totp-used:" + subject + ":" + strconv.FormatInt(step, 10)
	fresh, err := v.KV.PutIfAbsent(ctx, key, []byte{1}, usedTTL)
	if err != nil {
		return fmt.Errorf("mfa: verify totp: %w", err)
	}
	if !fresh {
		return ErrCodeReused
	}
	return nil
}

// matchStep returns the time step whose code equals code, checking one step
// at a time (the library compares in constant time) so a replay of that
// step can be refused.
func matchStep(secret, code string, now time.Time) (int64, error) {
	for _, d := range []time.Duration{0, -1, 1} {
		t := now.Add(d * totpPeriod)
		ok, err := totp.ValidateCustom(code, secret, t, totpOpts)
		if err != nil {
			return 0, fmt.Errorf("mfa: verify totp: %w", err)
		}
		if ok {
			return t.Unix() / int64(totpOpts.Period), nil
		}
	}
	return 0, ErrInvalidCode
}
