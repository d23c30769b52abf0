// Package lockout locks sign-in after repeated password failures and
// throttles self-service password reset (SSPR), the way Microsoft Entra's
// smart lockout and SSPR throttling do, with its state kept in Redis. Locks
// are kept per user and Source, so one person's wrong guesses lock out only
// their own device or address, never the owner on the owner's device.
package lockout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Messages shown to users, worded as the district's users know them.
const (
	MsgSignInLocked = "Your account is temporarily locked to prevent unauthorized use. Try again later, and if you still have trouble, contact the Help Desk."
	MsgSSPRLocked   = "You've tried to reset your password too many times. For your security, password reset is locked for 24 hours. Contact the Help Desk if you need help sooner."
)

// Options tune the limits; zero fields take the defaults in brackets.
type Options struct {
	SignInThreshold int           // failures in an hour that start a lock [10]
	SignInLock      time.Duration // first lock; each further one doubles [60s]
	SignInMaxLock   time.Duration // cap on a doubled lock [1h]

	SSPRProofFailures int           // failed identity proofs in 24 h that lock SSPR [5]
	SSPREmails        int           // emails allowed in 10 min; one more locks SSPR [10]
	SSPRLock          time.Duration // [24h]

	// UnfamiliarFactor: all of a user's unfamiliar sources together are
	// locked at this many times a single source's threshold, so that a
	// guesser with many addresses is stopped too, while the owner's
	// familiar devices are not [5].
	UnfamiliarFactor int

	AddressFailures       int           // failed passwords from unfamiliar devices at one address that block it [30]
	AddressWindow         time.Duration // the window of AddressFailures [5m]
	ResetStartsPerSource  int           // resets one source may start for one user in an hour [10]
	ResetStartsPerAddress int           // resets unfamiliar devices at one address may start in an hour [30]
	// AddressScale multiplies the per-address limits for addr, e.g. for a
	// school's shared egress address [1 everywhere].
	AddressScale func(addr string) int

	Now func() time.Time // [time.Now]
}

const (
	signInFailureWindow = time.Hour
	// escalationMemory is how long after a lock ends the next one still
	// doubles it.
	escalationMemory  = 24 * time.Hour
	ssprProofWindow   = 24 * time.Hour
	ssprEmailWindow   = 10 * time.Minute
	prefix            = "lockout:"
	keySignInFailures = prefix + "signin-failures:"
	keySignInUntil    = prefix + "signin-until:"
	keySignInLevel    = prefix + "signin-level:"
	keySSPRProofs     = prefix + "sspr-proofs:"
	keySSPREmails     = prefix + "sspr-emails:"
	keySSPRUntil      = prefix + "sspr-until:"
	keySignInGen      = prefix + "signin-generation:"
	keySSPRGen        = prefix + "sspr-generation:"
	// generationMemory outlives every key a generation names, so a
	// generation that expires and restarts at 0 finds none of its old keys.
	generationMemory = 400 * 24 * time.Hour
)

// Lockout keeps per-user sign-in and SSPR lock state.
type Lockout struct {
	kv store.KV
	o  Options
}

