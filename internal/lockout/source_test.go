package lockout_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/lockout"
)

// TestClassmateCannotLockOwnersDevice: ten wrong passwords from elsewhere
// lock that source only; the owner's familiar device signs in, and the
// Help Desk's unlock still clears every source.
func TestClassmateCannotLockOwnersDevice(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	ctx := t.Context()
	if err := e.l.SignedIn(ctx, user, "owner-device"); err != nil {
		t.Fatal(err)
	}
	owner, err := e.l.Attempt(ctx, user, "owner-device", "192.0.2.1")
	if err != nil || !owner.Familiar {
		t.Fatalf("owner's device: %+v, %v", owner, err)
	}
	classmate, err := e.l.Attempt(ctx, user, "classmate-device", "192.0.2.1")
	if err != nil || classmate.Familiar || classmate.Source == owner.Source {
		t.Fatalf("classmate's device: %+v, %v", classmate, err)
	}
	for range 10 {
		if _, err := e.l.SignInFailed(ctx, user, classmate.Source); err != nil {
			t.Fatal(err)
		}
	}
	until, err := e.l.SignInLocked(ctx, user, classmate.Source)
	e.check(until, err, time.Minute, "classmate's source")
	until, err = e.l.SignInLocked(ctx, user, owner.Source)
	e.check(until, err, 0, "owner's device")
	for range 5 {
		if _, err := e.l.SSPRProofFailed(ctx, user, classmate.Source); err != nil {
			t.Fatal(err)
		}
	}
	until, err = e.l.SSPRLocked(ctx, user, owner.Source)
	e.check(until, err, 0, "owner's SSPR")

	if err := e.l.Unlock(ctx, user); err != nil {
		t.Fatal(err)
	}
	until, err = e.l.SignInLocked(ctx, user, classmate.Source)
	e.check(until, err, 0, "classmate's source after Unlock")
}

// TestAddressLimitSparesFamiliarDevices: password spraying from one address
// blocks unfamiliar devices there, not a device its user has signed in from;
// a school network's limit is scaled.
func TestAddressLimitSparesFamiliarDevices(t *testing.T) {
	e := newEnv(t, lockout.Options{AddressScale: func(addr string) int {
		if addr == "198.51.100.1" {
			return 10
		}
		return 1
	}})
	ctx := t.Context()
	if err := e.l.SignedIn(ctx, "admin", "admin-device"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr  string
		limit int
	}{{"192.0.2.1", 30}, {"198.51.100.1", 300}} {
		sprayer, _ := e.l.Attempt(ctx, "someone", "sprayer-device", c.addr)
		for i := range c.limit {
			if blocked, err := e.l.AddressBlocked(ctx, sprayer); err != nil || blocked {
				t.Fatalf("%s: blocked after %d failures, %v", c.addr, i, err)
			}
			if err := e.l.AddressFailed(ctx, sprayer); err != nil {
				t.Fatal(err)
			}
		}
		stranger, _ := e.l.Attempt(ctx, "admin", "new-device", c.addr)
		if blocked, err := e.l.AddressBlocked(ctx, stranger); err != nil || !blocked {
			t.Errorf("%s: unfamiliar device not blocked after %d failures (%v)", c.addr, c.limit, err)
		}
		admin, _ := e.l.Attempt(ctx, "admin", "admin-device", c.addr)
		if blocked, err := e.l.AddressBlocked(ctx, admin); err != nil || blocked {
			t.Errorf("%s: the admin's own device blocked (%v)", c.addr, err)
		}
	}
}

// TestResetStartsPerSourceSpareTheAddress: one person repeating their own
// reset is stopped at their own limit and uses up nothing of the address's.
func TestResetStartsPerSourceSpareTheAddress(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	ctx := t.Context()
	student, _ := e.l.Attempt(ctx, "student", "student-device", "192.0.2.1")
	for i := range 31 {
		ok, err := e.l.ResetStart(ctx, "student", student)
		if err != nil || ok != (i < 10) {
			t.Fatalf("start %d: %v, %v", i+1, ok, err)
		}
	}
	teacher, _ := e.l.Attempt(ctx, "teacher", "teacher-device", "192.0.2.1")
	if ok, err := e.l.ResetStart(ctx, "teacher", teacher); err != nil || !ok {
		t.Errorf("another user's reset refused: %v", err)
	}
	for i := range 30 {
		if ok, err := e.l.ResetStart(ctx, "user"+string(rune('a'+i)), student); err != nil || ok != (i < 19) {
			t.Fatalf("start for user %d: %v, %v", i, ok, err)
		}
	}
}

// TestUnfamiliarSourcesLockTogether: a guesser spreading tries over many
// addresses is locked out of every unfamiliar source at five times the
// threshold; the owner's familiar device is not.
func TestUnfamiliarSourcesLockTogether(t *testing.T) {
	e := newEnv(t, lockout.Options{})
	ctx := t.Context()
	if err := e.l.SignedIn(ctx, user, "owner-device"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		guesser, _ := e.l.Attempt(ctx, user, "", "192.0.2."+string(rune('1'+i)))
		for range 9 {
			if _, err := e.l.SignInFailed(ctx, user, guesser.Source); err != nil {
				t.Fatal(err)
			}
		}
		if i < 4 {
			until, err := e.l.SignInFailed(ctx, user, guesser.Source)
			e.check(until, err, time.Minute, "a guesser's address")
		}
	}
	last, _ := e.l.Attempt(ctx, user, "", "192.0.2.5")
	until, err := e.l.SignInFailed(ctx, user, last.Source)
	e.check(until, err, time.Minute, "the fiftieth failure")
	fresh, _ := e.l.Attempt(ctx, user, "", "198.51.100.1")
	until, err = e.l.SignInLocked(ctx, user, fresh.Source)
	e.check(until, err, time.Minute, "a new address")
	owner, _ := e.l.Attempt(ctx, user, "owner-device", "198.51.100.1")
	until, err = e.l.SignInLocked(ctx, user, owner.Source)
	e.check(until, err, 0, "the owner's device")
}

// TestIPv6AddressesCountByTheirSlash64: every address of one /64 is one
// source and one address for the limits, so a device that picks a new
// address for each try gains nothing; another /64 is another source.
func TestIPv6AddressesCountByTheirSlash64(t *testing.T) {
	e := newEnv(t, lockout.Options{AddressFailures: 3})
	ctx := t.Context()
	var first lockout.Attempt
	for i := range 3 {
		a, err := e.l.Attempt(ctx, user, "", fmt.Sprintf("2001:db8:1:2::%x", i+1))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = a
		} else if a.Source != first.Source {
			t.Fatalf("2001:db8:1:2::%x is source %q, ::1 is %q", i+1, a.Source, first.Source)
		}
		if err := e.l.AddressFailed(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := e.l.Attempt(ctx, user, "", "2001:db8:1:2:ffff::1")
	if blocked, err := e.l.AddressBlocked(ctx, again); err != nil || !blocked {
		t.Fatalf("a fourth address in the /64 after three failures: blocked=%v, %v", blocked, err)
	}
	other, _ := e.l.Attempt(ctx, user, "", "2001:db8:1:3::1")
	if blocked, err := e.l.AddressBlocked(ctx, other); err != nil || blocked || other.Source == first.Source {
		t.Fatalf("another /64: blocked=%v source=%q, %v", blocked, other.Source, err)
	}
}
