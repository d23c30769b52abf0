package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestRedisOutageIsNotASignOut: while Redis does not answer, a signed-in
// browser is told to try again in a moment (503, Retry-After, a button),
// never sent to sign in again or told it signed out; once Redis is back the
// same session carries on.
func TestRedisOutageIsNotASignOut(t *testing.T) {
	c := newCluster(t)
	// A Redis of this test's own, whichever the suite runs against, so it
	// can be stopped.
	mini := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mini.Addr(), MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	c.redis = &testenv.Redis{Client: client, Prefix: "outage:", URL: "redis://" + mini.Addr(), Mini: mini}
	gh := c.start()
	gh.createUser(t, "student")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")
	b := newBrowser(t, rpRedirect)
	rp.codeFlow(t, b, "student", "state-0001")

	mini.Close()
	pkce := oauth2.GenerateVerifier()
	for _, u := range []string{rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce)), gh.Issuer + "/account", gh.Issuer + "/oauth2/logout"} {
		p := b.get(u)
		if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" {
			t.Fatalf("%s during the outage: %d (Retry-After %q)\n%s", u, p.Status, p.Header.Get("Retry-After"), p.Body)
		}
		mustSee(t, p, "Try again")
		if strings.Contains(p.Body, "Enter password") || strings.Contains(p.Body, "Signed out") {
			t.Fatalf("%s during the outage answered as if signed out", u)
		}
	}

	if err := mini.Restart(); err != nil {
		t.Fatal(err)
	}
	p := b.get(rp.AuthCodeURL("state-0003", oauth2.S256ChallengeOption(pkce)))
	codeFrom(t, p, rpRedirect, "state-0003", gh.Issuer)
}

// TestAuthorizeDuringDatabaseOutage: an app's sign-in request that cannot
// be checked because the database does not answer is "try again in a
// moment", never "Sign-in request not valid".
func TestAuthorizeDuringDatabaseOutage(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")
	b := newBrowser(t, rpRedirect)
	execSQL(t, c, "ALTER TABLE clients RENAME TO clients_away")
	p := b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	execSQL(t, c, "ALTER TABLE clients_away RENAME TO clients")
	if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" || strings.Contains(p.Body, "not valid") {
		t.Fatalf("authorize with the database away: %d (Retry-After %q)\n%s", p.Status, p.Header.Get("Retry-After"), p.Body)
	}
	mustSee(t, p, "Try again")
	mustSee(t, b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), "Sign in")
}
