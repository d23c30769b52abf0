package app_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// TestAdminAuditCSVDefusesFormulas: the API's audit export, like the
// console's, hands a spreadsheet text where a visitor chose a formula.
func TestAdminAuditCSVDefusesFormulas(t *testing.T) {
	gh := newCluster(t).start()
	const formula = `=HYPERLINK("http://evil.example","click")`
	req, _ := http.NewRequest(http.MethodGet, gh.Issuer+"/oauth2/authorize?client_id=nobody&response_type=code", nil)
	req.Header.Set("User-Agent", formula)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	api := &adminClient{t: t, base: gh.Issuer, token: adminToken(t, gh, clients.ScopeAdmin)}
	status, body := api.do("GET", "/audit?format=csv&type=authorize.refused", "", nil)
	if status != http.StatusOK {
		t.Fatalf("export: %d %s", status, body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("export: %d rows, %v\n%s", len(rows), err, body)
	}
	if got := rows[1][7]; got != "'"+formula {
		t.Fatalf("user_agent cell = %q, want it defused", got)
	}
}
