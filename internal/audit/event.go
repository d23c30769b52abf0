// Package audit records who did what: sign-ins, MFA, admin actions. Audit
// events are kept apart from logs: they are data the district keeps.
package audit

import (
	"context"
	"time"
)

// Event is one audited action.
type Event struct {
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Type      string            `json:"type"`                 // e.g. "signin.success", "client.created"
	Outcome   string            `json:"outcome"`              // "success" or "failure"
	ActorID   string            `json:"actor_id"`             // who acted (a user ID, "client:<id>", "cli", or empty for anonymous)
	SubjectID string            `json:"subject_id,omitempty"` // the user acted upon, when there is one
	ClientID  string            `json:"client_id,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
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
	DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error)
}
