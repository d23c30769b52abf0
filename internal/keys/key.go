// Package keys owns the signing keys for ID tokens: generation, rotation,
// encryption at rest and the published JWKS.
package keys

import (
	"context"
	"time"
)

// SigningKey is one stored key. The private key is sealed (AES-GCM) before
// it reaches storage.
type SigningKey struct {
	ID        string // the JWK "kid"
	Algorithm string // RS256 or ES256
	Sealed    []byte // the sealed PKCS#8 DER private key
	CreatedAt time.Time
	RetiredAt *time.Time // nil while the key is the active (or a candidate active) key
}

// Store is what the key manager needs from persistent storage.
type Store interface {
	CreateKey(ctx context.Context, k *SigningKey) error
	// ListKeys returns every stored key, newest first.
	ListKeys(ctx context.Context) ([]SigningKey, error)
	// RetireKeys marks every key of algorithm except keepID retired at the
	// given time (keys already retired keep their original time).
	RetireKeys(ctx context.Context, algorithm, keepID string, at time.Time) error
	// DeleteKeysRetiredBefore removes keys no token can still be verified with.
	DeleteKeysRetiredBefore(ctx context.Context, t time.Time) (int64, error)
}
