package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// Step orders the security review's list did not cover, replayed against
// the real handlers.

// TestCodeIssuedBeforeSignOutEverywhere: a code handed out before the Help
// Desk signed the person out everywhere (a stolen password, then a reset)
// buys no token afterwards; otherwise its refresh token would outlive the
// reset that revoked every other one.
func TestCodeIssuedBeforeSignOutEverywhere(t *testing.T) {
	gh := newCluster(t).start()
	admin0 := gh.createUser(t, "principal")
	gh.createUser(t, "student")
	rp := gh.registerApp(t, clients.Registration{Name: "Gradebook"}, "openid", "offline_access")
	attacker := newBrowser(t, rpRedirect)
	pkce := oauth2.GenerateVerifier()
	p := attacker.signIn(attacker.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "student", testPassword)
	code := codeFrom(t, p, rpRedirect, "state-0001", gh.Issuer)

	// The grant keeps its start to the second: the stamp comes in the next.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	if err := gh.App.Admin.RevokeSessions(t.Context(), admin.Actor{ID: admin0.ID, Roles: []string{identity.RoleAdmin}, IP: "127.0.0.1"}, "student"); err != nil {
		t.Fatal(err)
	}

	tok, err := rp.Exchange(t.Context(), code, oauth2.VerifierOption(pkce))
	if err == nil {
		t.Fatalf("a code issued before sign-out everywhere bought tokens afterwards (userinfo %d, refresh token %t)",
			userinfoStatus(t, gh, tok.AccessToken), tok.RefreshToken != "")
	}
	if status := userinfoStatus(t, gh, "x"); status != http.StatusUnauthorized {
		t.Fatalf("userinfo with a bad token: %d", status)
	}
}

// TestPolicyRequiringMFAReachesSignedInBrowsers: once the district turns
// MFA on, a browser signed in with the password alone before the change
// gets no further code below mfa; it is asked for the second factor (or
// its registration) like any new sign-in.
func TestPolicyRequiringMFAReachesSignedInBrowsers(t *testing.T) {
	gh := newCluster(t).start()
	gh.createUser(t, "student")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")
	b := newBrowser(t, rpRedirect)
	rp.codeFlow(t, b, "student", "state-0001")

	ctx := t.Context()
	all, err := gh.App.Admin.ListPolicies(ctx, admin.CLI)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Name == policy.DefaultName {
			r.Policy.RequireMFA, r.Policy.RequiredMethods = true, 1
			if _, err := gh.App.Admin.SavePolicy(ctx, admin.CLI, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := gh.App.Policy.Load(ctx); err != nil { // what every replica does within one refresh interval
		t.Fatal(err)
	}

	pkce := oauth2.GenerateVerifier()
	p := b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce)))
	if strings.HasPrefix(p.Location, rpRedirect) {
		t.Fatalf("a password-only session got a code after the policy began to require MFA: %s", p.Location)
	}
	p = b.signIn(p, "student", testPassword)
	mustSee(t, p, "Keep your account secure")
}
