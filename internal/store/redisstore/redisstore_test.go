package redisstore_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/kvtest"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// The store.KV contract runs on the test Redis (the in-process one, or the
// real server named by GATEHOUSE_TEST_REDIS_URL) and on the embedded server
// of the no-services default, through the same client code as production.
func TestKVContract(t *testing.T) {
	r := testenv.NewRedis(t)
	name, pass, tick := "redis", func(_ *testing.T, d time.Duration) { time.Sleep(d) }, time.Duration(0)
	if r.Mini != nil {
		name, pass = "miniredis", func(_ *testing.T, d time.Duration) { r.Mini.FastForward(d) }
	}
	t.Run(name, func(t *testing.T) {
		kvtest.Run(t, kvtest.Backend{
			New:  func(t *testing.T) store.KV { return redisstore.New(r.Client, r.Prefix+t.Name()+":") },
			Pass: pass,
			Tick: tick,
			Down: down,
		})
	})

	t.Run("embedded", func(t *testing.T) {
		e, err := redisstore.StartEmbedded()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		rdb, err := redisstore.Connect(redisstore.Options{URL: e.URL()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		kvtest.Run(t, kvtest.Backend{
			New: func(t *testing.T) store.KV { return redisstore.New(rdb, t.Name()+":") },
			// Moved on top of its own ticker, which may expire a key up
			// to one tick early.
			Pass: func(_ *testing.T, d time.Duration) { e.Server().FastForward(d) },
			Tick: time.Second,
			Down: down,
		})
	})
}

// down returns a store on an address where nothing listens.
func down(t *testing.T) store.KV {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// No retries: the answer is the same, only later.
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	return redisstore.New(rdb, "down:")
}

func newStore(t *testing.T) (*redisstore.Store, *testenv.Redis) {
	t.Helper()
	r := testenv.NewRedis(t)
	return redisstore.New(r.Client, r.Prefix), r
}

func TestPrefixIsolation(t *testing.T) {
	ctx := context.Background()
	r := testenv.NewRedis(t)
	a := redisstore.New(r.Client, r.Prefix+"a:")
	b := redisstore.New(r.Client, r.Prefix+"b:")
	if err := a.Put(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a key leaked across prefixes: %v", err)
	}
	if n, err := r.Client.Exists(ctx, r.Prefix+"a:k").Result(); err != nil || n != 1 {
		t.Fatalf("key not stored under its prefix: %d, %v", n, err)
	}
}

// Every key the store writes must carry a TTL.
func TestEveryKeyHasTTL(t *testing.T) {
	ctx := context.Background()
	s, r := newStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Put(ctx, "put", []byte("v"), time.Minute))
	_, err := s.PutIfAbsent(ctx, "nx", []byte("v"), time.Minute)
	must(err)
	must(s.AddToSet(ctx, "set", "m", time.Minute))
	_, err = s.Incr(ctx, "ctr", time.Minute)
	must(err)
	_, err = s.Incr(ctx, "ctr", time.Minute)
	must(err)
	must(s.Put(ctx, "touched", []byte("v"), time.Minute))
	must(s.Touch(ctx, "touched", time.Hour))

	keys, err := r.Client.Keys(ctx, r.Prefix+"*").Result()
	must(err)
	if len(keys) != 5 {
		t.Fatalf("found keys %v, want 5", keys)
	}
	for _, k := range keys {
		d, err := r.Client.PTTL(ctx, k).Result()
		if err != nil || d <= 0 {
			t.Errorf("key %s has TTL %v (%v)", k, d, err)
		}
	}
}

func TestStartEmbedded(t *testing.T) {
	ctx := context.Background()
	e, err := redisstore.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Server() == nil {
		t.Fatal("no server")
	}
	// Another local process that finds the port gets nothing without the password.
	stranger := redis.NewClient(&redis.Options{Addr: e.Server().Addr()})
	if err := stranger.Set(ctx, "k", "forged", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("unauthenticated SET: %v", err)
	}
	stranger.Close()
	rdb, err := redisstore.Connect(redisstore.Options{URL: e.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := redisstore.New(rdb, "emb:")
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	addr := e.Server().Addr()
	e.Close()
	e.Close() // idempotent
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("the server still listens after Close")
	}
}

func TestConnectOptions(t *testing.T) {
	if _, err := redisstore.Connect(redisstore.Options{}); err == nil {
		t.Error("Connect with no URL or addrs succeeded")
	}
	if _, err := redisstore.Connect(redisstore.Options{URL: "http://nope"}); err == nil {
		t.Error("Connect with a non-redis URL succeeded")
	}
	// Addrs build a client without dialing.
	c, err := redisstore.Connect(redisstore.Options{Addrs: []string{"127.0.0.1:1"}, MasterName: "m", TLS: true})
	if err != nil || c == nil {
		t.Fatalf("Connect(sentinel) = %v, %v", c, err)
	}
	c.Close()
}
