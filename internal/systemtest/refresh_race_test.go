package systemtest

import (
	"net/http"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// TestConcurrentRefreshesOneWins: of several refreshes sent at once with
// one refresh token, exactly one gets tokens. Retiring the presented token
// and storing its successor commit together, so a loser leaves nothing
// behind.
func TestConcurrentRefreshesOneWins(t *testing.T) {
	gh := newCluster(t).start()
	gh.createUser(t, "jdoe")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid", "offline_access")
	tok := rp.codeFlow(t, newBrowser(t, rpRedirect), "jdoe", "state-0001")

	const n = 8
	results := make([]*oauth2.Token, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], _ = rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		})
	}
	wg.Wait()
	var winner *oauth2.Token
	won := 0
	for _, r := range results {
		if r != nil {
			winner = r
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent refreshes with one token succeeded, want exactly 1", won, n)
	}
	// The losers, however late, took nothing from the winner.
	if status := userinfoStatus(t, gh, winner.AccessToken); status != http.StatusOK {
		t.Fatalf("the winner's access token at userinfo: %d", status)
	}
	if _, err := rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: winner.RefreshToken}).Token(); err != nil {
		t.Fatalf("the winner's refresh token: %v", err)
	}
}
