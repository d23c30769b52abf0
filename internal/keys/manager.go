package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

// Supported signing algorithms. RS256 is the one every OpenID Connect
// relying party must accept; ES256 signs about 35 times faster and is what
// an app can register for (id_token_signed_response_alg) when its library
// supports it.
var Supported = []string{"RS256", "ES256"}

// Options configure a Manager.
type Options struct {
	// Algorithms the manager keeps a signing key for, each from Supported;
	// the first signs for clients that do not choose.
	Algorithms []string
	RSABits    int
	// Refresh is how often each replica reloads keys. A new key is published
	// for two refresh periods before it signs, so every replica's JWKS has it
	// before any token signed with it exists.
	Refresh time.Duration
	// Retention is how long a retired key stays in the JWKS: the longest a
	// token it signed can live.
	Retention time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
}

// Manager holds the signing keys in memory and keeps them in step with the
// database, so every replica signs and publishes the same keys.
type Manager struct {
	store Store
	box   *secrets.Box
	opt   Options

	mu     sync.RWMutex
	loaded []loadedKey // newest first
}

type loadedKey struct {
	SigningKey
	private crypto.Signer
}

// Signing is the key to sign with right now.
type Signing struct {
	ID        string
	Algorithm string
	Private   crypto.Signer
}

// NewManager returns a Manager; call Load before use.
func NewManager(st Store, box *secrets.Box, opt Options) *Manager {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Manager{store: st, box: box, opt: opt}
}

func (m *Manager) activationDelay() time.Duration { return 2 * m.opt.Refresh }

// Load reads the keys from storage and creates a key for each algorithm
// that has none. On an empty database the first keys are back-dated so they
// sign at once; a key for an algorithm added later is published first, like
// a rotation.
func (m *Manager) Load(ctx context.Context) error {
	if err := m.reload(ctx); err != nil {
		return err
	}
	m.mu.RLock()
	empty := len(m.loaded) == 0
	have := map[string]bool{}
	for _, k := range m.loaded {
		have[k.Algorithm] = true
	}
	m.mu.RUnlock()
	createdAt := m.opt.Now()
	if empty {
		createdAt = createdAt.Add(-m.activationDelay())
	}
	created := false
	for _, alg := range m.opt.Algorithms {
		if have[alg] {
			continue
		}
		if _, err := m.create(ctx, alg, createdAt); err != nil {
			return err
		}
		created = true
	}
	if !created {
		return nil
	}
	return m.reload(ctx)
}

func (m *Manager) reload(ctx context.Context) error {
	stored, err := m.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	m.mu.RLock()
	known := map[string]loadedKey{}
	for _, k := range m.loaded {
		known[k.ID] = k
	}
	m.mu.RUnlock()
	loaded := make([]loadedKey, 0, len(stored))
	for _, sk := range stored {
		if k, ok := known[sk.ID]; ok {
			k.SigningKey = sk
			loaded = append(loaded, k)
			continue
		}
		der, err := m.box.Open(sk.Sealed, []byte(sk.ID))
		if err != nil {
			return fmt.Errorf("signing key %s: %w", sk.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", sk.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return fmt.Errorf("signing key %s: unsupported key type %T", sk.ID, priv)
		}
		loaded = append(loaded, loadedKey{SigningKey: sk, private: signer})
	}
	m.mu.Lock()
	m.loaded = loaded
	m.mu.Unlock()
	return nil
}

func (m *Manager) create(ctx context.Context, alg string, createdAt time.Time) (*SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, m.opt.RSABits)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	id := hex.EncodeToString(secrets.RandomToken(8))
	k := &SigningKey{ID: id, Algorithm: alg, Sealed: m.box.Seal(der, []byte(id)), CreatedAt: createdAt.UTC()}
	if err := m.store.CreateKey(ctx, k); err != nil {
		return nil, fmt.Errorf("storing signing key: %w", err)
	}
	return k, nil
}

// Rotate creates a new key for each algorithm. Each is published at once and
// starts signing after the activation delay; the keys of its algorithm
// before it are retired from that moment and stay published for the
// retention period.
func (m *Manager) Rotate(ctx context.Context) ([]SigningKey, error) {
	now := m.opt.Now()
	created := make([]SigningKey, 0, len(m.opt.Algorithms))
	for _, alg := range m.opt.Algorithms {
		k, err := m.create(ctx, alg, now)
		if err != nil {
			return nil, err
		}
		if err := m.store.RetireKeys(ctx, alg, k.ID, now.Add(m.activationDelay())); err != nil {
			return nil, err
		}
		created = append(created, *k)
	}
	return created, m.reload(ctx)
}

