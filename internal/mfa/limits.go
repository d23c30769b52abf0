package mfa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Limit caps hits per subject in a fixed window, e.g. {"sms-user", 5, time.Hour}.
type Limit struct {
	Name   string
	Max    int
	Window time.Duration
}

// Check is one limit applied to one subject.
type Check struct {
	Limit   Limit
	Subject string
}

// Limiter counts sends and verifies, so that a stolen password cannot be
// turned into a machine for sending paid text messages or guessing codes.
type Limiter struct {
	KV store.KV
}

// subjectKey hashes subject so phone numbers, addresses and IPs stay out of
// Redis key names.
func subjectKey(kind, name, subject string) string {
	h := sha256.Sum256([]byte(subject))
	return kind + ":" + name + ":" + hex.EncodeToString(h[:])
}

// Allow counts one hit for subject against lim and reports whether it is
// within lim.Max; the hit that exceeds it is refused.
func (l *Limiter) Allow(ctx context.Context, lim Limit, subject string) (bool, error) {
	// Redis would drop a counter with no window at once, so it would never trip.
	if lim.Window < time.Millisecond {
		return false, fmt.Errorf("mfa: limit %q has no window", lim.Name)
	}
	n, err := l.KV.Incr(ctx, subjectKey("limit", lim.Name, subject), lim.Window)
	if err != nil {
		return false, fmt.Errorf("mfa: limit %q: %w", lim.Name, err)
	}
	return n <= int64(lim.Max), nil
}

// AllowAll counts a hit on every check, even after one is exceeded, and
// returns the first limit exceeded (nil when all allow).
func (l *Limiter) AllowAll(ctx context.Context, checks ...Check) (*Limit, error) {
	var exceeded *Limit
	for _, c := range checks {
		ok, err := l.Allow(ctx, c.Limit, c.Subject)
		if err != nil {
			return nil, err
		}
		if !ok && exceeded == nil {
			exceeded = &c.Limit
		}
	}
	return exceeded, nil
}

// Cooldown starts a cooldown of d for subject and returns 0, or returns the
// time left of the one already running (for "Resend code").
func (l *Limiter) Cooldown(ctx context.Context, name, subject string, d time.Duration) (time.Duration, error) {
	// A zero TTL would make the cooldown last forever.
	if d < time.Millisecond {
		return 0, fmt.Errorf("mfa: cooldown %q has no duration", name)
	}
	key := subjectKey("cooldown", name, subject)
	// A second round covers a cooldown that ends between the two calls.
	for range 2 {
		started, err := l.KV.PutIfAbsent(ctx, key, []byte{1}, d)
		if err != nil {
			return 0, fmt.Errorf("mfa: cooldown %q: %w", name, err)
		}
		if started {
			return 0, nil
		}
		wait, err := l.KV.TTL(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("mfa: cooldown %q: %w", name, err)
		}
		if wait > 0 {
			return wait, nil
		}
	}
	return d, nil
}
