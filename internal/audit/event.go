// Package audit records who did what: sign-ins, MFA, admin actions. Audit
// events are kept apart from logs: they are data the district keeps.
package audit

import (
	"context"
	"time"
)

// Event is one audited action.
type Event struct {
	ID        string
	Time      time.Time
	Type      string // e.g. "signin.success", "client.created"
	Outcome   string // "success" or "failure"
	ActorID   string // who acted (a user ID, "cli", or empty for anonymous)
	SubjectID string // the user acted upon, when there is one
	ClientID  string
	IP        string
	UserAgent string
	Details   map[string]string
}

// Filter narrows an event listing.
type Filter struct {
	SubjectID string
	Type      string
	Since     time.Time
	Until     time.Time
	Limit     int
}

// Store is where events are kept.
type Store interface {
	AppendEvent(ctx context.Context, e *Event) error
	ListEvents(ctx context.Context, f Filter) ([]Event, error) // newest first
}