// New returns a Lockout on kv with o's zero fields set to the defaults.
func New(kv store.KV, o Options) *Lockout {
	if o.SignInThreshold <= 0 {
		o.SignInThreshold = 10
	}
	if o.SignInLock <= 0 {
		o.SignInLock = time.Minute
	}
	if o.SignInMaxLock <= 0 {
		o.SignInMaxLock = time.Hour
	}
	if o.SSPRProofFailures <= 0 {
		o.SSPRProofFailures = 5
	}
	if o.SSPREmails <= 0 {
		o.SSPREmails = 10
	}
	if o.SSPRLock <= 0 {
		o.SSPRLock = 24 * time.Hour
	}
	if o.UnfamiliarFactor <= 0 {
		o.UnfamiliarFactor = 5
	}
	if o.AddressFailures <= 0 {
		o.AddressFailures = 30
	}
	if o.AddressWindow <= 0 {
		o.AddressWindow = 5 * time.Minute
	}
	if o.ResetStartsPerSource <= 0 {
		o.ResetStartsPerSource = 10
	}
	if o.ResetStartsPerAddress <= 0 {
		o.ResetStartsPerAddress = 30
	}
	if o.AddressScale == nil {
		o.AddressScale = func(string) int { return 1 }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Lockout{kv: kv, o: o}
}

// userHash names a user in keys without the raw ID. An empty ID is refused
// so that failures for unknown usernames cannot share, and lock, one bucket.
func userHash(userID string) (string, error) {
	if userID == "" {
		return "", errors.New("lockout: empty user ID")
	}
	sum := sha256.Sum256([]byte(userID))
	return hex.EncodeToString(sum[:]), nil
}

// scope names one user and source in keys. It includes the user's current
// generation, which Unlock and SSPRReset move on, so that they clear every
// source's state without having to find it.
func (l *Lockout) scope(ctx context.Context, generation, userID string, src Source) (string, error) {
	h, err := userHash(userID)
	if err != nil {
		return "", err
	}
	gen, err := l.readInt(ctx, generation+h)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(userID + "\x00" + strconv.FormatInt(gen, 10) + "\x00" + string(src)))
	return hex.EncodeToString(sum[:]), nil
}

// nextGeneration ends every source's state for userID at once.
func (l *Lockout) nextGeneration(ctx context.Context, generation, userID string) error {
	h, err := userHash(userID)
	if err != nil {
		return err
	}
	_, err = l.kv.Incr(ctx, generation+h, generationMemory)
	return err
}

// counted lists what a try from src counts toward, each with the factor on
// its threshold: src itself and, for an unfamiliar source, all of them.
func (l *Lockout) counted(src Source) map[Source]int {
	if src.familiar() {
		return map[Source]int{src: 1}
	}
	return map[Source]int{src: 1, unfamiliar: l.o.UnfamiliarFactor}
}

// latest returns the later end of the locks each of src's counts gives.
func (l *Lockout) latest(src Source, each func(Source, int) (time.Time, error)) (time.Time, error) {
	var until time.Time
	for s, factor := range l.counted(src) {
		u, err := each(s, factor)
		if err != nil {
			return time.Time{}, err
		}
		if u.After(until) {
			until = u
		}
	}
	return until, nil
}

// SignInLocked returns when the user's sign-in lock for src ends; zero when
// unlocked.
func (l *Lockout) SignInLocked(ctx context.Context, userID string, src Source) (time.Time, error) {
	return l.latest(src, func(s Source, _ int) (time.Time, error) {
		h, err := l.scope(ctx, keySignInGen, userID, s)
		if err != nil {
			return time.Time{}, err
		}
		return l.lockedUntil(ctx, keySignInUntil+h)
	})
}

// SignInFailed counts a failed password from src. The failure that reaches
// SignInThreshold within an hour starts a lock of src, twice as long as its
// last one, and clears the count; its end is returned. While a lock runs the
// failure is not counted and the running lock's end is returned.
func (l *Lockout) SignInFailed(ctx context.Context, userID string, src Source) (time.Time, error) {
	return l.latest(src, func(s Source, factor int) (time.Time, error) {
		return l.signInFailed(ctx, userID, s, l.o.SignInThreshold*factor)
	})
}

