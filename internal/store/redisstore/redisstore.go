// Package redisstore keeps Gatehouse's short-lived state in Redis: codes,
// flows, browser sessions and counters. Every key it writes has a TTL.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Options select a Redis deployment: one URL for a standalone server, or
// Addrs with MasterName (Sentinel) or without it (Cluster).
type Options struct {
	URL        string
	Addrs      []string
	MasterName string
	Username   string
	Password   string
	DB         int
	TLS        bool
}

// Connect returns a go-redis client for any of the three deployment shapes.
func Connect(o Options) (redis.UniversalClient, error) {
	if o.URL != "" {
		opt, err := redis.ParseURL(o.URL)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		// Credentials given apart (e.g. from a _FILE secret) win over the URL's.
		if o.Username != "" {
			opt.Username = o.Username
		}
		if o.Password != "" {
			opt.Password = o.Password
		}
		return redis.NewClient(opt), nil
	}
	if len(o.Addrs) == 0 {
		return nil, errors.New("redis: neither a url nor addrs given")
	}
	u := &redis.UniversalOptions{
		Addrs: o.Addrs, MasterName: o.MasterName, Username: o.Username, Password: o.Password, DB: o.DB,
	}
	if o.TLS {
		u.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return redis.NewUniversalClient(u), nil
}

// Store is a TTL-bound key/value store under one key prefix.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ store.KV = (*Store)(nil)

// New returns a Store writing keys under prefix.
func New(rdb redis.UniversalClient, prefix string) *Store { return &Store{rdb: rdb, prefix: prefix} }

func (s *Store) k(key string) string { return s.prefix + key }

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error { return unavailable(s.rdb.Ping(ctx).Err()) }

// unavailable marks a failure to get an answer from Redis, so callers tell
// it from a missing key.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redis: %w: %w", store.ErrUnavailable, err)
}

// Put writes value under key for ttl.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return unavailable(s.rdb.Set(ctx, s.k(key), value, ttl).Err())
}

// PutIfAbsent writes value only when key is free; false means it was taken.
func (s *Store) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	err := s.rdb.SetArgs(ctx, s.k(key), value, redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, unavailable(err)
}

// Get reads key; store.ErrNotFound when absent or expired.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.rdb.Get(ctx, s.k(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	return v, unavailable(err)
}

// GetTwo reads two keys in one round trip; a missing key reads as nil. The
// keys must share a hash tag so a Redis Cluster serves them from one slot.
func (s *Store) GetTwo(ctx context.Context, a, b string) ([]byte, []byte, error) {
	vals, err := s.rdb.MGet(ctx, s.k(a), s.k(b)).Result()
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return asBytes(vals[0]), asBytes(vals[1]), nil
}

func asBytes(v any) []byte {
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	return nil
}

// Delete removes keys; missing keys are not an error. Keys are deleted one by
// one in a pipeline, so they need not share a cluster slot.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, key := range keys {
			p.Del(ctx, s.k(key))
		}
		return nil
	})
	return unavailable(err)
}

// Take reads and deletes key atomically: a one-time value is used at most once.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := s.rdb.GetDel(ctx, s.k(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	return v, unavailable(err)
}

// Touch renews key's TTL; store.ErrNotFound when it is gone.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) error {
	ok, err := s.rdb.Expire(ctx, s.k(key), ttl).Result()
	if err == nil && !ok {
		return store.ErrNotFound
	}
	return unavailable(err)
}

// AddToSet adds member to the set at key and renews the set's TTL.
func (s *Store) AddToSet(ctx context.Context, key, member string, ttl time.Duration) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, s.k(key), member)
		p.Expire(ctx, s.k(key), ttl)
		return nil
	})
	return unavailable(err)
}

// TakeSet returns the members of the set at key and deletes it.
func (s *Store) TakeSet(ctx context.Context, key string) ([]string, error) {
	var members *redis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		members = p.SMembers(ctx, s.k(key))
		p.Del(ctx, s.k(key))
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return members.Val(), nil
}

// SetMembers returns the members of the set at key.
func (s *Store) SetMembers(ctx context.Context, key string) ([]string, error) {
	members, err := s.rdb.SMembers(ctx, s.k(key)).Result()
	return members, unavailable(err)
}

// RemoveFromSet removes members from the set at key.
func (s *Store) RemoveFromSet(ctx context.Context, key string, members ...string) error {
	if len(members) == 0 {
		return nil
	}
	return unavailable(s.rdb.SRem(ctx, s.k(key), members).Err())
}

// incrScript increments a counter and starts its window on the first hit, in
// one round trip, so a crash between INCR and EXPIRE cannot leave a counter
// without a TTL.
var incrScript = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)

// Incr counts one hit in a fixed window starting at the first hit.
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	n, err := incrScript.Run(ctx, s.rdb, []string{s.k(key)}, window.Milliseconds()).Int64()
	return n, unavailable(err)
}

// TTL returns the time left on key (0 when it has none or is absent).
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := s.rdb.PTTL(ctx, s.k(key)).Result()
	if err != nil || d < 0 {
		return 0, unavailable(err)
	}
	return d, nil
}
