// Package kvtest is the contract of store.KV: one suite that every
// implementation and deployment of the short-lived store must pass, so the
// domain packages can rely on the interface's words rather than on Redis.
package kvtest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Backend is one store.KV under test.
type Backend struct {
	// New returns an empty KV that no other test sees.
	New func(t *testing.T) store.KV
	// Pass makes d of time pass for the store's expiry: a moved clock, or
	// a real wait on a server whose clock cannot be moved.
	Pass func(t *testing.T, d time.Duration)
	// Tick is how early a key may expire on a store whose clock moves in
	// steps; zero when expiry is exact.
	Tick time.Duration
	// Down returns a KV whose server gives no answer.
	Down func(t *testing.T) store.KV
}

// racers is how many goroutines race for a one-time value.
const racers = 16

// Run runs the contract against b.
func Run(t *testing.T, b Backend) {
	if b.New == nil || b.Pass == nil || b.Down == nil {
		t.Fatal("kvtest: Backend needs New, Pass and Down")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"PutGetDelete", testPutGetDelete},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"GetTwo", testGetTwo},
		{"Take", testTake},
		{"TakeRace", testTakeRace},
		{"TouchAndTTL", testTouchAndTTL},
		{"Sets", testSets},
		{"TakeSetRace", testTakeSetRace},
		{"Incr", testIncr},
		{"IncrRace", testIncrRace},
		{"Expiry", testExpiry},
		{"Unavailable", testUnavailable},
		{"DeadlinePassed", testDeadlinePassed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s = %v, want store.ErrNotFound", what, err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func testPutGetDelete(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	_, err := kv.Get(ctx, "missing")
	wantNotFound(t, "Get(missing)", err)
	must(t, kv.Put(ctx, "a", []byte("one"), time.Minute))
	must(t, kv.Put(ctx, "b", []byte{}, time.Minute))
	if v, err := kv.Get(ctx, "a"); err != nil || string(v) != "one" {
		t.Fatalf("Get(a) = %q, %v", v, err)
	}
	// An empty value is a value, not an absent key.
	if v, err := kv.Get(ctx, "b"); err != nil || len(v) != 0 {
		t.Fatalf("Get(b) = %q, %v", v, err)
	}
	must(t, kv.Put(ctx, "a", []byte("two"), time.Minute))
	if v, err := kv.Get(ctx, "a"); err != nil || string(v) != "two" {
		t.Fatalf("Get(a) after overwrite = %q, %v", v, err)
	}
	must(t, kv.Delete(ctx, "a", "b", "never-existed"))
	must(t, kv.Delete(ctx))
	for _, k := range []string{"a", "b"} {
		_, err := kv.Get(ctx, k)
		wantNotFound(t, "Get("+k+") after Delete", err)
	}
}

func testPutIfAbsent(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	if ok, err := kv.PutIfAbsent(ctx, "once", []byte("first"), time.Minute); err != nil || !ok {
		t.Fatalf("first PutIfAbsent = %v, %v", ok, err)
	}
	if ok, err := kv.PutIfAbsent(ctx, "once", []byte("second"), time.Minute); err != nil || ok {
		t.Fatalf("second PutIfAbsent = %v, %v", ok, err)
	}
	if v, err := kv.Get(ctx, "once"); err != nil || string(v) != "first" {
		t.Fatalf("Get = %q, %v; the loser overwrote the winner", v, err)
	}
	if d, err := kv.TTL(ctx, "once"); err != nil || d <= 0 || d > time.Minute {
		t.Fatalf("TTL of a marker = %v, %v", d, err)
	}
	must(t, kv.Delete(ctx, "once"))
	if ok, err := kv.PutIfAbsent(ctx, "once", []byte("again"), time.Minute); err != nil || !ok {
		t.Fatalf("PutIfAbsent after Delete = %v, %v", ok, err)
	}
}

// race runs fn in racers goroutines released together.
func race(fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range racers {
		done.Go(func() {
			start.Wait()
			fn(i)
		})
	}
	start.Done()
	done.Wait()
}

