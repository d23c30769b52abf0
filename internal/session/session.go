// Package session names where browser sessions live in Redis, and ends all
// of a person's sessions at once (a password reset, a Help Desk revoke).
package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Key is the storage key of the session a cookie token names; only a hash
// of the token is stored.
func Key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "session:" + hex.EncodeToString(sum[:])
}

// IndexKey is the set of a person's session keys.
func IndexKey(userID string) string { return "user-sessions:" + userID }

// Revoker ends sessions.
type Revoker struct {
	KV       store.KV
	Lifetime time.Duration // how long the index of a kept session lives
}

// RevokeAll ends every session of a person except keep (a session key, or
// "" to end them all), on every browser.
func (r Revoker) RevokeAll(ctx context.Context, userID, keep string) error {
	keys, err := r.KV.TakeSet(ctx, IndexKey(userID))
	if err != nil {
		return err
	}
	var drop []string
	for _, k := range keys {
		if k != keep {
			drop = append(drop, k)
		}
	}
	if err := r.KV.Delete(ctx, drop...); err != nil {
		return err
	}
	if keep != "" {
		return r.KV.AddToSet(ctx, IndexKey(userID), keep, r.Lifetime)
	}
	return nil
}
