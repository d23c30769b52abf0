package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

func newToken(sig, requestID, subject string, expires time.Time) oauth.RefreshToken {
	return oauth.RefreshToken{
		Signature: sig, RequestID: requestID, ClientID: "app", Subject: subject,
		AccessSignature: "at-" + sig, Active: true, RequestedAt: t0, ExpiresAt: expires,
		Data: []byte("sealed request " + sig),
	}
}

func testRefreshTokens(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)

	tok := newToken("s1", "r1", "alice", t0.Add(time.Hour))
	if err := db.CreateRefreshToken(ctx, &tok); err != nil {
		t.Fatal(err)
	}
	dup := newToken("s1", "r2", "bob", t0)
	mustIs(t, db.CreateRefreshToken(ctx, &dup), store.ErrAlreadyExists)

	got, err := db.GetRefreshToken(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, *got, tok)

	before := time.Now()
	if err := db.DeactivateRefreshToken(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	mustIs(t, db.DeactivateRefreshToken(ctx, "s1"), store.ErrConflict)
	mustIs(t, db.DeactivateRefreshToken(ctx, "missing"), store.ErrNotFound)

	// An inactive token is still returned, so reuse can be detected.
	got, err = db.GetRefreshToken(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.RotatedAt == nil || got.RotatedAt.Before(before.Add(-time.Millisecond)) || got.RotatedAt.After(time.Now()) {
		t.Fatalf("RotatedAt = %v, want the time of the rotation", got.RotatedAt)
	}
	tok.Active, tok.RotatedAt = false, got.RotatedAt
	mustEqual(t, *got, tok)

	if err := db.DeleteRefreshToken(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	_, err = db.GetRefreshToken(ctx, "s1")
	mustIs(t, err, store.ErrNotFound)
	mustIs(t, db.DeleteRefreshToken(ctx, "s1"), store.ErrNotFound)
}

// TestDeactivateRefreshTokenRace checks that of many concurrent refreshes
// with one token exactly one wins.
func testDeactivateRefreshTokenRace(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	tok := newToken("s1", "r1", "alice", t0.Add(time.Hour))
	if err := db.CreateRefreshToken(ctx, &tok); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = db.DeactivateRefreshToken(ctx, "s1") })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		default:
			mustIs(t, err, store.ErrConflict)
		}
	}
	if wins != 1 {
		t.Fatalf("%d deactivations succeeded, want 1", wins)
	}
}

func testRevokeAndExpire(t *testing.T, b Backend) {
	ctx := t.Context()
	tests := []struct {
		name   string
		revoke func(oauth.GrantStore) error
		left   []string
	}{
		{"revoke grant removes every rotation", func(db oauth.GrantStore) error { return db.RevokeGrant(ctx, "r1") }, []string{"s3", "s4"}},
		{"revoke subject removes every grant", func(db oauth.GrantStore) error { return db.RevokeSubject(ctx, "alice") }, []string{"s4"}},
		{"revoking an unknown grant is not an error", func(db oauth.GrantStore) error { return db.RevokeGrant(ctx, "nope") }, []string{"s1", "s2", "s3", "s4"}},
		{"revoking an unknown subject is not an error", func(db oauth.GrantStore) error { return db.RevokeSubject(ctx, "nope") }, []string{"s1", "s2", "s3", "s4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := b.New(t)
			for _, tok := range []oauth.RefreshToken{
				newToken("s1", "r1", "alice", t0.Add(time.Hour)),
				newToken("s2", "r1", "alice", t0.Add(2*time.Hour)),
				newToken("s3", "r2", "alice", t0.Add(3*time.Hour)),
				newToken("s4", "r3", "bob", t0.Add(4*time.Hour)),
			} {
				if err := db.CreateRefreshToken(ctx, &tok); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.revoke(db); err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, sig := range []string{"s1", "s2", "s3", "s4"} {
				if _, err := db.GetRefreshToken(ctx, sig); err == nil {
					left = append(left, sig)
				} else {
					mustIs(t, err, store.ErrNotFound)
				}
			}
			mustEqual(t, left, tt.left)
		})
	}

	t.Run("delete expired", func(t *testing.T) {
		db := b.New(t)
		for i, sig := range []string{"s1", "s2", "s3"} {
			tok := newToken(sig, sig, "alice", t0.Add(time.Duration(i)*time.Hour))
			if err := db.CreateRefreshToken(ctx, &tok); err != nil {
				t.Fatal(err)
			}
		}
		// s2 expires exactly at the cut-off and stays.
		n, err := db.DeleteExpiredRefreshTokens(ctx, t0.Add(time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpiredRefreshTokens = %d, %v; want 1", n, err)
		}
		_, err = db.GetRefreshToken(ctx, "s1")
		mustIs(t, err, store.ErrNotFound)
		if _, err := db.GetRefreshToken(ctx, "s2"); err != nil {
			t.Fatal(err)
		}
	})
}

// InTransaction commits fn's writes together, or none of them.
func testGrantTransaction(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	old := newToken("s1", "r1", "alice", t0.Add(time.Hour))
	must(t, db.CreateRefreshToken(ctx, &old))

	// A rotation that fails after its first write leaves the old token as
	// it was.
	refused := errors.New("refused")
	err := db.InTransaction(ctx, func(tx oauth.GrantStore) error {
		if err := tx.DeactivateRefreshToken(ctx, "s1"); err != nil {
			return err
		}
		next := newToken("s2", "r1", "alice", t0.Add(2*time.Hour))
		if err := tx.CreateRefreshToken(ctx, &next); err != nil {
			return err
		}
		if got, err := tx.GetRefreshToken(ctx, "s2"); err != nil || got.Signature != "s2" {
			t.Errorf("the transaction does not see its own write: %+v, %v", got, err)
		}
		return refused
	})
	mustIs(t, err, refused)
	got, err := db.GetRefreshToken(ctx, "s1")
	if err != nil || !got.Active || got.RotatedAt != nil {
		t.Fatalf("rolled-back rotation left s1 %+v, %v", got, err)
	}
	_, err = db.GetRefreshToken(ctx, "s2")
	mustIs(t, err, store.ErrNotFound)

	// A store error inside is returned as it is: a conflict stays a
	// conflict, and rolls back too.
	must(t, db.DeactivateRefreshToken(ctx, "s1"))
	err = db.InTransaction(ctx, func(tx oauth.GrantStore) error {
		next := newToken("s3", "r1", "alice", t0.Add(2*time.Hour))
		if err := tx.CreateRefreshToken(ctx, &next); err != nil {
			return err
		}
		return tx.DeactivateRefreshToken(ctx, "s1")
	})
	mustIs(t, err, store.ErrConflict)
	_, err = db.GetRefreshToken(ctx, "s3")
	mustIs(t, err, store.ErrNotFound)

	err = db.InTransaction(ctx, func(tx oauth.GrantStore) error {
		next := newToken("s4", "r1", "alice", t0.Add(2*time.Hour))
		return tx.CreateRefreshToken(ctx, &next)
	})
	must(t, err)
	if _, err := db.GetRefreshToken(ctx, "s4"); err != nil {
		t.Fatalf("committed write: %v", err)
	}
}