func (l *Lockout) signInFailed(ctx context.Context, userID string, src Source, threshold int) (time.Time, error) {
	h, err := l.scope(ctx, keySignInGen, userID, src)
	if err != nil {
		return time.Time{}, err
	}
	if until, err := l.lockedUntil(ctx, keySignInUntil+h); err != nil || !until.IsZero() {
		return until, err
	}
	n, err := l.kv.Incr(ctx, keySignInFailures+h, signInFailureWindow)
	if err != nil {
		return time.Time{}, fmt.Errorf("lockout: count sign-in failure: %w", err)
	}
	if n < int64(threshold) {
		return time.Time{}, nil
	}
	level, err := l.readInt(ctx, keySignInLevel+h)
	if err != nil {
		return time.Time{}, err
	}
	d := l.signInLockFor(level)
	until, err := l.lock(ctx, keySignInUntil+h, d)
	if err != nil {
		return time.Time{}, err
	}
	if err := l.kv.Put(ctx, keySignInLevel+h, []byte(strconv.FormatInt(level+1, 10)), d+escalationMemory); err != nil {
		return time.Time{}, fmt.Errorf("lockout: save escalation: %w", err)
	}
	if err := l.kv.Delete(ctx, keySignInFailures+h); err != nil {
		return time.Time{}, fmt.Errorf("lockout: reset sign-in failures: %w", err)
	}
	return until, l.noteLock(ctx, userID, until)
}

// anySource keeps the end of the latest lock of any of a user's sources,
// for the Help Desk: sources are keyed by hashes it cannot list.
const anySource Source = "any"

// noteLock records until as the latest lock end of any source.
func (l *Lockout) noteLock(ctx context.Context, userID string, until time.Time) error {
	h, err := l.scope(ctx, keySignInGen, userID, anySource)
	if err != nil {
		return err
	}
	latest, err := l.lockedUntil(ctx, keySignInUntil+h)
	if err != nil || !until.After(latest) {
		return err
	}
	_, err = l.lock(ctx, keySignInUntil+h, until.Sub(l.o.Now()))
	return err
}

// LockedAnywhere returns when the last running sign-in lock of any of the
// user's sources ends; zero when none runs. Sign-in checks only the lock of
// the source trying, so a locked address leaves the owner's device free.
func (l *Lockout) LockedAnywhere(ctx context.Context, userID string) (time.Time, error) {
	h, err := l.scope(ctx, keySignInGen, userID, anySource)
	if err != nil {
		return time.Time{}, err
	}
	return l.lockedUntil(ctx, keySignInUntil+h)
}

