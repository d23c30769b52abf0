package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/store"
)

func recoveryHashes(prefix string) []string {
	out := make([]string, mfa.RecoveryCodeCount)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

func recoveryStatus(t *testing.T, db Store, userID string) mfa.RecoveryStatus {
	t.Helper()
	st, err := db.RecoveryCodes(t.Context(), userID)
	must(t, err)
	return st
}

func testRecoveryCodes(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	createUser(t, db, "u2")
	mustEqual(t, recoveryStatus(t, db, "u1"), mfa.RecoveryStatus{})

	old := recoveryHashes("old")
	must(t, db.ReplaceRecoveryCodes(ctx, "u1", old, t0, generated("u1")))
	must(t, db.ReplaceRecoveryCodes(ctx, "u2", recoveryHashes("other"), t0, generated("u2")))
	made := stored(t0)
	mustEqual(t, recoveryStatus(t, db, "u1"), mfa.RecoveryStatus{Left: mfa.RecoveryCodeCount, Made: &made})

	used := t0.Add(time.Hour)
	left, err := db.UseRecoveryCode(ctx, "u1", old[3], used, spent("u1"))
	must(t, err)
	if left != mfa.RecoveryCodeCount-1 {
		t.Fatalf("UseRecoveryCode left = %d, want %d", left, mfa.RecoveryCodeCount-1)
	}
	wantUsed := stored(used)
	mustEqual(t, recoveryStatus(t, db, "u1"), mfa.RecoveryStatus{Left: mfa.RecoveryCodeCount - 1, LastUsed: &wantUsed, Made: &made})
	// A used code is told apart from one never issued; another person's
	// code is not this person's.
	mustIs(t, err2(db.UseRecoveryCode(ctx, "u1", old[3], used, spent("u1"))), store.ErrConflict)
	mustIs(t, err2(db.UseRecoveryCode(ctx, "u1", "never-issued", used, spent("u1"))), store.ErrNotFound)
	mustIs(t, err2(db.UseRecoveryCode(ctx, "u1", "other-00", used, spent("u1"))), store.ErrNotFound)
	mustEqual(t, recoveryStatus(t, db, "u2"), mfa.RecoveryStatus{Left: mfa.RecoveryCodeCount, Made: &made})

	// A new set voids the old one, used and unused codes alike.
	fresh := recoveryHashes("new")
	must(t, db.ReplaceRecoveryCodes(ctx, "u1", fresh, t0.Add(2*time.Hour), generated("u1")))
	remade := stored(t0.Add(2 * time.Hour))
	mustEqual(t, recoveryStatus(t, db, "u1"), mfa.RecoveryStatus{Left: mfa.RecoveryCodeCount, Made: &remade})
	mustIs(t, err2(db.UseRecoveryCode(ctx, "u1", old[4], used, spent("u1"))), store.ErrNotFound)
	must(t, err2(db.UseRecoveryCode(ctx, "u1", fresh[0], used, spent("u1"))))

	mustIs(t, db.ReplaceRecoveryCodes(ctx, "nobody", recoveryHashes("x"), t0, generated("nobody")), store.ErrNotFound)
	// Deleting the user deletes their codes.
	must(t, db.DeleteUser(ctx, "u1"))
	createUser(t, db, "u1")
	mustEqual(t, recoveryStatus(t, db, "u1"), mfa.RecoveryStatus{})
}

// Two sign-ins racing with the same code: exactly one wins, whatever the
// backend's isolation level.
func testRecoveryCodeRace(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	hashes := recoveryHashes("race")
	must(t, db.ReplaceRecoveryCodes(ctx, "u1", hashes, t0, generated("u1")))
	const racers = 8
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() { _, errs[i] = db.UseRecoveryCode(ctx, "u1", hashes[round], t0, spent("u1")) })
		}
		wg.Wait()
		var won int
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case store.Unavailable(err):
				t.Fatalf("round %d: a racing use gave no answer: %v", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d of %d racing uses of one code succeeded (%v), want exactly 1", round, won, racers, errs)
		}
	}
	if st := recoveryStatus(t, db, "u1"); st.Left != mfa.RecoveryCodeCount-3 {
		t.Fatalf("Left = %d after three codes were used, want %d", st.Left, mfa.RecoveryCodeCount-3)
	}
}

