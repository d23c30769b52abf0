package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/store"
)

func testKeys(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)

	if list, err := db.ListKeys(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListKeys on empty store = %v, %v", list, err)
	}
	oldRetired := t0.UTC().Truncate(time.Microsecond)
	k1 := keys.SigningKey{ID: "k1", Algorithm: "RS256", Sealed: []byte("sealed-1"), CreatedAt: t0, RetiredAt: &oldRetired}
	k2 := keys.SigningKey{ID: "k2", Algorithm: "ES256", Sealed: []byte("sealed-2"), CreatedAt: t0.Add(time.Hour)}
	k3 := keys.SigningKey{ID: "k3", Algorithm: "ES256", Sealed: []byte("sealed-3"), CreatedAt: t0.Add(2 * time.Hour)}
	k4 := keys.SigningKey{ID: "k4", Algorithm: "RS256", Sealed: []byte("sealed-4"), CreatedAt: t0.Add(30 * time.Minute)}
	for _, k := range []*keys.SigningKey{&k1, &k2, &k3, &k4} {
		if err := db.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	dup := keys.SigningKey{ID: "k1", Algorithm: "RS256", Sealed: []byte("x")}
	mustIs(t, db.CreateKey(ctx, &dup), store.ErrAlreadyExists)

	list, err := db.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, list, []keys.SigningKey{k3, k2, k4, k1})

	// Retiring the ES256 keys keeps keepID, the RS256 key k4 unretired and
	// k1's original retirement time.
	at := t0.Add(3 * time.Hour)
	if err := db.RetireKeys(ctx, "ES256", "k3", at); err != nil {
		t.Fatal(err)
	}
	list, _ = db.ListKeys(ctx)
	atUTC := at.UTC().Truncate(time.Microsecond)
	k2.RetiredAt = &atUTC
	mustEqual(t, list, []keys.SigningKey{k3, k2, k4, k1})

	tests := []struct {
		name   string
		before time.Time
		want   int64
		left   []string
	}{
		{"nothing retired that early", oldRetired, 0, []string{"k3", "k2", "k4", "k1"}},
		{"only k1", oldRetired.Add(time.Microsecond), 1, []string{"k3", "k2", "k4"}},
		{"never the unretired keys", t0.Add(100 * time.Hour), 1, []string{"k3", "k4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := db.DeleteKeysRetiredBefore(ctx, tt.before)
			if err != nil || n != tt.want {
				t.Fatalf("DeleteKeysRetiredBefore = %d, %v; want %d", n, err, tt.want)
			}
			list, _ := db.ListKeys(ctx)
			var ids []string
			for _, k := range list {
				ids = append(ids, k.ID)
			}
			mustEqual(t, ids, tt.left)
		})
	}
}
