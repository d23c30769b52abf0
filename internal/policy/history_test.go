package policy

import (
	"slices"
	"testing"
	"time"
)

// TestChanges lists exactly the fields that differ, by JSON path, with
// numbers as written (a million, not 1e+06) and lists joined.
func TestChanges(t *testing.T) {
	before := Record{Priority: 10, Groups: []string{"students-k2"}, Policy: Policy{RequiredMethods: 2}}
	before.Policy.Limits.VerifiesPerUser = 30
	after := before
	after.Groups = []string{"students-k2", "students-3"}
	after.Policy.Limits.VerifiesPerUser = 1000000
	after.Policy.Grace.Deadline = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

	want := []Change{
		{Field: "grace.deadline", Before: "0001-01-01T00:00:00Z", After: "2026-09-01T00:00:00Z"},
		{Field: "groups", Before: "students-k2", After: "students-k2, students-3"},
		{Field: "limits.verifies_per_user", Before: "30", After: "1000000"},
	}
	if got := Changes(before, after); !slices.Equal(got, want) {
		t.Fatalf("Changes =\n%+v\nwant\n%+v", got, want)
	}
	if got := Changes(before, before); got == nil || len(got) != 0 {
		t.Fatalf("Changes of a record with itself = %#v, want an empty list", got)
	}
}
