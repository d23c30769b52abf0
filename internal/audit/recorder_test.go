package audit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// flakyStore refuses writes while down; when lying, it keeps a write but
// reports it failed, as a connection lost before the commit's answer does.
type flakyStore struct {
	mu          sync.Mutex
	down, lying bool
	events      []Event
}

func (s *flakyStore) AppendEvent(_ context.Context, e *Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return fmt.Errorf("disk full: %w", store.ErrUnavailable)
	}
	if slices.ContainsFunc(s.events, func(x Event) bool { return x.ID == e.ID }) {
		return store.ErrAlreadyExists
	}
	s.events = append(s.events, *e)
	if s.lying {
		return fmt.Errorf("connection reset: %w", store.ErrUnavailable)
	}
	return nil
}

func (s *flakyStore) ListEvents(context.Context, Filter) ([]Event, error) { return nil, nil }

func (s *flakyStore) DeleteEventsBefore(context.Context, time.Time) (int64, error) { return 0, nil }

func (s *flakyStore) types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		out = append(out, e.Type)
	}
	return out
}

func TestRecorderSpoolsUntilTheDatabaseTakesWrites(t *testing.T) {
	st := &flakyStore{down: true}
	r := NewRecorder(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := t.Context()
	for _, typ := range []string{"signin.success", "signin.failure", "signin.locked"} {
		r.Record(ctx, Event{Type: typ})
	}
	r.Flush(ctx)
	if got := st.types(); len(got) != 0 || r.Spooled() != 3 {
		t.Fatalf("with the database down: stored %v, %d spooled", got, r.Spooled())
	}
	st.down = false
	r.Flush(ctx)
	if got := st.types(); !slices.Equal(got, []string{"signin.success", "signin.failure", "signin.locked"}) || r.Spooled() != 0 || r.Lost() != 0 {
		t.Fatalf("once the database is back: stored %v, %d spooled, %d lost", got, r.Spooled(), r.Lost())
	}
}

func TestRecorderWritesAnAmbiguousEventOnce(t *testing.T) {
	st := &flakyStore{lying: true}
	r := NewRecorder(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Record(t.Context(), Event{Type: "signin.success"})
	st.lying = false
	r.Flush(t.Context())
	if got := st.types(); len(got) != 1 || r.Spooled() != 0 {
		t.Fatalf("stored %v, %d spooled; want the event once", got, r.Spooled())
	}
}

func TestRecorderCountsWhatItCannotHold(t *testing.T) {
	st := &flakyStore{down: true}
	r := NewRecorder(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.limit = 2
	for _, typ := range []string{"a", "b", "c"} {
		r.Record(t.Context(), Event{Type: typ})
	}
	if r.Spooled() != 2 || r.Lost() != 1 {
		t.Fatalf("%d spooled, %d lost; want 2 and 1", r.Spooled(), r.Lost())
	}

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.RetrySpooled(ctx, time.Hour); close(done) }()
	stop()
	<-done
	if r.Spooled() != 0 || r.Lost() != 3 {
		t.Fatalf("after stopping with the database down: %d spooled, %d lost; want 0 and 3", r.Spooled(), r.Lost())
	}
}
