package systemtest

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/pkg/adminapi"
	"github.com/gatehouse/gatehouse/pkg/assurance"
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

	var body strings.Builder
	if err := adminAPI(t, gh, assurance.ScopeAuditRead).ExportAudit(t.Context(), adminapi.AuditQuery{Type: "authorize.refused"}, &body); err != nil {
		t.Fatalf("export: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(body.String())).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("export: %d rows, %v\n%s", len(rows), err, body.String())
	}
	if got := rows[1][7]; got != "'"+formula {
		t.Fatalf("user_agent cell = %q, want it defused", got)
	}
}

// TestAdminScopesOnlyForClientCredentials: an admin scope is never a
// person's. Registration refuses one beside a grant people sign in
// through; should a stored client hold one anyway, sign-in does not grant
// it, and the admin API refuses any token issued to a person.
func TestAdminScopesOnlyForClientCredentials(t *testing.T) {
	gh := newCluster(t).start()
	ctx := t.Context()
	gh.createUser(t, "teacher")

	_, _, err := gh.App.Clients.Create(ctx, clients.Registration{Name: "Gradebook", RedirectURIs: []string{rpRedirect},
		Scopes: []string{"openid", assurance.ScopeUsersRead}})
	var ve *clients.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("registering an admin scope with authorization_code: %v", err)
	}

	c, secret := gh.createClient(t, clients.Registration{Name: "Gradebook", RedirectURIs: []string{rpRedirect}})
	c.Scopes = append(c.Scopes, assurance.ScopeUsersRead, assurance.ScopeClients) // as an older release could store it
	if err := gh.App.DB.UpdateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctx, gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect,
		Scopes: []string{"openid", assurance.ScopeUsersRead, assurance.ScopeClients}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t, rpRedirect)
	code := codeFrom(t, b.signIn(b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "teacher", testPassword), rpRedirect, "state-0001", gh.Issuer)
	tok, err := rp.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	if granted, _ := tok.Extra("scope").(string); strings.Contains(granted, "gatehouse:") {
		t.Errorf("a sign-in was granted %q", granted)
	}
	api := &adminapi.Client{BaseURL: gh.Issuer, HTTPClient: oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))}
	if _, err := api.ListUsers(ctx, adminapi.UserQuery{}); apiError(err) == nil || apiError(err).Status != http.StatusForbidden {
		t.Errorf("GET /users with a person's token: %v", err)
	}
	if _, err := api.ListClients(ctx); apiError(err) == nil || apiError(err).Status != http.StatusForbidden {
		t.Errorf("GET /clients with a person's token: %v", err)
	}
}

// TestAdminScopesPerRoute: a token holds only the rights of its scopes; a
// SIS sync job with users.import and users.read cannot manage clients,
// read the audit log, or give anyone a role through an import.
func TestAdminScopesPerRoute(t *testing.T) {
	gh := newCluster(t).start()
	ctx := t.Context()
	sis := adminAPI(t, gh, assurance.ScopeUsersImport, assurance.ScopeUsersRead)
	for what, call := range map[string]func() error{
		"GET /clients":                      func() error { _, err := sis.ListClients(ctx); return err },
		"GET /audit":                        func() error { _, err := sis.ListAudit(ctx, adminapi.AuditQuery{}); return err },
		"GET /policies":                     func() error { _, err := sis.ListPolicies(ctx); return err },
		"POST /users/nobody/reset-password": func() error { _, err := sis.ResetPassword(ctx, "nobody"); return err },
		"PUT /users/nobody/roles":           func() error { _, err := sis.SetRoles(ctx, "nobody", nil); return err },
	} {
		if err := call(); apiError(err) == nil || apiError(err).Status != http.StatusForbidden {
			t.Errorf("%s: %v", what, err)
		}
	}
	if _, err := sis.ListUsers(ctx, adminapi.UserQuery{}); err != nil {
		t.Errorf("GET /users: %v", err)
	}
	if _, err := sis.ImportUsers(ctx, strings.NewReader("username,display_name\nkid,A Kid\n"), adminapi.ImportOptions{}); err != nil {
		t.Errorf("plain import: %v", err)
	}
	if _, err := sis.ImportUsers(ctx, strings.NewReader("username,roles\nmallory,admin\n"), adminapi.ImportOptions{}); apiError(err) == nil || apiError(err).Status != http.StatusForbidden {
		t.Errorf("import with a roles column: %v", err)
	}
}
