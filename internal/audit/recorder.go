package audit

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/store"
)

// spoolLimit bounds the events held in memory while the database refuses
// them: about an hour of a district's sign-ins, a few megabytes.
const spoolLimit = 10000

// Recorder writes audit events. A failed write does not fail the user's
// request (the audit trail must not become a way to deny sign-in when the
// database hiccups): the event waits in a bounded in-memory spool and is
// written when the database takes writes again. Events the spool cannot
// hold are logged in full and counted.
type Recorder struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
	limit  int

	mu    sync.Mutex
	spool []Event // oldest first
	lost  atomic.Int64
}

// NewRecorder returns a Recorder over st.
func NewRecorder(st Store, logger *slog.Logger) *Recorder {
	return &Recorder{store: st, logger: logger, now: time.Now, limit: spoolLimit}
}

// Record stores e, filling its ID and time; if the database refuses it, e
// waits in the spool.
func (r *Recorder) Record(ctx context.Context, e Event) {
	e = r.Stamp(e)
	if err := r.store.AppendEvent(context.WithoutCancel(ctx), &e); err != nil {
		r.logger.Warn("audit event spooled until the database takes it", "type", e.Type, "subject", e.SubjectID, "err", err)
		r.hold([]Event{e}, false)
	}
}

// Stamp fills e's ID, time and outcome as Record does, for an event a store
// writes in the transaction of the change it records.
func (r *Recorder) Stamp(e Event) Event {
	e.ID = uuid.NewString()
	e.Time = r.now().UTC()
	if e.Outcome == "" {
		e.Outcome = "success"
	}
	return e
}

// hold queues events, ahead of those already waiting when they are older;
// what does not fit is lost.
func (r *Recorder) hold(events []Event, older bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if older {
		r.spool = slices.Concat(events, r.spool)
	} else {
		r.spool = append(r.spool, events...)
	}
	if over := len(r.spool) - r.limit; over > 0 {
		for _, e := range r.spool[r.limit:] {
			r.logger.Error("audit event lost: the spool is full", "event", e)
		}
		r.spool = r.spool[:r.limit]
		r.lost.Add(int64(over))
	}
}

// Flush writes the spooled events, oldest first, until the database refuses
// one. An event whose earlier write did reach the database is not written
// twice: its ID is already taken.
func (r *Recorder) Flush(ctx context.Context) {
	r.mu.Lock()
	pending := r.spool
	r.spool = nil
	r.mu.Unlock()
	for i := range pending {
		if err := r.store.AppendEvent(ctx, &pending[i]); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			r.hold(pending[i:], true)
			return
		}
	}
}

// Spooled is the number of events waiting for the database.
func (r *Recorder) Spooled() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.spool)
}

// Lost is the number of events dropped because the spool was full or the
// server stopped before the database took them.
func (r *Recorder) Lost() int64 { return r.lost.Load() }

// RetrySpooled flushes the spool every interval until ctx ends, then once
// more; what is still waiting then is logged in full and counted lost.
func (r *Recorder) RetrySpooled(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			r.Flush(last)
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, e := range r.spool {
				r.logger.Error("audit event lost: the server stopped before the database took it", "event", e)
			}
			r.lost.Add(int64(len(r.spool)))
			r.spool = nil
			return
		case <-t.C:
			r.Flush(ctx)
		}
	}
}

// List returns events matching f, newest first.
func (r *Recorder) List(ctx context.Context, f Filter) ([]Event, error) {
	return r.store.ListEvents(ctx, f)
}

// Prune deletes events older than retention, every interval, until ctx
// ends; the district decides how long it keeps the record.
func (r *Recorder) Prune(ctx context.Context, retention, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := r.store.DeleteEventsBefore(ctx, r.now().Add(-retention)); err != nil && ctx.Err() == nil {
			r.logger.Error("pruning audit events", "err", err)
		} else if n > 0 {
			r.logger.Info("pruned audit events past retention", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
