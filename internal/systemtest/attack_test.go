package systemtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/pkg/adminapi"
	"github.com/gatehouse/gatehouse/pkg/assurance"
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

// TestClientsScopeCannotMintMoreScopes: a token that may manage
// applications cannot register one with admin scopes it does not hold, add
// them to an existing one, or take over a more privileged one by rotating
// its secret: otherwise gatehouse:clients would be every admin scope.
func TestClientsScopeCannotMintMoreScopes(t *testing.T) {
	gh := newCluster(t).start()
	sync, _ := gh.createClient(t, clients.Registration{Name: "SIS sync", GrantTypes: []string{"client_credentials"},
		Scopes: []string{assurance.ScopeUsersRoles, assurance.ScopeUsersWrite}})
	apps := adminAPI(t, gh, assurance.ScopeClients)
	ctx := t.Context()
	forbidden := func(err error) bool { return apiError(err) != nil && apiError(err).Status == http.StatusForbidden }

	escalator, err := apps.CreateClient(ctx, adminapi.ApplicationInput{Name: new("Escalator"),
		GrantTypes: new([]string{"client_credentials"}), Scopes: new([]string{assurance.ScopeUsersRoles})})
	if !forbidden(err) {
		t.Errorf("registering a client with gatehouse:users.roles on a gatehouse:clients token: %v (%+v)", err, escalator)
	}
	mine, _ := gh.createClient(t, clients.Registration{Name: "Reports", GrantTypes: []string{"client_credentials"}, Scopes: []string{assurance.ScopeClients}})
	if _, err := apps.UpdateClient(ctx, mine.ID, adminapi.ApplicationInput{Scopes: new([]string{assurance.ScopeClients, assurance.ScopeUsersRoles})}); !forbidden(err) {
		t.Errorf("adding gatehouse:users.roles to a client on a gatehouse:clients token: %v", err)
	}
	if rotated, err := apps.RotateClientSecret(ctx, sync.ID); !forbidden(err) {
		t.Errorf("rotating the secret of a client with more admin scopes: %v (%+v)", err, rotated)
	}
	// Within its own rights it still manages applications.
	if _, err := apps.CreateClient(ctx, adminapi.ApplicationInput{Name: new("Library"), RedirectURIs: new([]string{rpRedirect})}); err != nil {
		t.Errorf("registering an ordinary app: %v", err)
	}
}

// TestConsoleRedisOutageIsNotASignOut: while Redis does not answer, a
// signed-in console page and a submitted console form answer "try again in
// a moment" (503), never the sign-in or "your console session ended".
func TestConsoleRedisOutageIsNotASignOut(t *testing.T) {
	c := newCluster(t)
	c.configure = func(cfg *config.Config) {
		cfg.MFA = config.Default().MFA
		cfg.MFA.RequireForAllClients, cfg.MFA.RequiredMethods = false, 1
	}
	mini := stoppableRedis(t, c)
	r := &consoleRig{t: t, c: c, gh: c.start(), keys: map[string]string{}, uses: map[string]int{}}
	r.person("principal", identity.RoleAdmin)
	b, _ := r.signIn("principal")
	form := b.get(r.gh.Issuer + "/admin/users/new")
	if !csrfField.MatchString(form.Body) {
		t.Fatalf("no form on the new user page: %d\n%s", form.Status, form.Body)
	}

	mini.Close()
	if p := b.get(r.gh.Issuer + "/admin/users"); p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" {
		t.Errorf("a console page during a Redis outage: %d at %s (Retry-After %q)", p.Status, p.URL.Path, p.Header.Get("Retry-After"))
	}
	p := b.submit(form, url.Values{"username": {"newteacher"}, "display_name": {"New Teacher"}})
	if p.Status != http.StatusServiceUnavailable || strings.Contains(p.Body, "session ended") {
		t.Errorf("a console form during a Redis outage: %d\n%s", p.Status, p.Body)
	}
}

