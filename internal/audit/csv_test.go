package audit_test

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
)

// TestWriteCSVDefusesFormulas: every cell a person can choose reaches a
// spreadsheet as text, never as a formula.
func TestWriteCSVDefusesFormulas(t *testing.T) {
	var buf bytes.Buffer
	err := audit.WriteCSV(&buf, []audit.Event{{Time: time.Unix(0, 0), Type: "signin.failure", Outcome: "failure",
		ActorID: "=HYPERLINK(\"http://evil\")", SubjectID: "+1", ClientID: "-2", IP: "@SUM(A1)", UserAgent: "=cmd|' /C calc'!A0",
		Details: map[string]string{"username": "=1+1"}}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for i, c := range rows[1] {
		if c != "" && c[0] != '\'' && i != 0 && i != 1 && i != 2 && i != 8 {
			t.Errorf("column %s: %q can run as a formula", rows[0][i], c)
		}
	}
	if rows[1][3] != `'=HYPERLINK("http://evil")` {
		t.Errorf("actor_id = %q", rows[1][3])
	}
}
