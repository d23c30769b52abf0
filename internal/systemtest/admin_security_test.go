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

	api := &adminClient{t: t, base: gh.Issuer, token: adminToken(t, gh, assurance.ScopeAuditRead)}
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
	api := &adminClient{t: t, base: gh.Issuer, token: tok.AccessToken}
	for _, path := range []string{"/users", "/clients"} {
		if status, body := api.do("GET", path, "", nil); status != http.StatusForbidden {
			t.Errorf("GET %s with a person's token: %d %s", path, status, body)
		}
	}
}

// TestAdminScopesPerRoute: a token holds only the rights of its scopes; a
// SIS sync job with users.import and users.read cannot manage clients,
// read the audit log, or give anyone a role through an import.
func TestAdminScopesPerRoute(t *testing.T) {
	gh := newCluster(t).start()
	sis := &adminClient{t: t, base: gh.Issuer, token: adminToken(t, gh, assurance.ScopeUsersImport, assurance.ScopeUsersRead)}
	for _, call := range []struct{ method, path string }{
		{"GET", "/clients"}, {"GET", "/audit"}, {"GET", "/policies"}, {"POST", "/users/nobody/reset-password"},
		{"PUT", "/users/nobody/roles"},
	} {
		if status, body := sis.do(call.method, call.path, "application/json", []byte(`{}`)); status != http.StatusForbidden {
			t.Errorf("%s %s: %d %s", call.method, call.path, status, body)
		}
	}
	if status, body := sis.do("GET", "/users", "", nil); status != http.StatusOK {
		t.Errorf("GET /users: %d %s", status, body)
	}
	if status, body := sis.do("POST", "/users/import", "text/csv", []byte("username,display_name\nkid,A Kid\n")); status != http.StatusOK {
		t.Errorf("plain import: %d %s", status, body)
	}
	if status, body := sis.do("POST", "/users/import", "text/csv", []byte("username,roles\nmallory,admin\n")); status != http.StatusForbidden {
		t.Errorf("import with a roles column: %d %s", status, body)
	}
}
