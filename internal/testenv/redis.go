// Package testenv gives each test fresh stores: SQLite and an in-process
// Redis by default, or the real PostgreSQL and Redis named by
// GATEHOUSE_TEST_POSTGRES_DSN and GATEHOUSE_TEST_REDIS_URL. A variable that is
// set but unreachable fails the test; it never skips.
package testenv

import (
	"context"
	"encoding/hex"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

// RedisEnvVar names the real Redis to test against.
const RedisEnvVar = "GATEHOUSE_TEST_REDIS_URL"

// Redis is one test's Redis: a client and a key prefix no other run uses.
type Redis struct {
	Client redis.UniversalClient
	Prefix string
	URL    string
	// Mini is the in-process server when no real Redis is configured; tests
	// that need time to pass use Mini.FastForward and skip that part on a
	// real server.
	Mini *miniredis.Miniredis
}

// NewRedis returns a Redis for t and removes every key it wrote afterwards.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	prefix := "gatehouse-test:" + hex.EncodeToString(secrets.RandomToken(6)) + ":"
	url := os.Getenv(RedisEnvVar)
	if url == "" {
		mini := miniredis.RunT(t)
		client := redis.NewClient(&redis.Options{Addr: mini.Addr()})
		t.Cleanup(func() { client.Close() })
		return &Redis{Client: client, Prefix: prefix, URL: "redis://" + mini.Addr(), Mini: mini}
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s=%q: %v", RedisEnvVar, url, err)
	}
	client := redis.NewClient(opt)
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("%s is set but Redis at %s is unreachable: %v", RedisEnvVar, opt.Addr, err)
	}
	t.Cleanup(func() {
		defer client.Close()
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleaning Redis keys %s*: %v", prefix, err)
		}
	})
	return &Redis{Client: client, Prefix: prefix, URL: url}
}

// NeedClock stops t here, saying why, when it runs against a real Redis:
// only the in-process one can move its clock. .ci/run runs the suite a
// second time on the embedded stores, where such tests run whole.
func (r *Redis) NeedClock(t testing.TB) {
	t.Helper()
	if r.Mini == nil {
		t.Skip("time-based: a real Redis's clock cannot be moved; the embedded-store pass of .ci/run runs this test whole")
	}
}