// signInLockFor doubles SignInLock once per earlier lock, up to SignInMaxLock.
func (l *Lockout) signInLockFor(level int64) time.Duration {
	d, limit := l.o.SignInLock, l.o.SignInMaxLock
	for range level {
		// Compared this way so that doubling cannot overflow.
		if d > limit-d {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// SignInSucceeded clears src's failure count; the escalation level stays,
// so a guesser who also knows the password cannot reset the doubling.
func (l *Lockout) SignInSucceeded(ctx context.Context, userID string, src Source) error {
	_, err := l.latest(src, func(s Source, _ int) (time.Time, error) {
		h, err := l.scope(ctx, keySignInGen, userID, s)
		if err != nil {
			return time.Time{}, err
		}
		if err := l.kv.Delete(ctx, keySignInFailures+h); err != nil {
			return time.Time{}, fmt.Errorf("lockout: reset sign-in failures: %w", err)
		}
		return time.Time{}, nil
	})
	return err
}

// Unlock clears every source's sign-in lock, failures and escalation,
// after a successful SSPR or by the Help Desk.
func (l *Lockout) Unlock(ctx context.Context, userID string) error {
	if err := l.nextGeneration(ctx, keySignInGen, userID); err != nil {
		return fmt.Errorf("lockout: unlock sign-in: %w", err)
	}
	return nil
}

// SSPRLocked returns when the user's SSPR lock for src ends; zero when
// unlocked.
func (l *Lockout) SSPRLocked(ctx context.Context, userID string, src Source) (time.Time, error) {
	return l.latest(src, func(s Source, _ int) (time.Time, error) {
		h, err := l.scope(ctx, keySSPRGen, userID, s)
		if err != nil {
			return time.Time{}, err
		}
		return l.lockedUntil(ctx, keySSPRUntil+h)
	})
}

// SSPRProofFailed counts a failed identity proof from src; the
// SSPRProofFailures-th in 24 h locks SSPR for src for SSPRLock and its end
// is returned.
func (l *Lockout) SSPRProofFailed(ctx context.Context, userID string, src Source) (time.Time, error) {
	return l.ssprHit(ctx, userID, src, keySSPRProofs, ssprProofWindow, l.o.SSPRProofFailures)
}

// SSPREmailSent counts an email about to be sent at src's request; the one
// after SSPREmails in 10 min locks SSPR for src instead. Call it before
// sending and do not send when it returns a lock end.
func (l *Lockout) SSPREmailSent(ctx context.Context, userID string, src Source) (time.Time, error) {
	return l.ssprHit(ctx, userID, src, keySSPREmails, ssprEmailWindow, l.o.SSPREmails+1)
}

// ssprHit counts one hit on a counter and locks SSPR at the trip-th hit in
// the window. A running lock is returned without counting.
func (l *Lockout) ssprHit(ctx context.Context, userID string, src Source, counter string, window time.Duration, trip int) (time.Time, error) {
	return l.latest(src, func(s Source, factor int) (time.Time, error) {
		return l.ssprHitOne(ctx, userID, s, counter, window, trip*factor)
	})
}

func (l *Lockout) ssprHitOne(ctx context.Context, userID string, src Source, counter string, window time.Duration, trip int) (time.Time, error) {
	h, err := l.scope(ctx, keySSPRGen, userID, src)
	if err != nil {
		return time.Time{}, err
	}
	if until, err := l.lockedUntil(ctx, keySSPRUntil+h); err != nil || !until.IsZero() {
		return until, err
	}
	n, err := l.kv.Incr(ctx, counter+h, window)
	if err != nil {
		return time.Time{}, fmt.Errorf("lockout: count SSPR attempt: %w", err)
	}
	if n < int64(trip) {
		return time.Time{}, nil
	}
	until, err := l.lock(ctx, keySSPRUntil+h, l.o.SSPRLock)
	if err != nil {
		return time.Time{}, err
	}
	// A fresh count after the lock, as after a sign-in lock.
	if err := l.kv.Delete(ctx, counter+h); err != nil {
		return time.Time{}, fmt.Errorf("lockout: reset SSPR count: %w", err)
	}
	return until, nil
}

// SSPRReset clears every source's SSPR counters and lock after a
// successful reset.
func (l *Lockout) SSPRReset(ctx context.Context, userID string) error {
	if err := l.nextGeneration(ctx, keySSPRGen, userID); err != nil {
		return fmt.Errorf("lockout: reset SSPR: %w", err)
	}
	return nil
}

// lock stores the end of a lock of d from now, expiring with the lock.
func (l *Lockout) lock(ctx context.Context, key string, d time.Duration) (time.Time, error) {
	until := l.o.Now().Add(d)
	if err := l.kv.Put(ctx, key, []byte(strconv.FormatInt(until.UnixNano(), 10)), d); err != nil {
		return time.Time{}, fmt.Errorf("lockout: start lock: %w", err)
	}
	return until, nil
}

// lockedUntil returns the stored lock end, or zero when there is none. The
// end is checked against Now too, so a lock ends on time even if the key
// outlives it by a moment.
func (l *Lockout) lockedUntil(ctx context.Context, key string) (time.Time, error) {
	n, err := l.readInt(ctx, key)
	if err != nil || n == 0 {
		return time.Time{}, err
	}
	until := time.Unix(0, n)
	if !until.After(l.o.Now()) {
		return time.Time{}, nil
	}
	return until, nil
}

// readInt reads a decimal value; 0 when the key is absent.
func (l *Lockout) readInt(ctx context.Context, key string) (int64, error) {
	v, err := l.kv.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("lockout: read state: %w", err)
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("lockout: bad stored value: %w", err)
	}
	return n, nil
}
