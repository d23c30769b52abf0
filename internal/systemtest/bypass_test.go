package systemtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// The sign-in bypasses found by the security review, each replayed against
// the real handlers.

// helpdeskResetWithAccessCode has the Help Desk remove the student's
// methods and issue a temporary access code, as after a lost phone.
func (m *mfaRig) helpdeskResetWithAccessCode() string {
	t := m.t
	api := adminAPI(t, m.gh, assurance.ScopeUsersWrite)
	if err := api.ResetMethods(t.Context(), "student"); err != nil {
		t.Fatalf("reset methods: %v", err)
	}
	issued, err := api.IssueAccessCode(t.Context(), "student")
	if err != nil || issued.Code == "" {
		t.Fatalf("access code: %v", err)
	}
	return issued.Code
}

// TestAccessCodeGuardsMyAccount: after a method reset and an access code,
// a password-only session cannot register an authenticator on My Account;
// it is asked for the access code first, as in the sign-in.
func TestAccessCodeGuardsMyAccount(t *testing.T) {
	// A policy that asks nothing of an app sign-in, so the password alone
	// completes one and leaves a password-only session.
	m := newMFARig(t, func(cfg *config.Config) {
		cfg.MFA.RequireForAllClients, cfg.MFA.RequiredMethods = false, 0
	})
	b := newBrowser(t, rpRedirect)
	if c := m.claims(m.start(b)); c.ACR != "pwd" {
		t.Fatalf("first sign-in acr=%q", c.ACR)
	}
	mustSee(t, b.get(m.gh.Issuer+"/account"), "My Account")
	m.helpdeskResetWithAccessCode()

	attacker := newBrowser(t, rpRedirect)
	if c := m.claims(m.start(attacker)); c.ACR != "pwd" {
		t.Fatalf("password sign-in acr=%q", c.ACR)
	}
	p := attacker.get(m.gh.Issuer + "/account/add")
	if strings.Contains(p.Body, "Authenticator app") {
		t.Fatalf("a password-only session was offered to add a method without the access code:\n%s", p.Body)
	}
	mustSee(t, p, "Enter the temporary access code the Help Desk gave you")
}

// TestParkedSignInCannotEnroll: a sign-in left open at "Keep your account
// secure" cannot register its own app once the owner has registered theirs
// elsewhere; it is sent to the challenge for the owner's method.
func TestParkedSignInCannotEnroll(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1 })
	attacker := newBrowser(t, rpRedirect)
	p := attacker.submit(m.start(attacker), act("next"))
	attackerSecret := totpSecret(t, p)

	owner := newBrowser(t, rpRedirect)
	m.enrollApp(owner)

	p = attacker.submit(p, act("verify", "code", totpCode(t, attackerSecret, time.Now())))
	if strings.Contains(p.Body, "App verified") {
		t.Fatal("the parked sign-in registered its own authenticator after the owner enrolled")
	}
	mustSee(t, p, "Enter code")
	if methods, err := m.gh.App.DB.ListMethods(t.Context(), m.userID()); err != nil || len(methods) != 1 {
		t.Fatalf("methods after the attempt: %v %v", methods, err)
	}
}

func (m *mfaRig) userID() string {
	u, err := m.gh.App.Users.Find(m.t.Context(), "student")
	if err != nil {
		m.t.Fatal(err)
	}
	return u.ID
}

// TestNoSessionBeforeSignInCompletes: a browser that has typed the
// password but not registered or proved a second factor is not signed in:
// My Account and a second app both start a sign-in.
func TestNoSessionBeforeSignInCompletes(t *testing.T) {
	m := newMFARig(t, nil)
	b := newBrowser(t, rpRedirect)
	mustSee(t, m.start(b), "More information required")
	p := b.get(m.gh.Issuer + "/account")
	if strings.Contains(p.Body, "Security info") {
		t.Fatal("My Account opened for a sign-in that stopped at the password")
	}
	mustSee(t, p, "Sign in")
	if p := b.get(m.rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(m.pkce))); p.Location != "" || !strings.Contains(p.Body, "Sign in") {
		t.Fatalf("a new authorization skipped the sign-in: %d %q", p.Status, p.Location)
	}
}

