package systemtest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
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
	"github.com/gatehouse/gatehouse/pkg/adminapi"
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

// adminAPI is the typed admin API client of a new confidential client
// registered with the given scopes, asking for them all.
func adminAPI(t *testing.T, gh *instance, scopes ...string) *adminapi.Client {
	c, secret := gh.createClient(t, clients.Registration{Name: "Automation", GrantTypes: []string{"client_credentials"}, Scopes: scopes})
	return adminapi.New(adminapi.Config{BaseURL: gh.Issuer, ClientID: c.ID, ClientSecret: secret, Scopes: scopes})
}

// apiError is the admin API's answer err carries, or nil.
func apiError(err error) *adminapi.Error {
	var e *adminapi.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// TestAdminAPI: only tokens with the admin scopes get in; a client registered
// through the API signs a user in with a real relying party; imports can be
// previewed without writing; every action lands in the audit log.
func TestAdminAPI(t *testing.T) {
	gh := newCluster(t).start()
	ctx := t.Context()
	gh.createUser(t, "teacher")

	anon := &adminapi.Client{BaseURL: gh.Issuer, HTTPClient: http.DefaultClient}
	if _, err := anon.ListClients(ctx); apiError(err) == nil || apiError(err).Status != http.StatusUnauthorized || apiError(err).Code != "unauthorized" {
		t.Fatalf("no token: %v", err)
	}
	if _, err := adminAPI(t, gh, "profile").ListClients(ctx); apiError(err) == nil || apiError(err).Status != http.StatusForbidden {
		t.Fatalf("token without the admin scope: %v", err)
	}
	api := adminAPI(t, gh, assurance.AdminScopes...)

	// Validation errors come back as stable codes with every problem.
	_, err := api.CreateClient(ctx, adminapi.ApplicationInput{Name: new("Bad"), RedirectURIs: new([]string{"http://evil.example/cb#x"})})
	if e := apiError(err); e == nil || e.Status != http.StatusUnprocessableEntity || e.Code != "invalid" || len(e.Problems) == 0 {
		t.Fatalf("invalid client: %v", err)
	}

	// Register an app through the API, then sign in through it.
	created, err := api.CreateClient(ctx, adminapi.ApplicationInput{Name: new("Library"), RedirectURIs: new([]string{rpRedirect})})
	if err != nil || created.Secret == "" {
		t.Fatalf("create client: %v %+v", err, created)
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
	report, err := api.ImportUsers(ctx, bytes.NewReader(buf.Bytes()), adminapi.ImportOptions{DryRun: true})
	if err != nil || report.Written || report.Created != 1000 || report.Rejected != 1 || len(report.Rows) != 1001 || report.Rows[1000].Line != 1002 {
		t.Fatalf("dry run: %v %+v", err, report)
	}
	list, err := api.ListUsers(ctx, adminapi.UserQuery{Search: "student", Limit: 1000})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("the dry run wrote users: %v %+v", err, list)
	}
	report, err = api.ImportUsers(ctx, bytes.NewReader(buf.Bytes()), adminapi.ImportOptions{})
	if e := apiError(err); e == nil || e.Status != http.StatusUnprocessableEntity || e.Code != "import_rejected" || report == nil || report.Written || report.Rejected != 1 {
		t.Fatalf("a file with a bad row must be refused whole: %v %+v", err, report)
	}
	report, err = api.ImportUsers(ctx, bytes.NewReader(buf.Bytes()), adminapi.ImportOptions{ContinueOnError: true})
	if err != nil || !report.Written || report.Created != 1000 {
		t.Fatalf("import: %v %+v", err, report)
	}
	page, err := api.ListUsers(ctx, adminapi.UserQuery{Search: "student", Limit: 400})
	if err != nil || len(page.Items) != 400 || page.NextOffset == nil || *page.NextOffset != 400 {
		t.Fatalf("pagination: %v %d %v", err, len(page.Items), page.NextOffset)
	}

	// Help Desk actions on a user.
	if temp, err := api.ResetPassword(ctx, "teacher"); err != nil || temp == "" {
		t.Fatalf("reset password: %v", err)
	}
	for action, do := range map[string]func(context.Context, string) error{
		"reset-methods": api.ResetMethods, "revoke-sessions": api.RevokeSessions, "unlock": api.Unlock,
		"disable": api.DisableUser, "enable": api.EnableUser,
	} {
		if err := do(ctx, "teacher"); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	if err := api.DisableUser(ctx, "nobody"); !adminapi.IsNotFound(err) {
		t.Fatalf("unknown user: %v", err)
	}

	// Every action is in the audit log, also as CSV.
	for _, typ := range []string{"client.created", "user.imported", "user.password_reset", "mfa.methods_reset", "user.sessions_revoked", "user.unlocked", "user.disabled", "user.enabled"} {
		events, err := api.ListAudit(ctx, adminapi.AuditQuery{Type: typ})
		if err != nil || len(events) == 0 || !strings.HasPrefix(events[0].ActorID, "client:") {
			t.Fatalf("audit lacks %s: %v %+v", typ, err, events)
		}
	}
	var export bytes.Buffer
	if err := api.ExportAudit(ctx, adminapi.AuditQuery{Type: "client.created"}, &export); err != nil ||
		!strings.HasPrefix(export.String(), "time,type,outcome") || !strings.Contains(export.String(), "client.created") {
		t.Fatalf("csv export: %v %s", err, export.String())
	}
	if doc, err := anon.OpenAPI(ctx); err != nil || !strings.Contains(string(doc), `"openapi"`) {
		t.Fatalf("openapi: %v", err)
	}
}
