package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// Recorder writes audit events. A failed write is logged loudly but does not
// fail the user's request: the audit trail must not become a way to deny
// sign-in when the database hiccups.
type Recorder struct {
	store  Store
	logger *slog.Logger
	now    func() time.Time
}

// NewRecorder returns a Recorder over st.
func NewRecorder(st Store, logger *slog.Logger) *Recorder {
	return &Recorder{store: st, logger: logger, now: time.Now}
}

// Record stores e, filling its ID and time.
func (r *Recorder) Record(ctx context.Context, e Event) {
	e = r.Stamp(e)
	if err := r.store.AppendEvent(context.WithoutCancel(ctx), &e); err != nil {
		r.logger.Error("audit event lost", "type", e.Type, "subject", e.SubjectID, "err", err)
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
