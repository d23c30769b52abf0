package lockout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

const (
	user = "0b7c6f0e-user-ID"
	src  = lockout.Source("address:192.0.2.1")
)

// env is a Lockout on a fresh Redis with a fake clock.
type env struct {
	t   *testing.T
	l   *lockout.Lockout
	r   *testenv.Redis
	now time.Time
}

func newEnv(t *testing.T, o lockout.Options) *env {
	t.Helper()
	r := testenv.NewRedis(t)
	e := &env{t: t, r: r, now: time.Date(2025, 9, 2, 8, 0, 0, 0, time.UTC)}
	o.Now = func() time.Time { return e.now }
	e.l = lockout.New(redisstore.New(r.Client, r.Prefix), o)
	return e
}

// advance moves the clock; miniredis TTLs move with it, a real server's do not.
func (e *env) advance(d time.Duration) {
	e.now = e.now.Add(d)
	if e.r.Mini != nil {
		e.r.Mini.FastForward(d)
	}
}

// needTTLs skips the rest of a test that needs Redis TTLs to run out.
func (e *env) needTTLs() {
	e.r.NeedClock(e.t)
}

func (e *env) check(until time.Time, err error, want time.Duration, what string) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	switch {
	case want == 0 && !until.IsZero():
		e.t.Fatalf("%s: locked until %v, want not locked", what, until)
	case want != 0 && !until.Equal(e.now.Add(want)):
		e.t.Fatalf("%s: locked until %v, want %v", what, until, e.now.Add(want))
	}
}

// fail records n sign-in failures, all but the last without a lock, and
// checks the last against want.
func (e *env) fail(n int, want time.Duration) {
	e.t.Helper()
	for i := 1; i < n; i++ {
		until, err := e.l.SignInFailed(e.t.Context(), user, src)
		e.check(until, err, 0, "SignInFailed")
	}
	until, err := e.l.SignInFailed(e.t.Context(), user, src)
	e.check(until, err, want, "last SignInFailed")
}

func (e *env) signInLocked(want time.Duration) {
	e.t.Helper()
	until, err := e.l.SignInLocked(e.t.Context(), user, src)
	e.check(until, err, want, "SignInLocked")
}

func (e *env) ssprLocked(want time.Duration) {
	e.t.Helper()
	until, err := e.l.SSPRLocked(e.t.Context(), user, src)
	e.check(until, err, want, "SSPRLocked")
}

func (e *env) proofsFail(n int, want time.Duration) {
	e.t.Helper()
	for i := 1; i < n; i++ {
		until, err := e.l.SSPRProofFailed(e.t.Context(), user, src)
		e.check(until, err, 0, "SSPRProofFailed")
	}
	until, err := e.l.SSPRProofFailed(e.t.Context(), user, src)
	e.check(until, err, want, "last SSPRProofFailed")
}

func (e *env) emails(n int, want time.Duration) {
	e.t.Helper()
	for i := 1; i < n; i++ {
		until, err := e.l.SSPREmailSent(e.t.Context(), user, src)
		e.check(until, err, 0, "SSPREmailSent")
	}
	until, err := e.l.SSPREmailSent(e.t.Context(), user, src)
	e.check(until, err, want, "last SSPREmailSent")
}

func TestSignInLockEscalates(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.fail(9, 0)
	e.signInLocked(0)
	e.fail(1, time.Minute)
	e.signInLocked(time.Minute)

	// Failures during the lock neither count nor extend it.
	e.advance(30 * time.Second)
	e.fail(1, 30*time.Second)
	e.signInLocked(30 * time.Second)

	e.advance(30 * time.Second)
	e.signInLocked(0)
	e.fail(9, 0)
	e.fail(1, 2*time.Minute)
	e.advance(2 * time.Minute)
	e.fail(10, 4*time.Minute)
}

func TestSignInLockCapped(t *testing.T) {
	e := newEnv(t, lockout.Options{SignInThreshold: 2, SignInLock: time.Minute, SignInMaxLock: 3 * time.Minute})
	for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute} {
		e.fail(2, want)
		e.advance(want)
	}
}

func TestSignInLockExpiresByTTL(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.fail(10, time.Minute)
	lockKeys := keys(t, e, "lockout:signin-until:*")
	if len(lockKeys) != 2 {
		t.Fatalf("lock keys %q, want the source's and the latest of any source's", lockKeys)
	}
	for _, k := range lockKeys {
		ttl, err := e.r.Client.PTTL(t.Context(), k).Result()
		if err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("lock key TTL = %v, %v; want (0, 1m]", ttl, err)
		}
	}
	e.needTTLs()
	e.advance(time.Minute)
	// The count toward all unfamiliar sources' lock outlives this one.
	if ks := keys(t, e, "*"); len(ks) != 2 || len(keys(t, e, "lockout:signin-level:*")) != 1 || len(keys(t, e, "lockout:signin-failures:*")) != 1 {
		t.Errorf("keys %q after the lock ended, want the escalation level and the unfamiliar sources' count", ks)
	}
	e.signInLocked(0)
}

func TestLockEndsByClockBeforeKeyExpires(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.fail(10, time.Minute)
	e.proofsFail(5, 24*time.Hour)
	e.now = e.now.Add(24 * time.Hour) // the clock alone: Redis still holds the keys
	e.signInLocked(0)
	e.ssprLocked(0)
}

func TestSignInFailuresWindow(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.needTTLs()
	e.fail(9, 0)
	e.advance(time.Hour)
	e.fail(9, 0)
	e.fail(1, time.Minute)
}

