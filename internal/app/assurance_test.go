package app_test

import (
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// TestTokenEndpointRechecksAssurance: a code or refresh token minted at the
// password level cannot buy tokens once the client requires MFA.
func TestTokenEndpointRechecksAssurance(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	ctx := t.Context()
	gh.createUser(t, "clerk")
	client, secret := gh.createClient(t, clients.Registration{Name: "Payroll", RedirectURIs: []string{rpRedirect}})
	provider, err := oidc.NewProvider(ctx, gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect,
		Scopes: []string{"openid", "offline_access"}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t, rpRedirect)
	code := codeFrom(t, b.signIn(b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "clerk", testPassword),
		rpRedirect, "state-0001", gh.Issuer)
	tok, err := rp.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	code = codeFrom(t, b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce))), rpRedirect, "state-0002", gh.Issuer)

	reg := client.Registration()
	reg.RequiredACR = clients.ACRMFA
	if _, _, err := gh.App.Clients.Update(ctx, client.ID, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Exchange(ctx, code, oauth2.VerifierOption(pkce)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("password-level code redeemed for an MFA client: %v", err)
	}
	if _, err := rp.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("password-level refresh for an MFA client: %v", err)
	}
	// The browser's password-only session cannot satisfy the client either.
	p := b.get(rp.AuthCodeURL("state-0003", oauth2.S256ChallengeOption(pkce)))
	if u, _ := url.Parse(p.Location); u == nil || u.Query().Get("error") != "access_denied" {
		t.Fatalf("got %d %q", p.Status, p.Location)
	}
}
