package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

// fakeStore is an in-memory Store shared by "replicas" in a test.
type fakeStore struct {
	mu   sync.Mutex
	keys []SigningKey
}

func copyKey(k SigningKey) SigningKey {
	k.Sealed = slices.Clone(k.Sealed)
	if k.RetiredAt != nil {
		t := *k.RetiredAt
		k.RetiredAt = &t
	}
	return k
}

func (f *fakeStore) CreateKey(_ context.Context, k *SigningKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, copyKey(*k))
	return nil
}

func (f *fakeStore) ListKeys(context.Context) ([]SigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]SigningKey, 0, len(f.keys))
	for _, k := range f.keys {
		out = append(out, copyKey(k))
	}
	slices.SortFunc(out, func(a, b SigningKey) int { // newest first
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

func (f *fakeStore) RetireKeys(_ context.Context, algorithm, keepID string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.keys {
		if f.keys[i].Algorithm == algorithm && f.keys[i].ID != keepID && f.keys[i].RetiredAt == nil {
			t := at
			f.keys[i].RetiredAt = &t
		}
	}
	return nil
}

func (f *fakeStore) DeleteKeysRetiredBefore(_ context.Context, t time.Time) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	f.keys = slices.DeleteFunc(f.keys, func(k SigningKey) bool {
		if k.RetiredAt != nil && k.RetiredAt.Before(t) {
			n++
			return true
		}
		return false
	})
	return n, nil
}

// clock is a fake time source moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	refresh   = time.Minute
	retention = time.Hour
)

func newBox(t *testing.T) *secrets.Box {
	t.Helper()
	b, err := secrets.NewBox(secrets.RandomToken(secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newManager(st Store, box *secrets.Box, clk *clock, algs ...string) *Manager {
	return NewManager(st, box, Options{
		Algorithms: algs, RSABits: 2048, Refresh: refresh, Retention: retention, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func signingID(t *testing.T, m *Manager) string {
	t.Helper()
	s, err := m.Signing("")
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func jwksIDs(m *Manager) []string {
	var ids []string
	for _, k := range m.JWKS().Keys {
		ids = append(ids, k.KeyID)
	}
	slices.Sort(ids)
	return ids
}

// checkSigns signs with the active key and verifies with the published one.
func checkSigns(t *testing.T, m *Manager) {
	t.Helper()
	s, err := m.Signing("")
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("id token"))
	pub, err := m.PublicKey(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	switch priv := s.Private.(type) {
	case *ecdsa.PrivateKey:
		sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
		if err != nil || !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
			t.Fatalf("ES256 signature does not verify: %v", err)
		}
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:])
		if err != nil || rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("RS256 signature does not verify: %v", err)
		}
	default:
		t.Fatalf("unexpected key type %T", s.Private)
	}
}

func TestLoadCreatesFirstKey(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			ctx := context.Background()
			st := &fakeStore{}
			clk := &clock{t: time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)}
			m := newManager(st, newBox(t), clk, alg)
			if err := m.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if len(st.keys) != 1 {
				t.Fatalf("%d keys stored, want 1", len(st.keys))
			}
			s, err := m.Signing("")
			if err != nil || s.ID != st.keys[0].ID || s.Algorithm != alg {
				t.Fatalf("Signing = %+v, %v", s, err)
			}
			checkSigns(t, m)
			set := m.JWKS()
			if len(set.Keys) != 1 {
				t.Fatalf("JWKS has %d keys", len(set.Keys))
			}
			k := set.Keys[0]
			if k.KeyID != s.ID || k.Algorithm != alg || k.Use != "sig" || !k.IsPublic() || !k.Valid() {
				t.Fatalf("JWK = kid %q alg %q use %q public %v", k.KeyID, k.Algorithm, k.Use, k.IsPublic())
			}
			// The private key is sealed at rest.
			if der := st.keys[0].Sealed; len(der) == 0 {
				t.Fatal("no sealed key stored")
			}
			// Loading again does not add a key.
			if err := m.Load(ctx); err != nil || len(st.keys) != 1 {
				t.Fatalf("second Load: %d keys, %v", len(st.keys), err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{}
	clk := &clock{t: time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)}
	box := newBox(t)
	m := newManager(st, box, clk, "ES256")
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	old := signingID(t, m)
	clk.Advance(10 * time.Minute)

	rotated, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k := rotated[0]
	both := []string{old, k.ID}
	slices.Sort(both)
	if got := jwksIDs(m); !slices.Equal(got, both) {
		t.Fatalf("after Rotate JWKS = %v, want %v", got, both)
	}
	if _, err := m.PublicKey(ctx, k.ID); err != nil {
		t.Fatalf("new key not published: %v", err)
	}
	if list, err := m.List(ctx); err != nil || len(list) != 2 || list[0].State != "pending" || list[1].State != "active" {
		t.Fatalf("List = %+v, %v", list, err)
	}

	steps := []struct {
		advance time.Duration
		signer  string
		jwks    []string
	}{
		{0, old, both},
		{2*refresh - time.Second, old, both},
		{time.Second, k.ID, both}, // exactly 2×Refresh after the rotation
		{retention - time.Second, k.ID, both},
		{time.Second, k.ID, []string{k.ID}}, // retired + Retention
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if got := signingID(t, m); got != s.signer {
			t.Errorf("step %d: signing with %s, want %s", i, got, s.signer)
		}
		if got := jwksIDs(m); !slices.Equal(got, s.jwks) {
			t.Errorf("step %d: JWKS %v, want %v", i, got, s.jwks)
		}
	}
	if _, err := m.PublicKey(ctx, old); err == nil {
		t.Error("a key past retention is still served by PublicKey")
	}
	if list, _ := m.List(ctx); len(list) != 2 || list[1].State != "expired" {
		t.Errorf("List = %+v", list)
	}
	checkSigns(t, m)
}

func TestReplicaSeesRotation(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{}
	clk := &clock{t: time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)}
	box := newBox(t)
	a, b := newManager(st, box, clk, "ES256"), newManager(st, box, clk, "ES256")
	if err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if signingID(t, a) != signingID(t, b) || len(st.keys) != 1 {
		t.Fatal("replicas disagree on the first key")
	}
	rotated, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k := rotated[0]
	// b has not reloaded, but PublicKey reloads once for an unknown kid.
	if _, err := b.PublicKey(ctx, k.ID); err != nil {
		t.Fatalf("replica cannot find the new key: %v", err)
	}
	clk.Advance(2 * refresh)
	if signingID(t, a) != k.ID || signingID(t, b) != k.ID {
		t.Fatal("replicas do not both sign with the new key")
	}
}

func TestPublicKeyUnknown(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	m := newManager(&fakeStore{}, newBox(t), clk, "ES256")
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"", "nope", strings.Repeat("0", 16)} {
		if pub, err := m.PublicKey(ctx, kid); err == nil || pub != nil {
			t.Errorf("PublicKey(%q) = %v, %v", kid, pub, err)
		}
	}
}

func TestLoadWithOtherBoxFails(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{}
	clk := &clock{t: time.Now()}
	if err := newManager(st, newBox(t), clk, "ES256").Load(ctx); err != nil {
		t.Fatal(err)
	}
	m := newManager(st, newBox(t), clk, "ES256")
	err := m.Load(ctx)
	if !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("Load with another master key = %v, want ErrOpen", err)
	}
	if _, err := m.Signing(""); err == nil {
		t.Fatal("a manager that failed to load still signs")
	}
	if len(st.keys) != 1 {
		t.Fatalf("failed Load stored %d keys", len(st.keys))
	}
}