func testPutIfAbsentRace(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	var mu sync.Mutex
	var winners []int
	var errs []error
	race(func(i int) {
		ok, err := kv.PutIfAbsent(ctx, "used", fmt.Appendf(nil, "%d", i), time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			winners = append(winners, i)
		}
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d racers won a once-marker, want exactly 1", len(winners), racers)
	}
	if v, err := kv.Get(ctx, "used"); err != nil || string(v) != fmt.Sprint(winners[0]) {
		t.Fatalf("marker = %q, %v; want the winner's %d", v, err, winners[0])
	}
}

func testGetTwo(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	must(t, kv.Put(ctx, "{t}a", []byte("A"), time.Minute))
	if a, c, err := kv.GetTwo(ctx, "{t}a", "{t}b"); err != nil || string(a) != "A" || c != nil {
		t.Fatalf("GetTwo(a, missing) = %q, %q, %v", a, c, err)
	}
	if a, c, err := kv.GetTwo(ctx, "{t}x", "{t}a"); err != nil || a != nil || string(c) != "A" {
		t.Fatalf("GetTwo(missing, a) = %q, %q, %v", a, c, err)
	}
	if a, c, err := kv.GetTwo(ctx, "{t}x", "{t}y"); err != nil || a != nil || c != nil {
		t.Fatalf("GetTwo(missing, missing) = %q, %q, %v", a, c, err)
	}
}

func testTake(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	_, err := kv.Take(ctx, "missing")
	wantNotFound(t, "Take(missing)", err)
	must(t, kv.Put(ctx, "code", []byte("grant"), time.Minute))
	if v, err := kv.Take(ctx, "code"); err != nil || string(v) != "grant" {
		t.Fatalf("Take = %q, %v", v, err)
	}
	_, err = kv.Take(ctx, "code")
	wantNotFound(t, "second Take", err)
	_, err = kv.Get(ctx, "code")
	wantNotFound(t, "Get after Take", err)
}

func testTakeRace(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	must(t, kv.Put(ctx, "code", []byte("grant"), time.Minute))
	var mu sync.Mutex
	var got int
	var errs []error
	race(func(int) {
		v, err := kv.Take(ctx, "code")
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil && string(v) == "grant":
			got++
		case !errors.Is(err, store.ErrNotFound):
			errs = append(errs, fmt.Errorf("Take = %q, %v", v, err))
		}
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got != 1 {
		t.Fatalf("%d of %d racers took a one-time value, want exactly 1", got, racers)
	}
}

func testTouchAndTTL(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	if d, err := kv.TTL(ctx, "missing"); err != nil || d != 0 {
		t.Fatalf("TTL(missing) = %v, %v", d, err)
	}
	wantNotFound(t, "Touch(missing)", kv.Touch(ctx, "missing", time.Minute))
	must(t, kv.Put(ctx, "sess", []byte("x"), time.Minute))
	if d, err := kv.TTL(ctx, "sess"); err != nil || d <= 0 || d > time.Minute {
		t.Fatalf("TTL after Put = %v, %v", d, err)
	}
	must(t, kv.Touch(ctx, "sess", time.Hour))
	if d, err := kv.TTL(ctx, "sess"); err != nil || d <= time.Minute || d > time.Hour {
		t.Fatalf("TTL after Touch = %v, %v", d, err)
	}
	if v, err := kv.Get(ctx, "sess"); err != nil || string(v) != "x" {
		t.Fatalf("Touch changed the value: %q, %v", v, err)
	}
	// Touch may shorten too: an idle limit below the time left.
	must(t, kv.Touch(ctx, "sess", time.Minute))
	if d, err := kv.TTL(ctx, "sess"); err != nil || d <= 0 || d > time.Minute {
		t.Fatalf("TTL after a shortening Touch = %v, %v", d, err)
	}
}

func testSets(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	if got, err := kv.SetMembers(ctx, "set"); err != nil || len(got) != 0 {
		t.Fatalf("SetMembers(missing) = %v, %v", got, err)
	}
	for _, m := range []string{"b", "a", "b"} {
		must(t, kv.AddToSet(ctx, "set", m, time.Minute))
	}
	if d, err := kv.TTL(ctx, "set"); err != nil || d <= 0 || d > time.Minute {
		t.Fatalf("set TTL = %v, %v", d, err)
	}
	if got, err := kv.SetMembers(ctx, "set"); err != nil || !slices.Equal(sorted(got), []string{"a", "b"}) {
		t.Fatalf("SetMembers = %v, %v", got, err)
	}
	must(t, kv.RemoveFromSet(ctx, "set", "b", "never-added"))
	must(t, kv.RemoveFromSet(ctx, "set"))
	if got, err := kv.SetMembers(ctx, "set"); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("SetMembers after RemoveFromSet = %v, %v", got, err)
	}
	must(t, kv.AddToSet(ctx, "set", "b", time.Hour))
	if d, err := kv.TTL(ctx, "set"); err != nil || d <= time.Minute {
		t.Fatalf("AddToSet did not renew the set's TTL: %v, %v", d, err)
	}
	if got, err := kv.TakeSet(ctx, "set"); err != nil || !slices.Equal(sorted(got), []string{"a", "b"}) {
		t.Fatalf("TakeSet = %v, %v", got, err)
	}
	if got, err := kv.TakeSet(ctx, "set"); err != nil || len(got) != 0 {
		t.Fatalf("second TakeSet = %v, %v", got, err)
	}
	if got, err := kv.SetMembers(ctx, "set"); err != nil || len(got) != 0 {
		t.Fatalf("SetMembers after TakeSet = %v, %v", got, err)
	}
}

// Racing TakeSets share the members out: each goes to exactly one of them,
// as each of a person's sessions must be ended exactly once.
func testTakeSetRace(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	var want []string
	for i := range 3 * racers {
		m := fmt.Sprintf("m%02d", i)
		want = append(want, m)
		must(t, kv.AddToSet(ctx, "set", m, time.Minute))
	}
	var mu sync.Mutex
	var got []string
	var errs []error
	race(func(int) {
		members, err := kv.TakeSet(ctx, "set")
		mu.Lock()
		defer mu.Unlock()
		got = append(got, members...)
		if err != nil {
			errs = append(errs, err)
		}
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !slices.Equal(sorted(got), want) {
		t.Fatalf("racing TakeSets returned %v, want each of %v once", sorted(got), want)
	}
}

func testIncr(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	for want := int64(1); want <= 3; want++ {
		if n, err := kv.Incr(ctx, "hits", time.Minute); err != nil || n != want {
			t.Fatalf("Incr = %d, %v; want %d", n, err, want)
		}
	}
	if d, err := kv.TTL(ctx, "hits"); err != nil || d <= 0 || d > time.Minute {
		t.Fatalf("counter TTL = %v, %v", d, err)
	}
	// A later hit with a longer window does not move the window's end.
	if _, err := kv.Incr(ctx, "hits", time.Hour); err != nil {
		t.Fatal(err)
	}
	if d, err := kv.TTL(ctx, "hits"); err != nil || d > time.Minute {
		t.Fatalf("counter TTL after a later hit = %v, %v; the window moved", d, err)
	}
	// The counter reads back as its decimal count, as lockout reads it.
	if v, err := kv.Get(ctx, "hits"); err != nil || string(v) != "4" {
		t.Fatalf("Get(counter) = %q, %v", v, err)
	}
}

func testIncrRace(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	var mu sync.Mutex
	var got []int64
	var errs []error
	race(func(int) {
		n, err := kv.Incr(ctx, "hits", time.Minute)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, n)
		if err != nil {
			errs = append(errs, err)
		}
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	slices.Sort(got)
	for i, n := range got {
		if n != int64(i+1) {
			t.Fatalf("racing Incr counted %v, want 1 to %d once each", got, racers)
		}
	}
	if d, err := kv.TTL(ctx, "hits"); err != nil || d <= 0 || d > time.Minute {
		t.Fatalf("counter TTL after racing hits = %v, %v", d, err)
	}
}

// testExpiry lets real time pass on a real server, so its TTLs are short:
// a second, longer than the step a moved clock may take.
func testExpiry(t *testing.T, b Backend) {
	ctx := t.Context()
	kv := b.New(t)
	unit := time.Second + 2*b.Tick
	half := unit / 2
	const margin = 100 * time.Millisecond

	must(t, kv.Put(ctx, "put", []byte("v"), unit))
	if ok, err := kv.PutIfAbsent(ctx, "marker", []byte{1}, unit); err != nil || !ok {
		t.Fatalf("PutIfAbsent = %v, %v", ok, err)
	}
	if _, err := kv.Incr(ctx, "counter", unit); err != nil {
		t.Fatal(err)
	}
	must(t, kv.AddToSet(ctx, "set", "m", unit))
	must(t, kv.Put(ctx, "renewed", []byte("v"), unit))
	must(t, kv.Touch(ctx, "renewed", 10*unit))
	must(t, kv.Put(ctx, "shortened", []byte("v"), 10*unit))
	must(t, kv.Touch(ctx, "shortened", unit))

	b.Pass(t, half)
	if _, err := kv.Get(ctx, "put"); err != nil {
		t.Fatalf("a key expired before its TTL: %v", err)
	}
	if n, err := kv.Incr(ctx, "counter", unit); err != nil || n != 2 {
		t.Fatalf("Incr within the window = %d, %v; want 2", n, err)
	}
	if d, err := kv.TTL(ctx, "counter"); err != nil || d > unit-half {
		t.Fatalf("counter TTL = %v, %v; a hit slid the window", d, err)
	}
	must(t, kv.AddToSet(ctx, "set", "n", unit))

	b.Pass(t, unit-half+margin)
	_, err := kv.Get(ctx, "put")
	wantNotFound(t, "Get after its TTL", err)
	_, err = kv.Get(ctx, "shortened")
	wantNotFound(t, "Get after a shortened TTL", err)
	if _, err := kv.Get(ctx, "renewed"); err != nil {
		t.Fatalf("a touched key expired at its old TTL: %v", err)
	}
	if ok, err := kv.PutIfAbsent(ctx, "marker", []byte{1}, unit); err != nil || !ok {
		t.Fatalf("PutIfAbsent after the marker's TTL = %v, %v", ok, err)
	}
	if n, err := kv.Incr(ctx, "counter", unit); err != nil || n != 1 {
		t.Fatalf("Incr after the window = %d, %v; want a new window from 1", n, err)
	}
	if got, err := kv.SetMembers(ctx, "set"); err != nil || !slices.Equal(sorted(got), []string{"m", "n"}) {
		t.Fatalf("set renewed by AddToSet = %v, %v", got, err)
	}

	b.Pass(t, half+margin)
	if got, err := kv.TakeSet(ctx, "set"); err != nil || len(got) != 0 {
		t.Fatalf("set outlived its renewed TTL: %v, %v", got, err)
	}
}

// A store that gives no answer must never be read as "absent" or "no":
// every method fails with an error store.Unavailable recognises.
func testUnavailable(t *testing.T, b Backend) {
	kv := b.Down(t)
	for name, err := range calls(t.Context(), kv) {
		if !store.Unavailable(err) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s on a store that is down = %v, want store.ErrUnavailable", name, err)
		}
	}
}

// A request whose deadline passed while it waited counts as unavailable too.
func testDeadlinePassed(t *testing.T, b Backend) {
	kv := b.New(t)
	must(t, kv.Put(t.Context(), "k", []byte("v"), time.Minute))
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	for name, err := range calls(ctx, kv) {
		if !store.Unavailable(err) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s past its deadline = %v, want store.Unavailable", name, err)
		}
	}
}

// calls runs every method of kv once, each error under the method's name.
func calls(ctx context.Context, kv store.KV) iter.Seq2[string, error] {
	second := func(_ any, err error) error { return err }
	return func(yield func(string, error) bool) {
		_, _, getTwo := kv.GetTwo(ctx, "{t}a", "{t}b")
		for _, c := range []struct {
			name string
			err  error
		}{
			{"Put", kv.Put(ctx, "k", []byte("v"), time.Minute)},
			{"PutIfAbsent", second(kv.PutIfAbsent(ctx, "k", []byte("v"), time.Minute))},
			{"Get", second(kv.Get(ctx, "k"))},
			{"GetTwo", getTwo},
			{"Delete", kv.Delete(ctx, "k")},
			{"Take", second(kv.Take(ctx, "k"))},
			{"Touch", kv.Touch(ctx, "k", time.Minute)},
			{"Incr", second(kv.Incr(ctx, "n", time.Minute))},
			{"TTL", second(kv.TTL(ctx, "k"))},
			{"AddToSet", kv.AddToSet(ctx, "s", "m", time.Minute)},
			{"SetMembers", second(kv.SetMembers(ctx, "s"))},
			{"RemoveFromSet", kv.RemoveFromSet(ctx, "s", "m")},
			{"TakeSet", second(kv.TakeSet(ctx, "s"))},
		} {
			if !yield(c.name, c.err) {
				return
			}
		}
	}
}
