package store

import (
	"context"
	"time"
)

// KV is the short-lived, TTL-bound store (Redis) shared by every replica:
// sign-in flows, browser and console sessions, one-time codes, counters and
// used markers. Every key it writes expires. A read of an absent or expired
// key is ErrNotFound; a store that gives no answer returns an error that
// Unavailable recognises. internal/store/kvtest is its contract.
type KV interface {
	// Put writes value under key for ttl, replacing any value there.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// PutIfAbsent writes value only when key is free; false means it was
	// taken. Of racing callers exactly one gets true: a "used" marker.
	PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	Get(ctx context.Context, key string) ([]byte, error)
	// GetTwo reads two keys at once; an absent key reads as nil. The keys
	// must share a hash tag ("{tag}a", "{tag}b") for Redis Cluster.
	GetTwo(ctx context.Context, a, b string) ([]byte, []byte, error)
	// Delete removes keys; absent keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// Take reads and deletes key at once: of racing callers, one gets the
	// value and the others ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// Touch renews key's TTL; ErrNotFound when it is gone.
	Touch(ctx context.Context, key string, ttl time.Duration) error
	// Incr counts one hit in a fixed window that starts at the first hit
	// and does not slide.
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	// TTL is the time left on key, 0 when it is absent.
	TTL(ctx context.Context, key string) (time.Duration, error)
	// AddToSet adds member to the set at key and renews the set's TTL.
	AddToSet(ctx context.Context, key, member string, ttl time.Duration) error
	SetMembers(ctx context.Context, key string) ([]string, error)
	RemoveFromSet(ctx context.Context, key string, members ...string) error
	// TakeSet returns the set's members and deletes it at once.
	TakeSet(ctx context.Context, key string) ([]string, error)
}