func TestSignInEscalationForgotten(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.fail(10, time.Minute)
	e.advance(time.Minute)
	e.fail(10, 2*time.Minute)
	e.needTTLs()
	e.advance(2*time.Minute + 24*time.Hour - time.Second)
	e.fail(10, 4*time.Minute)
	e.advance(4*time.Minute + 24*time.Hour)
	e.fail(10, time.Minute)
}

func TestSignInSucceededKeepsEscalation(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.fail(10, time.Minute)
	e.advance(time.Minute)
	e.fail(9, 0)
	if err := e.l.SignInSucceeded(t.Context(), user, src); err != nil {
		t.Fatal(err)
	}
	e.fail(9, 0)
	e.fail(1, 2*time.Minute)
}

func TestUnlock(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.fail(10, time.Minute)
	e.advance(time.Minute)
	e.fail(10, 2*time.Minute)
	if err := e.l.Unlock(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	e.signInLocked(0)
	e.fail(9, 0)
	if err := e.l.Unlock(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	e.fail(9, 0)
	e.fail(1, time.Minute)
}

func TestUsersAreSeparate(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.fail(10, time.Minute)
	until, err := e.l.SignInLocked(t.Context(), "another-user", src)
	e.check(until, err, 0, "another user's SignInLocked")
}

func TestSSPRProofFailures(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.proofsFail(4, 0)
	e.ssprLocked(0)
	e.proofsFail(1, 24*time.Hour)
	e.ssprLocked(24 * time.Hour)
	// A locked SSPR sends no email; sign-in is a separate lock.
	e.emails(1, 24*time.Hour)
	e.signInLocked(0)

	e.advance(24 * time.Hour)
	e.ssprLocked(0)
	e.proofsFail(5, 24*time.Hour)
}

func TestSSPREmails(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.emails(10, 0)
	e.emails(1, 24*time.Hour)
	e.ssprLocked(24 * time.Hour)
	e.proofsFail(1, 24*time.Hour)
}

func TestSSPRCountRestartsAfterLock(t *testing.T) {
	e := newEnv(t, lockout.Options{SSPRLock: time.Minute})
	e.emails(11, time.Minute)
	e.advance(time.Minute)
	e.emails(10, 0)
	e.proofsFail(5, time.Minute)
	e.advance(time.Minute)
	e.proofsFail(5, time.Minute)
}

func TestSSPREmailWindow(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.needTTLs()
	e.emails(10, 0)
	e.advance(10 * time.Minute)
	e.emails(10, 0)
	e.emails(1, 24*time.Hour)
	e.advance(24 * time.Hour)
	if n := len(keys(t, e, "*")); n != 0 {
		t.Errorf("%d keys left after the lock ended", n)
	}
}

func TestSSPRReset(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.proofsFail(5, 24*time.Hour)
	if err := e.l.SSPRReset(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	e.ssprLocked(0)
	e.proofsFail(4, 0)
	e.emails(10, 0)
	if err := e.l.SSPRReset(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	e.proofsFail(4, 0)
	e.emails(10, 0)
}

func TestKeysHaveTTLAndHideUser(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	e.proofsFail(1, 0)
	e.emails(1, 0)
	e.fail(1, 0)
	checkKeys(t, e, 6) // each count for the source and for all unfamiliar ones
	e.fail(9, time.Minute)
	checkKeys(t, e, 8) // the source's lock and escalation level replace its failure count; the latest lock of any source
}

func checkKeys(t *testing.T, e *env, want int) {
	t.Helper()
	ks := keys(t, e, "*")
	if len(ks) != want {
		t.Errorf("keys %q: want %d", ks, want)
	}
	for _, k := range ks {
		if !strings.HasPrefix(k, e.r.Prefix+"lockout:") || strings.Contains(k, user) {
			t.Errorf("key %q: want lockout: prefix and no user ID", k)
		}
		ttl, err := e.r.Client.PTTL(t.Context(), k).Result()
		if err != nil || ttl <= 0 {
			t.Errorf("key %q TTL = %v, %v", k, ttl, err)
		}
	}
}

func TestEmptyUserID(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	if _, err := e.l.SignInFailed(t.Context(), "", src); err == nil {
		t.Error("SignInFailed accepted an empty user ID")
	}
	if _, err := e.l.SSPREmailSent(t.Context(), "", src); err == nil {
		t.Error("SSPREmailSent accepted an empty user ID")
	}
}

// keys lists this test's keys matching pattern.
func keys(t *testing.T, e *env, pattern string) []string {
	t.Helper()
	ks, err := e.r.Client.Keys(t.Context(), e.r.Prefix+pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestLockedAnywhere: the Help Desk sees the latest lock of any of a
// user's sources, until Unlock clears them all.
func TestLockedAnywhere(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	anywhere := func(want time.Duration) {
		t.Helper()
		until, err := e.l.LockedAnywhere(t.Context(), user)
		e.check(until, err, want, "LockedAnywhere")
	}
	anywhere(0)
	e.fail(10, time.Minute)
	anywhere(time.Minute)
	if until, err := e.l.SignInLocked(t.Context(), user, lockout.Source("device:the-owners")); err != nil || !until.IsZero() {
		t.Fatalf("the owner's device is locked too: %v %v", until, err)
	}
	if err := e.l.Unlock(t.Context(), user); err != nil {
		t.Fatal(err)
	}
	anywhere(0)
}