// DefaultAlgorithm signs for clients that do not choose one.
func (m *Manager) DefaultAlgorithm() string { return m.opt.Algorithms[0] }

// Signing returns the key of alg ("": the default) that signs now: the
// newest past its activation delay and not yet retired.
func (m *Manager) Signing(alg string) (Signing, error) {
	if alg == "" {
		alg = m.DefaultAlgorithm()
	}
	now := m.opt.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	var newest *loadedKey
	for i, k := range m.loaded {
		if k.Algorithm != alg {
			continue
		}
		if newest == nil {
			newest = &m.loaded[i]
		}
		if now.Before(k.CreatedAt.Add(m.activationDelay())) {
			continue
		}
		if k.RetiredAt != nil && !now.Before(*k.RetiredAt) {
			continue
		}
		return Signing{ID: k.ID, Algorithm: k.Algorithm, Private: k.private}, nil
	}
	// None active: a replica whose clock ran ahead retired everything, or
	// the algorithm was just added. Sign with its newest key rather than fail
	// sign-ins.
	if newest != nil {
		return Signing{ID: newest.ID, Algorithm: newest.Algorithm, Private: newest.private}, nil
	}
	return Signing{}, fmt.Errorf("no %s signing key loaded", alg)
}

func (m *Manager) published(k loadedKey, now time.Time) bool {
	return k.RetiredAt == nil || now.Before(k.RetiredAt.Add(m.opt.Retention))
}

// JWKS is the published key set: the active key, keys about to become
// active, and retired keys whose tokens may still be alive.
func (m *Manager) JWKS() jose.JSONWebKeySet {
	now := m.opt.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	var set jose.JSONWebKeySet
	for _, k := range m.loaded {
		if m.published(k, now) {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.private.Public(), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"})
		}
	}
	return set
}

// PublicKey returns a published key by kid, reloading once when the kid is
// unknown (another replica may have just rotated).
func (m *Manager) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	if pub := m.lookup(kid); pub != nil {
		return pub, nil
	}
	if err := m.reload(ctx); err != nil {
		return nil, err
	}
	if pub := m.lookup(kid); pub != nil {
		return pub, nil
	}
	return nil, fmt.Errorf("unknown signing key %q", kid)
}

func (m *Manager) lookup(kid string) crypto.PublicKey {
	now := m.opt.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range m.loaded {
		if k.ID == kid && m.published(k, now) {
			return k.private.Public()
		}
	}
	return nil
}

// Status describes one key for `gatehouse keys list`.
type Status struct {
	ID, Algorithm, State string
	CreatedAt            time.Time
	RetiredAt            *time.Time
}

// List reloads and describes every stored key.
func (m *Manager) List(ctx context.Context) ([]Status, error) {
	if err := m.reload(ctx); err != nil {
		return nil, err
	}
	signing := map[string]bool{}
	for _, alg := range m.opt.Algorithms {
		if s, err := m.Signing(alg); err == nil {
			signing[s.ID] = true
		}
	}
	now := m.opt.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Status, 0, len(m.loaded))
	for _, k := range m.loaded {
		state := "retired (published)"
		switch {
		case signing[k.ID]:
			state = "active"
		case k.RetiredAt == nil:
			state = "pending"
		case !m.published(k, now):
			state = "expired"
		}
		out = append(out, Status{ID: k.ID, Algorithm: k.Algorithm, State: state, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt})
	}
	return out, nil
}

// Run reloads keys every refresh period and deletes keys past retention,
// until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.opt.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := m.store.DeleteKeysRetiredBefore(ctx, m.opt.Now().Add(-m.opt.Retention)); err != nil {
				m.opt.Logger.Error("pruning signing keys", "err", err)
			} else if n > 0 {
				m.opt.Logger.Info("pruned expired signing keys", "count", n)
			}
			if err := m.reload(ctx); err != nil {
				m.opt.Logger.Error("reloading signing keys", "err", err)
			}
		}
	}
}
