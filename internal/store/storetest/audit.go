package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

func testAuditEvents(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)

	events := []audit.Event{
		{ID: "e1", Time: t0, Type: "signin.success", Outcome: "success", ActorID: "alice", SubjectID: "alice",
			ClientID: "app", IP: "192.0.2.1", UserAgent: "test/1.0", Details: map[string]string{"acr": "mfa", "amr": "pwd otp"}},
		{ID: "e2", Time: t0.Add(time.Minute), Type: "signin.failure", Outcome: "failure", SubjectID: "alice", IP: "192.0.2.1"},
		{ID: "e3", Time: t0.Add(2 * time.Minute), Type: "client.created", Outcome: "success", ActorID: "cli"},
		{ID: "e4", Time: t0.Add(3 * time.Minute), Type: "signin.success", Outcome: "success", SubjectID: "bob"},
	}
	for i := range events {
		if err := db.AppendEvent(ctx, &events[i]); err != nil {
			t.Fatal(err)
		}
	}
	dup := audit.Event{ID: "e1", Type: "x"}
	mustIs(t, db.AppendEvent(ctx, &dup), store.ErrAlreadyExists)

	got, err := db.ListEvents(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got, []audit.Event{events[3], events[2], events[1], events[0]})

	tests := []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"subject", audit.Filter{SubjectID: "alice"}, []string{"e2", "e1"}},
		{"type", audit.Filter{Type: "signin.success"}, []string{"e4", "e1"}},
		{"subject and type", audit.Filter{SubjectID: "alice", Type: "signin.success"}, []string{"e1"}},
		{"since is inclusive", audit.Filter{Since: t0.Add(2 * time.Minute)}, []string{"e4", "e3"}},
		{"until is exclusive", audit.Filter{Until: t0.Add(2 * time.Minute)}, []string{"e2", "e1"}},
		{"window", audit.Filter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"e3", "e2"}},
		{"limit keeps the newest", audit.Filter{Limit: 2}, []string{"e4", "e3"}},
		{"no match", audit.Filter{Type: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.ListEvents(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			mustEqual(t, ids, tt.want)
		})
	}
}

func testAuditEventDefaults(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	e := audit.Event{Type: "signin.success"}
	if err := db.AppendEvent(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if e.ID == "" || e.Time.IsZero() {
		t.Fatalf("ID and Time not filled in: %+v", e)
	}
	got, err := db.ListEvents(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got, []audit.Event{e})
}

func testAuditLimits(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	for i := range 1005 {
		e := audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Type: "t"}
		if err := db.AppendEvent(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct{ limit, want int }{{0, 100}, {3, 3}, {5000, 1000}} {
		got, err := db.ListEvents(ctx, audit.Filter{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.want {
			t.Errorf("Limit %d returned %d events, want %d", tt.limit, len(got), tt.want)
		}
	}
}

func testDeleteEventsBefore(t *testing.T, b Backend) {
	db := b.New(t)
	ctx := t.Context()
	now := time.Now().UTC()
	for i, age := range []time.Duration{48 * time.Hour, 2 * time.Hour, 0} {
		if err := db.AppendEvent(ctx, &audit.Event{ID: string(rune('a' + i)), Time: now.Add(-age), Type: "signin.success"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.DeleteEventsBefore(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	left, err := db.ListEvents(ctx, audit.Filter{})
	if err != nil || len(left) != 2 {
		t.Fatalf("left %d, %v", len(left), err)
	}
}