// The Help Desk's reset voids recovery codes too, and its audit record
// commits with it.
func testResetVoidsRecoveryCodes(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	createUser(t, db, "u2")
	must(t, db.ReplaceRecoveryCodes(ctx, "u1", recoveryHashes("a"), t0, generated("u1")))
	must(t, db.ReplaceRecoveryCodes(ctx, "u2", recoveryHashes("b"), t0, generated("u2")))
	taken := audit.Event{ID: "taken", Type: "earlier"}
	must(t, db.AppendEvent(ctx, &taken))

	// An audit record that cannot be written undoes the reset.
	mustIs(t, db.ResetMethods(ctx, "u1", t0, audit.Event{ID: "taken", Type: "mfa.methods_reset"}), store.ErrAlreadyExists)
	if st := recoveryStatus(t, db, "u1"); st.Left != mfa.RecoveryCodeCount {
		t.Fatalf("a refused reset voided codes: %+v", st)
	}

	must(t, db.ResetMethods(ctx, "u1", t0, audit.Event{Type: "mfa.methods_reset", SubjectID: "u1"}))
	mustEqual(t, recoveryStatus(t, db, "u1"), mfa.RecoveryStatus{})
	mustIs(t, err2(db.UseRecoveryCode(ctx, "u1", "a-00", t0, spent("u1"))), store.ErrNotFound)
	if st := recoveryStatus(t, db, "u2"); st.Left != mfa.RecoveryCodeCount {
		t.Fatalf("resetting u1 voided u2's codes: %+v", st)
	}
	events, err := db.ListEvents(ctx, audit.Filter{Type: "mfa.methods_reset"})
	if err != nil || len(events) != 1 || events[0].SubjectID != "u1" {
		t.Fatalf("the reset's audit record: %+v, %v", events, err)
	}
}

// Replacing a set and using a code each commit with their audit record:
// a record that cannot be written undoes the change.
func testRecoveryCodesAudited(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	old := recoveryHashes("old")
	must(t, db.ReplaceRecoveryCodes(ctx, "u1", old, t0, generated("u1")))
	taken := audit.Event{ID: "taken", Type: "earlier"}
	must(t, db.AppendEvent(ctx, &taken))

	refused := generated("u1")
	refused.ID = "taken"
	mustIs(t, db.ReplaceRecoveryCodes(ctx, "u1", recoveryHashes("new"), t0, refused), store.ErrAlreadyExists)
	refused = spent("u1")
	refused.ID = "taken"
	mustIs(t, err2(db.UseRecoveryCode(ctx, "u1", old[0], t0, refused)), store.ErrAlreadyExists)
	if st := recoveryStatus(t, db, "u1"); st.Left != mfa.RecoveryCodeCount {
		t.Fatalf("changes whose audit record was refused stayed: %+v", st)
	}

	must(t, err2(db.UseRecoveryCode(ctx, "u1", old[0], t0, spent("u1"))))
	events, err := db.ListEvents(ctx, audit.Filter{Type: "mfa.recovery_code_used"})
	if err != nil || len(events) != 1 || events[0].SubjectID != "u1" || events[0].Details["left"] != "9" {
		t.Fatalf("the use's audit record: %+v, %v", events, err)
	}
	if events, err := db.ListEvents(ctx, audit.Filter{Type: "mfa.recovery_codes_generated"}); err != nil || len(events) != 1 {
		t.Fatalf("the set's audit records: %+v, %v", events, err)
	}
}

func generated(userID string) audit.Event {
	return audit.Event{Type: "mfa.recovery_codes_generated", SubjectID: userID}
}

func spent(userID string) audit.Event {
	return audit.Event{Type: "mfa.recovery_code_used", SubjectID: userID}
}

// err2 drops a result, to check only the error.
func err2[T any](_ T, err error) error { return err }