func TestSealedKeyBoundToID(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{}
	clk := &clock{t: time.Now()}
	box := newBox(t)
	if err := newManager(st, box, clk, "ES256").Load(ctx); err != nil {
		t.Fatal(err)
	}
	st.keys[0].ID = "swapped"
	if err := newManager(st, box, clk, "ES256").Load(ctx); !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("a sealed key opened under another kid: %v", err)
	}
}

func TestUnsupportedAlgorithm(t *testing.T) {
	m := newManager(&fakeStore{}, newBox(t), &clock{t: time.Now()}, "HS256")
	if err := m.Load(context.Background()); err == nil {
		t.Fatal("Load with HS256 succeeded")
	}
}

func TestSigningWithNoKeys(t *testing.T) {
	m := newManager(&fakeStore{}, newBox(t), &clock{t: time.Now()}, "ES256")
	if _, err := m.Signing(""); err == nil {
		t.Fatal("Signing before Load succeeded")
	}
	if set := m.JWKS(); len(set.Keys) != 0 {
		t.Fatal("JWKS before Load is not empty")
	}
}

// TestKeyPerAlgorithm: one signing key per algorithm, each rotated and
// retired on its own, all published; an algorithm added to a running
// deployment gets a key that is published before it becomes the active one.
func TestKeyPerAlgorithm(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{}
	clk := &clock{t: time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)}
	box := newBox(t)
	rsOnly := newManager(st, box, clk, "RS256")
	if err := rsOnly.Load(ctx); err != nil {
		t.Fatal(err)
	}
	m := newManager(st, box, clk, "RS256", "ES256")
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if len(st.keys) != 2 || len(m.JWKS().Keys) != 2 {
		t.Fatalf("after adding ES256: %d stored keys, %d published", len(st.keys), len(m.JWKS().Keys))
	}
	if list, _ := m.List(ctx); list[0].Algorithm != "ES256" || list[0].State != "active" {
		t.Fatalf("a new algorithm's only key signs at once, and is listed so: %+v", list)
	}
	for _, alg := range []string{"", "RS256", "ES256"} {
		s, err := m.Signing(alg)
		want := alg
		if want == "" {
			want = "RS256"
		}
		if err != nil || s.Algorithm != want {
			t.Fatalf("Signing(%q) = %s, %v", alg, s.Algorithm, err)
		}
		if _, isEC := s.Private.(*ecdsa.PrivateKey); isEC != (want == "ES256") {
			t.Fatalf("Signing(%q) key is %T", alg, s.Private)
		}
	}
	if _, err := m.Signing("PS256"); err == nil {
		t.Fatal("Signing with an algorithm without keys succeeded")
	}

	rsBefore, _ := m.Signing("RS256")
	esBefore, _ := m.Signing("ES256")
	rotated, err := m.Rotate(ctx)
	if err != nil || len(rotated) != 2 || rotated[0].Algorithm != "RS256" || rotated[1].Algorithm != "ES256" {
		t.Fatalf("Rotate = %+v, %v", rotated, err)
	}
	if len(m.JWKS().Keys) != 4 {
		t.Fatalf("after Rotate %d keys published, want 4", len(m.JWKS().Keys))
	}
	clk.Advance(2 * refresh)
	rsAfter, _ := m.Signing("RS256")
	esAfter, _ := m.Signing("ES256")
	if rsAfter.ID != rotated[0].ID || esAfter.ID != rotated[1].ID || rsAfter.ID == rsBefore.ID || esAfter.ID == esBefore.ID {
		t.Fatalf("after the activation delay: RS256 %s (was %s), ES256 %s (was %s), rotated %+v",
			rsAfter.ID, rsBefore.ID, esAfter.ID, esBefore.ID, rotated)
	}
}
