package systemtest

import (
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// TestTokenEndpointRechecksAssurance: a code or refresh token minted at the
// password level cannot buy tokens once the client requires MFA.
func TestTokenEndpointRechecksAssurance(t *testing.T) {
	gh := newCluster(t).start()
	ctx := t.Context()
	gh.createUser(t, "clerk")
	rp := gh.registerApp(t, clients.Registration{Name: "Payroll"}, "openid", "offline_access")
	b := newBrowser(t, rpRedirect)
	tok := rp.codeFlow(t, b, "clerk", "state-0001")
	pkce := oauth2.GenerateVerifier()
	code := codeFrom(t, b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce))), rpRedirect, "state-0002", gh.Issuer)

	reg := rp.Client.Registration()
	reg.RequiredACR = assurance.MFA
	if _, _, err := gh.App.Clients.Update(ctx, rp.ClientID, reg); err != nil {
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
