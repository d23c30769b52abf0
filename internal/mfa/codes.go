package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Errors for one-time codes, worded to be shown as they are.
var (
	ErrCodeExpired     = errors.New("That code has expired. Choose Resend code to get a new one.")
	ErrTooManyAttempts = errors.New("Too many wrong codes. Choose Resend code to get a new one.")
)

const codeDigits = 6

// Codes issues and checks one-time codes sent by SMS, voice or email.
type Codes struct {
	KV          store.KV
	Key         []byte        // HMAC key; codes and scopes are stored only as MACs under it
	TTL         time.Duration // default 5m
	MaxAttempts int           // default 5
}

func (c *Codes) ttl() time.Duration {
	if c.TTL <= 0 {
		return 5 * time.Minute
	}
	return c.TTL
}

func (c *Codes) maxAttempts() int {
	if c.MaxAttempts <= 0 {
		return 5
	}
	return c.MaxAttempts
}

// codeKeys names the code, its attempt counter and its used marker. The
// scope is MACed because it may hold a phone number or email address.
func (c *Codes) codeKeys(scope string) (code, attempts, used string) {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte("scope\x00" + scope))
	h := hex.EncodeToString(m.Sum(nil))
	return "code:" + h, "code-attempts:" + h, "code-used:" + h
}

// codeMAC binds the code to its scope, so a stored value cannot be moved to
// another scope.
func (c *Codes) codeMAC(scope, code string) []byte {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte("code\x00" + scope + "\x00" + code))
	return m.Sum(nil)
}

// Issue makes a new 6-digit code for scope, replacing any earlier code for
// it and resetting its attempts.
func (c *Codes) Issue(ctx context.Context, scope string) (string, error) {
	if len(c.Key) == 0 {
		return "", errors.New("mfa: Codes.Key is empty")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	codeKey, attemptsKey, usedKey := c.codeKeys(scope)
	if err := c.KV.Delete(ctx, attemptsKey, usedKey); err != nil {
		return "", fmt.Errorf("mfa: issue code: %w", err)
	}
	if err := c.KV.Put(ctx, codeKey, c.codeMAC(scope, code), c.ttl()); err != nil {
		return "", fmt.Errorf("mfa: issue code: %w", err)
	}
	return code, nil
}

// Verify consumes the code for scope on success. A wrong code gives
// ErrInvalidCode, and the MaxAttempts-th deletes the code
// (ErrTooManyAttempts); no code gives ErrCodeExpired. Every try counts
// before it is compared, so concurrent guesses cannot exceed MaxAttempts.
func (c *Codes) Verify(ctx context.Context, scope, code string) error {
	codeKey, attemptsKey, usedKey := c.codeKeys(scope)
	want, err := c.KV.Get(ctx, codeKey)
	if errors.Is(err, store.ErrNotFound) {
		return ErrCodeExpired
	}
	if err != nil {
		return fmt.Errorf("mfa: verify code: %w", err)
	}
	n, err := c.KV.Incr(ctx, attemptsKey, c.ttl())
	if err != nil {
		return fmt.Errorf("mfa: verify code: %w", err)
	}
	limit := int64(c.maxAttempts())
	if n > limit {
		return c.discard(ctx, codeKey, attemptsKey)
	}
	code, ok := normalizeCode(code)
	if ok && hmac.Equal(c.codeMAC(scope, code), want) {
		// Only one of several concurrent correct tries may succeed.
		fresh, err := c.KV.PutIfAbsent(ctx, usedKey, []byte{1}, c.ttl())
		if err != nil {
			return fmt.Errorf("mfa: verify code: %w", err)
		}
		if !fresh {
			return ErrCodeExpired
		}
		if err := c.KV.Delete(ctx, codeKey, attemptsKey); err != nil {
			return fmt.Errorf("mfa: verify code: %w", err)
		}
		return nil
	}
	if n == limit {
		return c.discard(ctx, codeKey, attemptsKey)
	}
	return ErrInvalidCode
}

func (c *Codes) discard(ctx context.Context, codeKey, attemptsKey string) error {
	if err := c.KV.Delete(ctx, codeKey, attemptsKey); err != nil {
		return fmt.Errorf("mfa: verify code: %w", err)
	}
	return ErrTooManyAttempts
}

// AttemptsLeft reports how many tries remain for scope's code; 0 when there
// is no code.
func (c *Codes) AttemptsLeft(ctx context.Context, scope string) (int, error) {
	codeKey, attemptsKey, _ := c.codeKeys(scope)
	if _, err := c.KV.Get(ctx, codeKey); errors.Is(err, store.ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("mfa: attempts left: %w", err)
	}
	used := 0
	b, err := c.KV.Get(ctx, attemptsKey)
	switch {
	case err == nil:
		if used, err = strconv.Atoi(string(b)); err != nil {
			return 0, fmt.Errorf("mfa: attempts left: %w", err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return 0, fmt.Errorf("mfa: attempts left: %w", err)
	}
	return max(c.maxAttempts()-used, 0), nil
}

// normalizeCode strips the spaces people type or paste ("123 456") and
// reports whether what is left is a 6-digit code.
func normalizeCode(code string) (string, bool) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != codeDigits {
		return "", false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return code, true
}
