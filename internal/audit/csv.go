package audit

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
	"time"
)

// WriteCSV writes events as the audit export both the console and the
// admin API serve, so the two cannot differ in columns or in escaping.
func WriteCSV(w io.Writer, events []Event) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "type", "outcome", "actor_id", "subject_id", "client_id", "ip", "user_agent", "details"})
	for _, e := range events {
		details, err := json.Marshal(e.Details)
		if err != nil {
			return err
		}
		cw.Write([]string{e.Time.Format(time.RFC3339), cell(e.Type), cell(e.Outcome), cell(e.ActorID), cell(e.SubjectID),
			cell(e.ClientID), cell(e.IP), cell(e.UserAgent), cell(string(details))})
	}
	cw.Flush()
	return cw.Error()
}

// cell defuses text a spreadsheet would run as a formula: a user agent or
// a username is chosen by whoever signs in.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
