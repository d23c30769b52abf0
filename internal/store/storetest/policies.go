package storetest

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/store"
)

func newPolicy(name string, priority int, groups ...string) policy.Record {
	return policy.Record{Name: name, Priority: priority, Groups: groups, UpdatedBy: "admin",
		Policy: policy.Policy{RequireMFA: true, AllowedFactors: []mfa.Factor{mfa.FactorApp, mfa.FactorSMS}, RequiredMethods: 2,
			RegistrationOrder: []mfa.Kind{mfa.App, mfa.Phone}, Grace: policy.Grace{Skips: 3, Days: 14, Deadline: stored(t0)},
			RememberDeviceDays: 30, AllowedCountries: []string{"US"}}}
}

func testPolicies(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	if v, err := db.PolicyVersion(ctx); err != nil || v != 0 {
		t.Fatalf("PolicyVersion of an empty store = %d, %v", v, err)
	}
	if got, err := db.ListPolicies(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListPolicies of an empty store = %+v, %v", got, err)
	}
	if h, err := db.PolicyHistory(ctx, "never"); err != nil || len(h) != 0 {
		t.Fatalf("PolicyHistory(never saved) = %+v, %v", h, err)
	}

	def := newPolicy("default", 0)
	staff := newPolicy("staff", 10, "staff", "teachers")
	students := newPolicy("students", 5, "students")
	for i, r := range []*policy.Record{&def, &staff, &students} {
		must(t, db.SavePolicy(ctx, r, nil))
		if r.Version != int64(i+1) || r.UpdatedAt.IsZero() {
			t.Fatalf("SavePolicy(%s) set version %d, UpdatedAt %v", r.Name, r.Version, r.UpdatedAt)
		}
	}
	got, err := db.ListPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Highest priority first.
	mustEqual(t, got, []policy.Record{staff, students, def})

	// Replacing takes the next version; so does a deletion, which the
	// history keeps.
	staff.Policy.RequiredMethods, staff.UpdatedBy = 1, "other admin"
	must(t, db.SavePolicy(ctx, &staff, nil))
	if staff.Version != 4 {
		t.Fatalf("replaced policy's version = %d, want 4", staff.Version)
	}
	must(t, db.DeletePolicy(ctx, "students", "admin", audit.Event{Type: "policy.deleted"}))
	if v, err := db.PolicyVersion(ctx); err != nil || v != 5 {
		t.Fatalf("PolicyVersion after a deletion = %d, %v; want 5", v, err)
	}
	got, _ = db.ListPolicies(ctx)
	mustEqual(t, got, []policy.Record{staff, def})
	mustIs(t, db.DeletePolicy(ctx, "students", "admin", audit.Event{Type: "policy.deleted"}), store.ErrNotFound)

	history, err := db.PolicyHistory(ctx, "students")
	if err != nil || len(history) != 2 || !history[0].Deleted || history[0].Version != 5 || history[0].UpdatedBy != "admin" ||
		history[1].Deleted || history[1].Version != 3 {
		t.Fatalf("students' history = %+v, %v", history, err)
	}
	history, _ = db.PolicyHistory(ctx, "staff")
	if len(history) != 2 || history[0].Record.Policy.RequiredMethods != 1 || history[1].Record.Policy.RequiredMethods != 2 {
		t.Fatalf("staff's history, newest first = %+v", history)
	}
	mustEqual(t, history[0].Record, staff)
}

// A policy change and its audit record are one transaction: when the record
// cannot be written, the change is not made either.
func testPolicyAudit(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	taken := audit.Event{ID: "taken", Type: "earlier"}
	must(t, db.AppendEvent(ctx, &taken))

	def := newPolicy("default", 0)
	must(t, db.SavePolicy(ctx, &def, func(r *policy.Record) audit.Event {
		return audit.Event{ID: "saved", Type: "policy.updated", SubjectID: r.Name, Details: map[string]string{"version": "1"}}
	}))
	events, err := db.ListEvents(ctx, audit.Filter{Type: "policy.updated"})
	if err != nil || len(events) != 1 || events[0].SubjectID != "default" {
		t.Fatalf("the save's audit record: %+v, %v", events, err)
	}

	changed := newPolicy("default", 0)
	changed.Policy.RequireMFA = false
	err = db.SavePolicy(ctx, &changed, func(*policy.Record) audit.Event { return audit.Event{ID: "taken", Type: "policy.updated"} })
	mustIs(t, err, store.ErrAlreadyExists)
	mustIs(t, db.DeletePolicy(ctx, "default", "admin", audit.Event{ID: "taken", Type: "policy.deleted"}), store.ErrAlreadyExists)

	got, _ := db.ListPolicies(ctx)
	mustEqual(t, got, []policy.Record{def})
	if v, _ := db.PolicyVersion(ctx); v != 1 {
		t.Fatalf("PolicyVersion = %d after two refused changes, want 1", v)
	}
	if h, _ := db.PolicyHistory(ctx, "default"); len(h) != 1 {
		t.Fatalf("refused changes left history: %+v", h)
	}
}
