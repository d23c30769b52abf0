package app_test

import (
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// TestConcurrentRefreshesOneWins: of several refreshes sent at once with
// one refresh token, exactly one gets tokens. Retiring the presented token
// and storing its successor commit together, so a loser leaves nothing
// behind.
func TestConcurrentRefreshesOneWins(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	ctx := t.Context()
	gh.createUser(t, "jdoe")
	client, secret := gh.createClient(t, clients.Registration{Name: "LMS", RedirectURIs: []string{rpRedirect}})
	provider, err := oidc.NewProvider(ctx, gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect,
		Scopes: []string{oidc.ScopeOpenID, "offline_access"}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t, rpRedirect)
	p := b.signIn(b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "jdoe", testPassword)
	tok, err := rp.Exchange(ctx, codeFrom(t, p, rpRedirect, "state-0001", gh.Issuer), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}

	const n = 8
	results := make([]*oauth2.Token, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], _ = rp.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		})
	}
	wg.Wait()
	var won []*oauth2.Token
	for _, r := range results {
		if r != nil {
			won = append(won, r)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d of %d concurrent refreshes with one token succeeded, want exactly 1", len(won), n)
	}
}
