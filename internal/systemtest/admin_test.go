package systemtest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// adminClient is an HTTP client for the admin API with a bearer token.
type adminClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *adminClient) do(method, path, contentType string, body []byte) (int, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+"/admin/api/v1"+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (c *adminClient) json(method, path string, in, out any) int {
	c.t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	status, raw := c.do(method, path, "application/json", body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %d %s", method, path, status, raw)
		}
	}
	return status
}

// adminToken gets a client-credentials token for a new confidential client
// registered with the given scopes.
func adminToken(t *testing.T, gh *instance, scopes ...string) string {
	c, secret := gh.createClient(t, clients.Registration{Name: "Automation", GrantTypes: []string{"client_credentials"}, Scopes: scopes})
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: gh.Issuer + "/oauth2/token", Scopes: scopes}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// TestAdminAPI: only tokens with the admin scopes get in; a client registered
// through the API signs a user in with a real relying party; imports can be
// previewed without writing; every action lands in the audit log.
func TestAdminAPI(t *testing.T) {
	gh := newCluster(t).start()
	ctx := t.Context()
	gh.createUser(t, "teacher")

	anon := &adminClient{t: t, base: gh.Issuer}
	if status, body := anon.do("GET", "/clients", "", nil); status != http.StatusUnauthorized || !strings.Contains(string(body), `"code":"unauthorized"`) {
		t.Fatalf("no token: %d %s", status, body)
	}
	weak := &adminClient{t: t, base: gh.Issuer, token: adminToken(t, gh, "profile")}
	if status, body := weak.do("GET", "/clients", "", nil); status != http.StatusForbidden {
		t.Fatalf("token without the admin scope: %d %s", status, body)
	}
	api := &adminClient{t: t, base: gh.Issuer, token: adminToken(t, gh, assurance.AdminScopes...)}

	// Validation errors come back as stable codes with every problem.
	var bad struct {
		Error struct {
			Code     string   `json:"code"`
			Problems []string `json:"problems"`
		} `json:"error"`
	}
	if status := api.json("POST", "/clients", map[string]any{"name": "Bad", "redirect_uris": []string{"http://evil.example/cb#x"}}, &bad); status != http.StatusUnprocessableEntity ||
		bad.Error.Code != "invalid" || len(bad.Error.Problems) == 0 {
		t.Fatalf("invalid client: %d %+v", status, bad)
	}

	// Register an app through the API, then sign in through it.
	var created struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if status := api.json("POST", "/clients", map[string]any{"name": "Library", "redirect_uris": []string{rpRedirect}}, &created); status != http.StatusCreated || created.Secret == "" {
		t.Fatalf("create client: %d %+v", status, created)
	}
	provider, err := oidc.NewProvider(ctx, gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: created.ID, ClientSecret: created.Secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect, Scopes: []string{"openid"}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t, rpRedirect)
	code := codeFrom(t, b.signIn(b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "teacher", testPassword), rpRedirect, "state-0001", gh.Issuer)
	tok, err := rp.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: created.ID}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatal(err)
	}

	// Import: the dry run reports every row and writes nothing; the real
	// run writes 1,000 users; running it again changes nothing.
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"username", "email", "display_name", "password_hash"})
	hash := identity.HashPassword("imported password 1", identity.Argon2Params{MemoryKiB: 19456, Iterations: 1, Parallelism: 1})
	for i := range 1000 {
		w.Write([]string{fmt.Sprintf("student%04d", i), "", fmt.Sprintf("Student %d", i), hash})
	}
	w.Write([]string{"bad name", "", "", ""})
	w.Flush()
	var report struct {
		Written  bool `json:"written"`
		Created  int  `json:"created"`
		Updated  int  `json:"updated"`
		Rejected int  `json:"rejected"`
		Rows     []struct {
			Line    int    `json:"line"`
			Outcome string `json:"outcome"`
		} `json:"rows"`
	}
	status, raw := api.do("POST", "/users/import?dry_run=true", "text/csv", buf.Bytes())
	json.Unmarshal(raw, &report)
	if status != http.StatusOK || report.Written || report.Created != 1000 || report.Rejected != 1 || len(report.Rows) != 1001 || report.Rows[1000].Line != 1002 {
		t.Fatalf("dry run: %d created=%d rejected=%d rows=%d", status, report.Created, report.Rejected, len(report.Rows))
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	api.json("GET", "/users?search=student&limit=1000", nil, &list)
	if len(list.Items) != 0 {
		t.Fatalf("the dry run wrote %d users", len(list.Items))
	}
	status, raw = api.do("POST", "/users/import", "text/csv", buf.Bytes())
	json.Unmarshal(raw, &report)
	if status != http.StatusUnprocessableEntity || report.Written {
		t.Fatalf("a file with a bad row must be refused whole: %d %s", status, raw)
	}
	status, raw = api.do("POST", "/users/import?continue_on_error=true", "text/csv", buf.Bytes())
	json.Unmarshal(raw, &report)
	if status != http.StatusOK || !report.Written || report.Created != 1000 {
		t.Fatalf("import: %d %s", status, raw)
	}
	var page struct {
		Items      []json.RawMessage `json:"items"`
		NextOffset *int              `json:"next_offset"`
	}
	api.json("GET", "/users?search=student&limit=400", nil, &page)
	if len(page.Items) != 400 || page.NextOffset == nil || *page.NextOffset != 400 {
		t.Fatalf("pagination: %d %v", len(page.Items), page.NextOffset)
	}

	// Help Desk actions on a user.
	var temp struct {
		Password string `json:"temporary_password"`
	}
	if status := api.json("POST", "/users/teacher/reset-password", nil, &temp); status != http.StatusOK || temp.Password == "" {
		t.Fatalf("reset password: %d", status)
	}
	for _, action := range []string{"reset-methods", "revoke-sessions", "unlock", "disable", "enable"} {
		if status := api.json("POST", "/users/teacher/"+action, nil, nil); status != http.StatusNoContent {
			t.Fatalf("%s: %d", action, status)
		}
	}
	if status := api.json("POST", "/users/nobody/disable", nil, nil); status != http.StatusNotFound {
		t.Fatalf("unknown user: %d", status)
	}

	// Every action is in the audit log, also as CSV.
	for _, typ := range []string{"client.created", "user.imported", "user.password_reset", "mfa.methods_reset", "user.sessions_revoked", "user.unlocked", "user.disabled", "user.enabled"} {
		var events struct {
			Items []struct {
				ActorID string `json:"actor_id"`
			} `json:"items"`
		}
		api.json("GET", "/audit?type="+typ, nil, &events)
		if len(events.Items) == 0 || !strings.HasPrefix(events.Items[0].ActorID, "client:") {
			t.Fatalf("audit lacks %s: %+v", typ, events)
		}
	}
	status, raw = api.do("GET", "/audit?format=csv&type=client.created", "", nil)
	if status != http.StatusOK || !strings.HasPrefix(string(raw), "time,type,outcome") || !strings.Contains(string(raw), "client.created") {
		t.Fatalf("csv export: %d %s", status, raw)
	}
	if status, raw := anon.do("GET", "/openapi.json", "", nil); status != http.StatusOK || !strings.Contains(string(raw), `"openapi"`) {
		t.Fatalf("openapi: %d", status)
	}
}
