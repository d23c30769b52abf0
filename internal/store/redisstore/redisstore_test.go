package redisstore_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newStore(t *testing.T) (*redisstore.Store, *testenv.Redis) {
	t.Helper()
	r := testenv.NewRedis(t)
	return redisstore.New(r.Client, r.Prefix), r
}

func TestPutGetDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Put(ctx, "a", []byte("one"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "b", []byte{}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "a"); err != nil || string(v) != "one" {
		t.Fatalf("Get(a) = %q, %v", v, err)
	}
	if v, err := s.Get(ctx, "b"); err != nil || len(v) != 0 {
		t.Fatalf("Get(b) = %q, %v", v, err)
	}
	if err := s.Put(ctx, "a", []byte("two"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get(ctx, "a"); string(v) != "two" {
		t.Fatalf("overwrite: Get(a) = %q", v)
	}
	if err := s.Delete(ctx, "a", "b", "never-existed"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if _, err := s.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(%s) after Delete = %v", k, err)
		}
	}
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

func TestPutIfAbsent(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ok, err := s.PutIfAbsent(ctx, "once", []byte("first"), time.Minute)
	if err != nil || !ok {
		t.Fatalf("first PutIfAbsent = %v, %v", ok, err)
	}
	ok, err = s.PutIfAbsent(ctx, "once", []byte("second"), time.Minute)
	if err != nil || ok {
		t.Fatalf("second PutIfAbsent = %v, %v", ok, err)
	}
	if v, _ := s.Get(ctx, "once"); string(v) != "first" {
		t.Fatalf("value = %q, want first", v)
	}
}

func TestGetTwo(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Put(ctx, "{t}a", []byte("A"), time.Minute); err != nil {
		t.Fatal(err)
	}
	a, b, err := s.GetTwo(ctx, "{t}a", "{t}b")
	if err != nil || string(a) != "A" || b != nil {
		t.Fatalf("GetTwo = %q, %q, %v", a, b, err)
	}
	a, b, err = s.GetTwo(ctx, "{t}x", "{t}a")
	if err != nil || a != nil || string(b) != "A" {
		t.Fatalf("GetTwo swapped = %q, %q, %v", a, b, err)
	}
}

func TestTake(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Put(ctx, "code", []byte("grant"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Take(ctx, "code"); err != nil || string(v) != "grant" {
		t.Fatalf("Take = %q, %v", v, err)
	}
	if _, err := s.Take(ctx, "code"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Take = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "code"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Take = %v", err)
	}
}

func TestTouch(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Touch(ctx, "missing", time.Minute); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Touch(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Put(ctx, "sess", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, "sess", time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, err := s.TTL(ctx, "sess"); err != nil || d <= time.Minute || d > time.Hour {
		t.Fatalf("TTL after Touch = %v, %v", d, err)
	}
}

func TestSets(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, m := range []string{"b", "a", "b"} {
		if err := s.AddToSet(ctx, "set", m, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := s.TTL(ctx, "set"); err != nil || d <= 0 {
		t.Fatalf("set TTL = %v, %v", d, err)
	}
	got, err := s.SetMembers(ctx, "set")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("SetMembers = %v, %v", got, err)
	}
	if err := s.RemoveFromSet(ctx, "set", "b"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SetMembers(ctx, "set"); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("SetMembers after RemoveFromSet = %v, %v", got, err)
	}
	if err := s.AddToSet(ctx, "set", "b", time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err = s.TakeSet(ctx, "set")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("TakeSet = %v, %v", got, err)
	}
	if got, err := s.TakeSet(ctx, "set"); err != nil || len(got) != 0 {
		t.Fatalf("second TakeSet = %v, %v", got, err)
	}
}

func TestIncr(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for want := int64(1); want <= 3; want++ {
		n, err := s.Incr(ctx, "hits", time.Minute)
		if err != nil || n != want {
			t.Fatalf("Incr = %d, %v; want %d", n, err, want)
		}
	}
	if d, err := s.TTL(ctx, "hits"); err != nil || d <= 0 || d > time.Minute {
		t.Fatalf("counter TTL = %v, %v", d, err)
	}
	if d, err := s.TTL(ctx, "missing"); err != nil || d != 0 {
		t.Fatalf("TTL(missing) = %v, %v", d, err)
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

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	s, r := newStore(t)
	r.NeedClock(t)
	if err := s.Put(ctx, "k", []byte("v"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToSet(ctx, "set", "m", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "ctr", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r.Mini.FastForward(9 * time.Second)
	if _, err := s.Get(ctx, "k"); err != nil {
		t.Fatalf("key expired early: %v", err)
	}
	if n, _ := s.Incr(ctx, "ctr", 10*time.Second); n != 2 {
		t.Fatalf("Incr in window = %d, want 2", n)
	}
	r.Mini.FastForward(2 * time.Second)
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after TTL = %v, want ErrNotFound", err)
	}
	if got, _ := s.TakeSet(ctx, "set"); len(got) != 0 {
		t.Fatalf("set survived its TTL: %v", got)
	}
	// The window does not slide: a new one starts at 1.
	if n, _ := s.Incr(ctx, "ctr", 10*time.Second); n != 1 {
		t.Fatalf("Incr after window = %d, want 1", n)
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
