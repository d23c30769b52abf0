package oauth

import (
	"context"
	"time"
)

// RefreshToken is a durable grant: it must survive restarts, so it lives in
// the database, not in Redis. Only the token's HMAC signature is stored.
type RefreshToken struct {
	Signature       string
	RequestID       string // shared by every token of one grant, across rotations
	ClientID        string
	Subject         string
	AccessSignature string
	Active          bool // false once rotated; kept until expiry to detect reuse
	RequestedAt     time.Time
	ExpiresAt       time.Time
	RotatedAt       *time.Time // when it was rotated, if it was
	Data            []byte     // the sealed, serialized fosite request
}

// GrantStore keeps refresh-token grants.
type GrantStore interface {
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	GetRefreshToken(ctx context.Context, signature string) (*RefreshToken, error)
	// DeactivateRefreshToken flips Active from true to false, stamping
	// RotatedAt, and returns
	// store.ErrConflict when the token was already inactive, so two
	// concurrent refreshes with one token cannot both succeed.
	DeactivateRefreshToken(ctx context.Context, signature string) error
	DeleteRefreshToken(ctx context.Context, signature string) error
	// RevokeGrant deletes every refresh token of one grant.
	RevokeGrant(ctx context.Context, requestID string) error
	// RevokeSubject deletes every refresh token issued to a user.
	RevokeSubject(ctx context.Context, subject string) error
	DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int64, error)
	// InTransaction runs fn's writes in one transaction, committed when fn
	// returns nil and rolled back otherwise.
	InTransaction(ctx context.Context, fn func(GrantStore) error) error
}