// TestNarrowedClientLosesScopesAtOnce: once an administrator takes an
// admin scope from a client, the tokens it already holds no longer carry
// it at the admin API.
func TestNarrowedClientLosesScopesAtOnce(t *testing.T) {
	gh := newCluster(t).start()
	gh.createUser(t, "student")
	sync, secret := gh.createClient(t, clients.Registration{Name: "SIS sync", GrantTypes: []string{"client_credentials"},
		Scopes: []string{assurance.ScopeUsersRead, assurance.ScopeUsersRoles}})
	cc := clientcredentials.Config{ClientID: sync.ID, ClientSecret: secret, TokenURL: gh.Issuer + "/oauth2/token",
		Scopes: []string{assurance.ScopeUsersRead, assurance.ScopeUsersRoles}}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.App.Admin.UpdateClient(t.Context(), admin.CLI, sync.ID, func(r *clients.Registration) {
		r.Scopes = []string{assurance.ScopeUsersRead}
	}); err != nil {
		t.Fatal(err)
	}
	api := &adminClient{t: t, base: gh.Issuer, token: tok.AccessToken}
	if status := api.json("PUT", "/users/student/roles", map[string]any{"roles": []string{identity.RoleAdmin}}, nil); status != http.StatusForbidden {
		t.Errorf("a token kept a scope its client no longer has: PUT roles answered %d", status)
	}
	if status := api.json("GET", "/users/student", nil, nil); status != http.StatusOK {
		t.Errorf("the scope the client kept: GET user answered %d", status)
	}
}

// TestPutOffSessionEndsItsGraceOnceMethodsExist: a sign-in that put
// registration off (password only, within the grace) keeps no password-only
// access once the person has registered a method elsewhere: My Account
// (where the password can be changed, signing the owner out) and the next
// app ask for that method, as a new sign-in would.
func TestPutOffSessionEndsItsGraceOnceMethodsExist(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods, cfg.MFA.Grace.Skips = 1, 2 })
	attacker := newBrowser(t, rpRedirect)
	p := attacker.submit(attacker.submit(m.start(attacker), act("next")), act("skip"))
	if c := m.claims(p); c.ACR != "pwd" {
		t.Fatalf("the put-off sign-in: acr=%q", c.ACR)
	}
	mustSee(t, attacker.get(m.gh.Issuer+"/account"), "Security info")

	m.enrollApp(newBrowser(t, rpRedirect)) // the owner, on their own device

	if p := attacker.get(m.gh.Issuer + "/account"); strings.Contains(p.Body, "Security info") || strings.Contains(p.Body, "Change password") {
		t.Error("My Account opened on a password-only session after the owner registered a method")
	}
	p = attacker.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce)))
	if strings.HasPrefix(p.Location, rpRedirect) {
		t.Errorf("a password-only session got a code after the owner registered a method: %s", p.Location)
	}
}

// TestLogoutDuringDatabaseOutage: a sign-out whose return address cannot
// be checked because the database does not answer is "try again in a
// moment", never "not registered for this application".
func TestLogoutDuringDatabaseOutage(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	rp := gh.registerApp(t, clients.Registration{Name: "LMS", PostLogoutRedirectURIs: []string{"http://127.0.0.1:9999/bye"}}, "openid")
	logout := gh.Issuer + "/oauth2/logout?" + url.Values{"client_id": {rp.ClientID}, "post_logout_redirect_uri": {"http://127.0.0.1:9999/bye"}}.Encode()
	execSQL(t, c, "ALTER TABLE clients RENAME TO clients_away")
	p := newBrowser(t, rpRedirect).get(logout)
	execSQL(t, c, "ALTER TABLE clients_away RENAME TO clients")
	if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" || strings.Contains(p.Body, "not registered") {
		t.Fatalf("logout with the database away: %d (Retry-After %q)\n%s", p.Status, p.Header.Get("Retry-After"), p.Body)
	}
	if p := newBrowser(t, "http://127.0.0.1:9999/bye").get(logout); !strings.HasPrefix(p.Location, "http://127.0.0.1:9999/bye") {
		t.Fatalf("logout with the database back: %d %q", p.Status, p.Location)
	}
}

// refusingWrites makes Redis refuse writes to keys containing part while
// on is set (a full Redis refuses SET with OOM), leaving reads alone.
type refusingWrites struct {
	part string
	on   *atomic.Bool
}