// TestMustChangePasswordOnEveryPath: a temporary password must be changed
// before anything else; starting a new authorization in the same browser
// does not skip the change.
func TestMustChangePasswordOnEveryPath(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	u := gh.createUser(t, "teacher")
	if err := gh.App.Users.SetPassword(t.Context(), u.ID, testPassword, true); err != nil {
		t.Fatal(err)
	}
	rp := gh.registerApp(t, clients.Registration{Name: "Gradebook"}, "openid")
	b := newBrowser(t, rpRedirect)
	pkce := oauth2.GenerateVerifier()
	p := b.signIn(b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "teacher", testPassword)
	mustSee(t, p, "Update your password")
	p = b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce)))
	if strings.HasPrefix(p.Location, rpRedirect) {
		t.Fatalf("a new authorization issued a code before the required password change: %s", p.Location)
	}
	if p := b.get(gh.Issuer + "/account"); strings.Contains(p.Body, "Security info") {
		t.Fatal("My Account opened before the required password change")
	}
}

// TestSignOutEverywhereEndsEverything: the Help Desk's "sign out
// everywhere" ends the browser session, the console session and the access
// tokens already issued (userinfo and introspection say so at once).
func TestSignOutEverywhereEndsEverything(t *testing.T) {
	r := newConsoleRig(t)
	principal := r.person("principal", identity.RoleAdmin)
	b, p := r.signIn("principal")
	mustSee(t, p, "Users")
	rp := r.gh.registerApp(t, clients.Registration{Name: "Gradebook"}, "openid", "profile")
	tok := rp.codeFlow(t, b, "", "state-0001")
	if status := userinfoStatus(t, r.gh, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("userinfo before: %d", status)
	}
	resourceServer, rsSecret := r.gh.createClient(t, clients.Registration{Name: "API", GrantTypes: []string{"client_credentials"}, MayIntrospect: true})
	if !introspect(t, r.gh.Issuer+oauth.PathIntrospect, resourceServer.ID, rsSecret, tok.AccessToken) {
		t.Fatal("introspection before: inactive")
	}

	time.Sleep(2 * time.Millisecond) // the stamp comes after the token
	if err := r.gh.App.Admin.RevokeSessions(t.Context(), admin.Actor{ID: principal.ID, Roles: []string{identity.RoleAdmin}, IP: "127.0.0.1"}, "principal"); err != nil {
		t.Fatal(err)
	}

	if status := userinfoStatus(t, r.gh, tok.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("userinfo after sign-out everywhere: %d", status)
	}
	if introspect(t, r.gh.Issuer+oauth.PathIntrospect, resourceServer.ID, rsSecret, tok.AccessToken) {
		t.Fatal("introspection after sign-out everywhere: still active")
	}
	if p := b.get(r.gh.Issuer + "/admin/users"); p.URL.Path == "/admin/users" && p.Status == http.StatusOK {
		t.Fatal("the console session survived sign-out everywhere")
	}
	if p := b.get(r.gh.Issuer + "/account"); strings.Contains(p.Body, "Security info") {
		t.Fatal("the browser session survived sign-out everywhere")
	}
}

func userinfoStatus(t *testing.T, gh *instance, token string) int {
	req, _ := http.NewRequest(http.MethodGet, gh.Issuer+oauth.PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAccountNoticeIsFixed: only Gatehouse's own notices show as the green
// status line; text in the URL is not one of them.
func TestAccountNoticeIsFixed(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequireForAllClients, cfg.MFA.RequiredMethods = false, 0 })
	b := newBrowser(t, rpRedirect)
	m.claims(m.start(b))
	p := b.get(m.gh.Issuer + "/account?notice=" + url.QueryEscape("Your account is suspended. Call 555-0100 now."))
	mustSee(t, p, "My Account")
	if strings.Contains(p.Body, "555-0100") {
		t.Fatal("text from the URL was shown as a notice")
	}
}

