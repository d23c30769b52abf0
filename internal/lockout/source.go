package lockout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Source is who is trying to sign in or reset as a user: a device the user
// has signed in from before, or else an address. See Attempt.
type Source string

const (
	devicePrefix  = "device:"
	addressPrefix = "address:"
	// unfamiliar is what every unfamiliar source of a user counts toward
	// as well; see Options.UnfamiliarFactor.
	unfamiliar Source = "unfamiliar"
)

func (s Source) familiar() bool { return strings.HasPrefix(string(s), devicePrefix) }

const (
	// familiarFor is how long after a user's last sign-in from a device it
	// still counts as theirs.
	familiarFor       = 90 * 24 * time.Hour
	resetStartWindow  = time.Hour
	keyFamiliar       = prefix + "familiar:"
	keyAddrFailures   = prefix + "address-failures:"
	keyResetStarts    = prefix + "reset-starts:"
	keyAddrResetStart = prefix + "address-reset-starts:"
)

// Attempt is one try at a user's sign-in or reset.
type Attempt struct {
	Source Source
	// Familiar: the user has signed in from this device, so address-wide
	// limits do not apply and the device has locks of its own.
	Familiar bool
	addr     string // for the school-network scale
	network  string // what address limits count: clientip.LimitKey(addr)
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Attempt names the source of a try at userID's account from device (the
// browser's device cookie, empty when it has none) at addr: the device when
// userID has signed in from it before, as Entra's smart lockout tells
// familiar from unfamiliar locations, and otherwise the address.
func (l *Lockout) Attempt(ctx context.Context, userID, device, addr string) (Attempt, error) {
	network := clientip.LimitKey(addr)
	a := Attempt{Source: Source(addressPrefix + network), addr: addr, network: network}
	if device == "" || userID == "" {
		return a, nil
	}
	_, err := l.kv.Get(ctx, keyFamiliar+digest(userID, device))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return a, nil
	case err != nil:
		return a, fmt.Errorf("lockout: read device: %w", err)
	}
	a.Source, a.Familiar = Source(devicePrefix+digest(device)), true
	return a, nil
}

// SignedIn makes device familiar for userID.
func (l *Lockout) SignedIn(ctx context.Context, userID, device string) error {
	if device == "" || userID == "" {
		return nil
	}
	if err := l.kv.Put(ctx, keyFamiliar+digest(userID, device), []byte{1}, familiarFor); err != nil {
		return fmt.Errorf("lockout: remember device: %w", err)
	}
	return nil
}

// addressLimit scales n for addr.
func (l *Lockout) addressLimit(n int, addr string) int64 {
	return int64(n) * int64(max(l.o.AddressScale(addr), 1))
}

// AddressBlocked reports whether a's address has had AddressFailures
// (scaled) failed passwords from unfamiliar devices in AddressWindow, which
// is what password spraying looks like. A familiar device is never blocked:
// someone guessing other people's passwords cannot lock out a school.
func (l *Lockout) AddressBlocked(ctx context.Context, a Attempt) (bool, error) {
	if a.Familiar {
		return false, nil
	}
	n, err := l.readInt(ctx, keyAddrFailures+digest(a.network))
	if err != nil {
		return false, err
	}
	return n >= l.addressLimit(l.o.AddressFailures, a.addr), nil
}

// AddressFailed counts a failed password against a's address, unless it
// came from a familiar device.
func (l *Lockout) AddressFailed(ctx context.Context, a Attempt) error {
	if a.Familiar {
		return nil
	}
	if _, err := l.kv.Incr(ctx, keyAddrFailures+digest(a.network), l.o.AddressWindow); err != nil {
		return fmt.Errorf("lockout: count address failure: %w", err)
	}
	return nil
}

// ResetStart counts a reset started for userID and reports whether it may
// go on. Each source may start ResetStartsPerSource an hour for one user;
// starts past that are refused without counting against the address, so
// one person repeating their own reset cannot use up a school's. Unfamiliar
// devices at one address may start ResetStartsPerAddress (scaled) an hour.
func (l *Lockout) ResetStart(ctx context.Context, userID string, a Attempt) (bool, error) {
	n, err := l.kv.Incr(ctx, keyResetStarts+digest(userID, string(a.Source)), resetStartWindow)
	if err != nil {
		return false, fmt.Errorf("lockout: count reset start: %w", err)
	}
	if n > int64(l.o.ResetStartsPerSource) {
		return false, nil
	}
	if a.Familiar {
		return true, nil
	}
	n, err = l.kv.Incr(ctx, keyAddrResetStart+digest(a.network), resetStartWindow)
	if err != nil {
		return false, fmt.Errorf("lockout: count reset start: %w", err)
	}
	return n <= l.addressLimit(l.o.ResetStartsPerAddress, a.addr), nil
}