func (f refusingWrites) DialHook(next redis.DialHook) redis.DialHook { return next }
func (f refusingWrites) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (f refusingWrites) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); f.on.Load() && cmd.Name() == "set" && len(args) > 1 && strings.Contains(fmt.Sprint(args[1]), f.part) {
			err := errors.New("OOM command not allowed when used memory > 'maxmemory'")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

// TestRedisRefusingWritesIsNotAnExpiredSignIn: a sign-in step, or a
// password reset step, whose state Redis would not store or read is "try
// again in a moment" (503), never "Sign-in expired" or "Password reset
// expired", which would send the person back to the start.
func TestRedisRefusingWritesIsNotAnExpiredSignIn(t *testing.T) {
	c := newCluster(t)
	mini := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mini.Addr(), MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	var refusing atomic.Bool
	client.AddHook(refusingWrites{part: "flow:", on: &refusing})
	c.redis = &testenv.Redis{Client: client, Prefix: "refusing:", URL: "redis://" + mini.Addr(), Mini: mini}
	gh := c.start()
	gh.createUser(t, "student")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")

	b := newBrowser(t, rpRedirect)
	p := b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	refusing.Store(true)
	p = b.submit(p, url.Values{"username": {"student"}})
	refusing.Store(false)
	if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" || strings.Contains(p.Body, "expired") {
		t.Errorf("the username step while Redis refused the flow: %d (Retry-After %q)\n%s", p.Status, p.Header.Get("Retry-After"), p.Body)
	}

	r := newBrowser(t, rpRedirect)
	p = r.submit(r.get(gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	mini.Close()
	p = r.get(gh.Issuer + "/reset/verify")
	if p.Status != http.StatusServiceUnavailable || strings.Contains(p.Body, "expired") {
		t.Errorf("a password reset page while Redis is away: %d\n%s", p.Status, p.Body)
	}
}

// TestSignInContinuesAfterSelfServiceReset: "Can't access your account?"
// from an app's sign-in, a reset, and back to that sign-in with the new
// password: the sign-in completes. The reset signs the person out
// everywhere, but a sign-in whose password was typed after it is not one
// the reset ended.
func TestSignInContinuesAfterSelfServiceReset(t *testing.T) {
	m, sink, secret := newSSPRRig(t, nil)
	b := newBrowser(t, rpRedirect)
	p := b.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce)))
	flowID := p.URL.Query().Get("flow")
	p = b.submit(b.get(m.gh.Issuer+"/reset?flow="+flowID), url.Values{"username": {"student"}})
	p = b.submit(p, act("choose", "option", optionValue(t, p, "Email my alternate email")))
	p = b.submit(p, act("verify", "code", sink.lastCode(t)))
	p = b.submit(p, act("choose", "option", optionValue(t, p, "Text my mobile phone")))
	p = b.submit(p, act("verify", "code", m.lastCode(phone)))
	p = b.submit(p, act("password", "new_password", "reset correct horse", "confirm_password", "reset correct horse"))
	mustSee(t, p, "Your password has been reset")

	p = b.get(m.gh.Issuer + "/login/username?flow=" + flowID)
	p = b.signIn(p, "student", "reset correct horse")
	p = b.submit(p, act("verify", "code", totpCode(t, secret, time.Now().Add(30*time.Second))))
	if c := m.claims(p); c.ACR != "mfa" {
		t.Fatalf("the sign-in after the reset: acr=%q", c.ACR)
	}
}

// TestSignOutEverywhereForgetsRememberedDevices: after the Help Desk signs
// someone out everywhere (the answer to "someone else is in my account"), a
// browser that was told "Don't ask again" is asked for the second factor
// again: the password alone does not sign it back in.
func TestSignOutEverywhereForgetsRememberedDevices(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1; cfg.MFA.RememberDeviceDays = 30 })
	_, secret := m.enrollApp(newBrowser(t, rpRedirect))
	b := newBrowser(t, rpRedirect)
	p := b.submit(m.start(b), act("verify", "code", totpCode(t, secret, time.Now().Add(30*time.Second)), "remember", "yes"))
	m.claims(p)

	time.Sleep(2 * time.Millisecond) // the stamp comes after the sign-in
	if err := m.gh.App.Admin.RevokeSessions(t.Context(), admin.CLI, "student"); err != nil {
		t.Fatal(err)
	}
	mustSee(t, m.start(b), "Enter code")
}
