package sqlstore_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestDeleteEventsBefore(t *testing.T) {
	db := testenv.SQL(t)
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