// TestStaleSignInCannotSetPassword: a sign-in begun with a temporary
// password the Help Desk has since replaced cannot set the password: it is
// over, like every session begun before the reset.
func TestStaleSignInCannotSetPassword(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	u := gh.createUser(t, "teacher")
	principal := admin.Actor{ID: "principal", Roles: []string{identity.RoleAdmin}, IP: "127.0.0.1"}
	first, err := gh.App.Admin.ResetPassword(t.Context(), principal, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	rp := gh.registerApp(t, clients.Registration{Name: "Gradebook"}, "openid")
	b := newBrowser(t, rpRedirect)
	pkce := oauth2.GenerateVerifier()
	stale := b.signIn(b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "teacher", first)
	mustSee(t, stale, "Update your password")

	time.Sleep(time.Millisecond) // the second reset comes after the sign-in began
	second, err := gh.App.Admin.ResetPassword(t.Context(), principal, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := b.submit(stale, url.Values{"new_password": {"blue-kettle-river-stone"}, "confirm_password": {"blue-kettle-river-stone"}})
	mustSee(t, p, "Sign-in expired")
	if _, err := gh.App.Users.Authenticate(t.Context(), "teacher", second); err != nil {
		t.Fatalf("the Help Desk's second temporary password stopped working: %v", err)
	}
}

// TestMyAccountFollowsPolicyNow: a session completed with the password
// alone, under a policy that asked no more, must prove a second factor
// before My Account opens once the policy requires one, and the app's
// refresh token from it is refused.
func TestMyAccountFollowsPolicyNow(t *testing.T) {
	r := newConsoleRig(t)
	r.person("kid")
	owner := newBrowser(t, rpRedirect)
	r.secondFactor(owner, owner.signIn(owner.get(r.gh.Issuer+"/account"), "kid", testPassword), "kid")

	b := newBrowser(t, rpRedirect)
	rp := r.gh.registerApp(t, clients.Registration{Name: "Library"}, "openid", "offline_access")
	tok := rp.codeFlow(t, b, "kid", "state-0001")
	mustSee(t, b.get(r.gh.Issuer+"/account"), "Security info")

	def := *storedPolicy(t, r, "default")
	def.Policy.RequireMFA = true
	if _, err := r.gh.App.Admin.SavePolicy(t.Context(), admin.CLI, def); err != nil {
		t.Fatal(err)
	}
	var p pageResp
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if p = b.get(r.gh.Issuer + "/account"); !strings.Contains(p.Body, "Security info") || time.Now().After(deadline) {
			break
		}
	}
	mustSee(t, p, "Enter code")
	// The app's refresh token from that sign-in buys nothing more either.
	if _, err := rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh below the policy now in force: %v", err)
	}
}

// TestRefreshBelowPolicyAfterOwnerEnrolled: a refresh token from a sign-in
// that put registration off buys nothing once the owner has registered a
// method their policy requires them to prove.
func TestRefreshBelowPolicyAfterOwnerEnrolled(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods, cfg.MFA.Grace.Skips = 1, 2 })
	m.rp.Scopes = append(m.rp.Scopes, "offline_access")
	attacker := newBrowser(t, rpRedirect)
	p := attacker.submit(attacker.submit(m.start(attacker), act("next")), act("skip"))
	tok, err := m.rp.Exchange(t.Context(), codeFrom(t, p, rpRedirect, "state-0001", m.gh.Issuer), oauth2.VerifierOption(m.pkce))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("put-off sign-in: %v", err)
	}
	m.enrollApp(newBrowser(t, rpRedirect)) // the owner registers a method
	if _, err := m.rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Fatal("a password-only refresh token minted new tokens after the owner registered a method under a policy requiring MFA")
	}
}
