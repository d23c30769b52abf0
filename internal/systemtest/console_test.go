package systemtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// consoleRig is a server whose policy asks everyone for one method, an
// authenticator app, without requiring MFA of every app: password-only
// sessions exist, and the console must refuse them.
type consoleRig struct {
	t    *testing.T
	c    *cluster
	gh   *instance
	keys map[string]string // authenticator keys by username
	uses map[string]int    // codes entered since registration, by username
}

func newConsoleRig(t *testing.T) *consoleRig {
	c := newCluster(t)
	c.configure = func(cfg *config.Config) {
		cfg.MFA = config.Default().MFA
		cfg.MFA.RequireForAllClients, cfg.MFA.RequiredMethods = false, 1
		cfg.MFA.PolicyRefresh = config.Duration{Duration: 50 * time.Millisecond} // policy edits show at once
	}
	return &consoleRig{t: t, c: c, gh: c.start(), keys: map[string]string{}, uses: map[string]int{}}
}

// person creates a user with roles.
func (r *consoleRig) person(name string, roles ...string) *identity.User {
	u := r.gh.createUser(r.t, name)
	if err := r.gh.App.Users.SetRoles(r.t.Context(), u.ID, roles); err != nil {
		r.t.Fatal(err)
	}
	return u
}

// signIn opens the console in a new browser and signs name in: password,
// then the authenticator app (registered on first use). It returns the
// page the console lands on.
func (r *consoleRig) signIn(name string) (*browser, pageResp) {
	r.t.Helper()
	b := newBrowser(r.t, rpRedirect)
	p := b.signIn(b.get(r.gh.Issuer+"/admin/login"), name, testPassword)
	return b, r.secondFactor(b, p, name)
}

// secondFactor proves the app on the page after the password. Each code
// is from a later step than the last one used.
func (r *consoleRig) secondFactor(b *browser, p pageResp, name string) pageResp {
	t := r.t
	t.Helper()
	if key, ok := r.keys[name]; ok {
		mustSee(t, p, "Enter code")
		r.uses[name]++
		return b.submit(p, act("verify", "code", totpCode(t, key, time.Now().Add(time.Duration(r.uses[name])*30*time.Second))))
	}
	mustSee(t, p, "More information required")
	p = b.submit(p, act("next"))
	key := totpSecret(t, p)
	p = b.submit(p, act("verify", "code", totpCode(t, key, time.Now())))
	p = b.submit(p, act("continue"))
	mustSee(t, p, "Setup is now complete")
	r.keys[name] = key
	return b.submit(p, act("done"))
}

// post submits the form on p whose action is action, with the page's CSRF
// token, as a person pressing its button would.
func post(b *browser, p pageResp, action string, fields url.Values) pageResp {
	b.t.Helper()
	token := csrfField.FindStringSubmatch(p.Body)
	if token == nil || !strings.Contains(p.Body, `<form method="post" action="`+action+`"`) {
		b.t.Fatalf("no form for %s on %s (status %d):\n%s", action, p.URL, p.Status, p.Body)
	}
	if fields == nil {
		fields = url.Values{}
	}
	fields.Set("csrf_token", html.UnescapeString(token[1]))
	return b.postForm(p.URL.ResolveReference(&url.URL{Path: action}).String(), fields)
}

func (b *browser) postForm(target string, fields url.Values) pageResp {
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// upload posts a file to the import form on p.
func upload(b *browser, p pageResp, csvText string, skipBadRows bool) pageResp {
	b.t.Helper()
	token := csrfField.FindStringSubmatch(p.Body)
	if token == nil {
		b.t.Fatalf("no form on %s:\n%s", p.URL, p.Body)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf_token", html.UnescapeString(token[1]))
	if skipBadRows {
		mw.WriteField("continue_on_error", "yes")
	}
	fw, _ := mw.CreateFormFile("file", "students.csv")
	fw.Write([]byte(csvText))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, p.URL.ResolveReference(&url.URL{Path: "/admin/import"}).String(), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

var (
	shownClientID     = regexp.MustCompile(`<code id="client-id">([^<]+)</code>`)
	shownClientSecret = regexp.MustCompile(`<p class="secret" id="client-secret">([^<]+)</p>`)
	shownTempPassword = regexp.MustCompile(`<p class="secret" id="temporary-password">([^<]+)</p>`)
)

// TestConsoleRegistersAnApp: an admin signs in to the console with MFA and
// registers an app; refused values come back with every problem and every
// value kept; the secret is shown once; the app then signs a user in with
// a real relying party.
func TestConsoleRegistersAnApp(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	principal := r.person("principal", identity.RoleAdmin)
	r.person("teacher")

	b, p := r.signIn("principal")
	if p.URL.Path != "/admin/" {
		t.Fatalf("after sign-in: %d %s", p.Status, p.URL)
	}
	mustSee(t, p, "Admin console", "Signed in as principal@district.example", "Applications", "Users", "Import", "Audit log", "Sign out")

	form := b.get(r.gh.Issuer + "/admin/clients/new")
	mustSee(t, form, "Register an application", "Redirect URIs", "Grant types", "Required assurance level")
	fields := url.Values{"name": {"Library"}, "description": {"The school library"}, "type": {"confidential"},
		"redirect_uris": {"http://library.example/cb#frag\n" + rpRedirect}, "grant_types": {"authorization_code", "refresh_token"},
		"scopes": {"openid", "profile"}, "token_endpoint_auth_method": {""}, "required_acr": {""}}
	p = post(b, form, "/admin/clients/new", fields)
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid redirect URI: %d", p.Status)
	}
	mustSee(t, p, "Fix these problems", "must not contain a fragment")
	if !strings.Contains(p.Body, `value="Library"`) || !strings.Contains(p.Body, "The school library") || !strings.Contains(p.Body, rpRedirect) {
		t.Fatalf("the refused form lost values:\n%s", p.Body)
	}

	fields.Set("redirect_uris", rpRedirect)
	p = post(b, p, "/admin/clients/new", fields)
	mustSee(t, p, "Application registered", "Copy it now; it won't be shown again")
	id, secret := shownClientID.FindStringSubmatch(p.Body), shownClientSecret.FindStringSubmatch(p.Body)
	if id == nil || secret == nil {
		t.Fatalf("no client ID or secret shown:\n%s", p.Body)
	}
	clientID, clientSecret := id[1], secret[1]
	detail := b.get(r.gh.Issuer + "/admin/clients/" + clientID)
	mustSee(t, detail, "Library", clientID, "Rotate secret", "Disable", "Delete")
	if strings.Contains(detail.Body, clientSecret) {
		t.Fatal("the secret is shown again on the application's page")
	}
	list := b.get(r.gh.Issuer + "/admin/clients")
	mustSee(t, list, "Library", "Gatehouse admin console")

	// The app signs a teacher in (who registers the app on the way).
	provider, err := oidc.NewProvider(ctx, r.gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect,
		Scopes: []string{"openid", "profile"}}
	pkce := oauth2.GenerateVerifier()
	tb := newBrowser(t, rpRedirect)
	p = tb.signIn(tb.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "teacher", testPassword)
	code := codeFrom(t, r.secondFactor(tb, p, "teacher"), rpRedirect, "state-0001", r.gh.Issuer)
	tok, err := rp.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims idClaims
	idt.Claims(&claims)
	if claims.PreferredUsername != "teacher@district.example" {
		t.Fatalf("claims %+v", claims)
	}

	// Editing keeps what the form doesn't change; disabling is undone by enabling.
	edit := b.get(r.gh.Issuer + "/admin/clients/" + clientID + "/edit")
	mustSee(t, edit, "Edit Library", "Save changes")
	fields.Set("name", "Library catalogue")
	p = post(b, edit, "/admin/clients/"+clientID+"/edit", fields)
	mustSee(t, p, "The application was updated.", "Library catalogue", rpRedirect)
	p = post(b, p, "/admin/clients/"+clientID+"/disable", nil)
	mustSee(t, p, "The application was disabled.", "Enable")
	p = post(b, p, "/admin/clients/"+clientID+"/enable", nil)
	mustSee(t, p, "The application was enabled.")

	// Rotating asks first, shows a new secret once, and the old one keeps
	// working for the overlap.
	confirm := b.get(r.gh.Issuer + "/admin/clients/" + clientID + "/rotate-secret")
	mustSee(t, confirm, "Rotate the secret of Library catalogue?", "keeps working for 24 hours")
	p = post(b, confirm, "/admin/clients/"+clientID+"/rotate-secret", nil)
	mustSee(t, p, "New client secret", "Copy it now", "The previous secret keeps working until")
	if s := shownClientSecret.FindStringSubmatch(p.Body); s == nil || s[1] == clientSecret {
		t.Fatal("no new secret shown")
	}
	if _, err := rp.Exchange(ctx, "any-code"); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("the old secret during the overlap: %v", err)
	}
	mustSee(t, b.get(r.gh.Issuer+"/admin/clients/"+clientID), "The secret it had before the last rotation keeps working until")

	// The console's own registration is shown but can't be changed here.
	all, _ := r.gh.App.Clients.List(ctx)
	for _, c := range all {
		if c.Name == "Gatehouse admin console" {
			mustSee(t, b.get(r.gh.Issuer+"/admin/clients/"+c.ID), "Gatehouse manages it")
			if p := b.postForm(r.gh.Issuer+"/admin/clients/"+c.ID+"/delete", url.Values{"csrf_token": {csrfField.FindStringSubmatch(detail.Body)[1]}}); p.Status != http.StatusConflict {
				t.Fatalf("deleting the console's client: %d", p.Status)
			}
		}
	}

	// Delete asks first.
	p = b.get(r.gh.Issuer + "/admin/clients/" + clientID + "/delete")
	mustSee(t, p, "Delete Library catalogue?", "can't be undone")
	p = post(b, p, "/admin/clients/"+clientID+"/delete", nil)
	mustSee(t, p, "The application was deleted.")
	if _, err := r.gh.App.Clients.Get(ctx, clientID); err == nil {
		t.Fatal("the client still exists")
	}

	// Both changes are audited with the admin as actor, and the audit page
	// shows them by name.
	events, err := r.gh.App.Audit.List(ctx, audit.Filter{Type: "client.created"})
	if err != nil || len(events) != 1 || events[0].ActorID != principal.ID {
		t.Fatalf("client.created: %+v %v", events, err)
	}
	p = b.get(r.gh.Issuer + "/admin/audit?type=client.deleted")
	mustSee(t, p, "client.deleted", "principal")
	csvExport := b.get(r.gh.Issuer + "/admin/audit/export?type=client.created")
	if !strings.HasPrefix(csvExport.Body, "time,type,outcome,actor_id,subject_id,client_id,ip,user_agent,details") ||
		!strings.Contains(csvExport.Body, principal.ID) {
		t.Fatalf("export:\n%s", csvExport.Body)
	}

	// Signing out ends the console session and the Gatehouse one.
	p = post(b, b.get(r.gh.Issuer+"/admin/"), "/admin/logout", nil)
	if p.URL.Path != "/admin/" || !strings.Contains(p.Body, `href="/admin/login"`) {
		t.Fatalf("after sign-out: %d %s\n%s", p.Status, p.URL, p.Body)
	}
	mustSee(t, b.get(r.gh.Issuer+"/admin/users"), "Sign in", "Username")
}

// TestConsoleAccess: the Help Desk sees Users but not Applications or the
// audit log; a person without a role is turned away after signing in; a
// removed role takes effect at once; a password-only session cannot reach
// the console.
func TestConsoleAccess(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	desk := r.person("deskaid", identity.RoleHelpdesk)
	r.person("clerk")

	b, p := r.signIn("deskaid")
	mustSee(t, p, "Signed in as deskaid@district.example", "Users", "Import")
	if strings.Contains(p.Body, `href="/admin/clients"`) || strings.Contains(p.Body, `href="/admin/audit"`) {
		t.Fatal("the Help Desk is offered Applications or the audit log")
	}
	for _, path := range []string{"/admin/clients", "/admin/clients/new", "/admin/audit", "/admin/audit/export"} {
		if p := b.get(r.gh.Issuer + path); p.Status != http.StatusForbidden {
			t.Fatalf("helpdesk %s: %d", path, p.Status)
		}
	}
	p = b.get(r.gh.Issuer + "/admin/users?q=clerk")
	mustSee(t, p, "Test clerk", "clerk@district.example")

	// The role is read on every request.
	if err := r.gh.App.Users.SetRoles(ctx, desk.ID, nil); err != nil {
		t.Fatal(err)
	}
	p = b.get(r.gh.Issuer + "/admin/users")
	if p.Status != http.StatusForbidden {
		t.Fatalf("after the role was removed: %d", p.Status)
	}
	mustSee(t, p, "You don't have access to the admin console")

	// No role: the sign-in works, the console doesn't.
	_, p = r.signIn("clerk")
	if p.Status != http.StatusForbidden {
		t.Fatalf("plain user: %d %s", p.Status, p.URL)
	}
	mustSee(t, p, "You don't have access to the admin console")

	// A password-only session (an app that doesn't ask for MFA) gets the
	// code prompt, not the console.
	r.person("tech", identity.RoleHelpdesk)
	lms, _ := r.gh.createClient(t, clients.Registration{Name: "LMS", Public: true, RedirectURIs: []string{rpRedirect}})
	pkce := oauth2.GenerateVerifier()
	lmsURL := r.gh.Issuer + "/oauth2/authorize?" + url.Values{"client_id": {lms.ID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {rpRedirect}, "state": {"state-0001"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(pkce)},
		"code_challenge_method": {"S256"}}.Encode()
	first := newBrowser(t, rpRedirect)
	codeFrom(t, r.secondFactor(first, first.signIn(first.get(lmsURL), "tech", testPassword), "tech"), rpRedirect, "state-0001", r.gh.Issuer)
	pwd := newBrowser(t, rpRedirect)
	codeFrom(t, pwd.signIn(pwd.get(lmsURL), "tech", testPassword), rpRedirect, "state-0001", r.gh.Issuer)
	for _, path := range []string{"/admin/login", "/admin/users"} {
		p = pwd.get(r.gh.Issuer + path)
		mustSee(t, p, "Enter code")
		if strings.Contains(p.Body, "Signed in as") {
			t.Fatalf("%s reached the console with a password-only session", path)
		}
	}

	// Were the console's registration loosened to accept any sign-in (and
	// its request stripped of acr_values), the console still refuses an ID
	// token without acr=mfa.
	all, _ := r.gh.App.Clients.List(ctx)
	var con clients.Client
	for _, c := range all {
		if c.Name == "Gatehouse admin console" {
			con = c
		}
	}
	loose := con.Registration()
	loose.RequiredACR = ""
	if _, _, err := r.gh.App.Clients.Update(ctx, con.ID, loose); err != nil {
		t.Fatal(err)
	}
	toAuthorize := &browser{t: t, http: &http.Client{Jar: pwd.http.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	authz, _ := url.Parse(toAuthorize.get(r.gh.Issuer + "/admin/login").Location)
	q := authz.Query()
	if q.Get("acr_values") != "mfa" || q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("console authorization request: %s", authz)
	}
	q.Del("acr_values")
	authz.RawQuery = q.Encode()
	p = pwd.get(authz.String())
	if p.Status != http.StatusForbidden || p.URL.Path != "/admin/callback" {
		t.Fatalf("a password-level ID token: %d %s", p.Status, p.URL)
	}
	mustSee(t, p, "needs a sign-in with a second factor")
	if p := pwd.get(r.gh.Issuer + "/admin/users"); strings.Contains(p.Body, "Signed in as") {
		t.Fatal("a password-level ID token opened a console session")
	}
	if _, _, err := r.gh.App.Clients.Update(ctx, con.ID, con.Registration()); err != nil {
		t.Fatal(err)
	}

	// With the code, the same browser gets in.
	p = pwd.get(r.gh.Issuer + "/admin/users")
	mustSee(t, r.secondFactor(pwd, p, "tech"), "Signed in as tech@district.example")
}

// TestConsoleCSRF: a console form posted without its token, or with a
// token from another session, is refused and changes nothing.
func TestConsoleCSRF(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	r.person("principal", identity.RoleAdmin)
	kid := r.person("kid")
	b, _ := r.signIn("principal")
	page := b.get(r.gh.Issuer + "/admin/users/" + kid.ID)
	mustSee(t, page, "Test kid", "Disable account")
	before, _ := r.gh.App.Clients.List(ctx)

	other, _ := r.signIn("principal")
	foreign := csrfField.FindStringSubmatch(other.get(r.gh.Issuer + "/admin/").Body)[1]
	for _, token := range []string{"", "forged", foreign} {
		fields := url.Values{}
		if token != "" {
			fields.Set("csrf_token", token)
		}
		if p := b.postForm(r.gh.Issuer+"/admin/users/"+kid.ID+"/disable", fields); p.Status != http.StatusForbidden {
			t.Fatalf("disable with token %q: %d", token, p.Status)
		}
		fields.Set("name", "Sneaky")
		fields.Set("redirect_uris", rpRedirect)
		if p := b.postForm(r.gh.Issuer+"/admin/clients/new", fields); p.Status != http.StatusForbidden {
			t.Fatalf("register with token %q: %d", token, p.Status)
		}
	}
	if u, _ := r.gh.App.Users.Get(ctx, kid.ID); u.Disabled {
		t.Fatal("a forged form disabled the user")
	}
	if after, _ := r.gh.App.Clients.List(ctx); len(after) != len(before) {
		t.Fatal("a forged form registered a client")
	}
	// With the page's own token the same action works.
	p := post(b, page, "/admin/users/"+kid.ID+"/disable", nil)
	mustSee(t, p, "The account was disabled")
	if u, _ := r.gh.App.Users.Get(ctx, kid.ID); !u.Disabled {
		t.Fatal("the real form did not disable the user")
	}
}

// TestConsoleImport: the preview lists every row and writes nothing;
// confirming writes; a preview is used once; the Help Desk cannot import
// roles or change an administrator by import.
func TestConsoleImport(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	r.person("deskaid", identity.RoleHelpdesk)
	r.person("principal", identity.RoleAdmin)
	b, _ := r.signIn("deskaid")
	form := b.get(r.gh.Issuer + "/admin/import")
	mustSee(t, form, "Import users", "CSV file")

	file := "username,email,display_name,password\n" +
		"amy,amy@home.example,Amy A,imported password 1\n" +
		"ben,,Ben B,imported password 2\n" +
		"bad name,,,\n" +
		"cal,,Cal C,imported password 3\n"
	count := func() int {
		n := 0
		for _, name := range []string{"amy", "ben", "cal"} {
			if _, err := r.gh.App.Users.Find(ctx, name); err == nil {
				n++
			}
		}
		return n
	}

	p := upload(b, form, file, false)
	mustSee(t, p, "Nothing has been written yet", "3 to create", "1 with problems", "Nothing can be imported", "Reject")
	if strings.Contains(p.Body, "/admin/import/confirm") {
		t.Fatal("a file with a bad row offers to import")
	}
	p = upload(b, form, file, true)
	mustSee(t, p, "Nothing has been written yet", "amy@district.example", "bad name", "Import 3 users")
	if n := count(); n != 0 {
		t.Fatalf("the preview wrote %d users", n)
	}
	confirmed := post(b, p, "/admin/import/confirm", url.Values{"import": {importID(t, p)}})
	mustSee(t, confirmed, "Imported: 3 created", "1 rows skipped")
	if n := count(); n != 3 {
		t.Fatalf("the import wrote %d users", n)
	}
	if again := post(b, p, "/admin/import/confirm", url.Values{"import": {importID(t, p)}}); again.Status != http.StatusGone {
		t.Fatalf("a preview confirmed twice: %d", again.Status)
	}
	events, _ := r.gh.App.Audit.List(ctx, audit.Filter{Type: "user.imported"})
	if len(events) != 3 { // one for each person created
		t.Fatalf("user.imported events: %d", len(events))
	}

	for _, f := range []string{
		"username,display_name,password,roles\nmole,Mole,imported password 4,admin\n",
		"username,display_name,password\nprincipal,Took over,imported password 5\n",
	} {
		if p := upload(b, form, f, false); p.Status != http.StatusForbidden {
			t.Fatalf("helpdesk import beyond their role: %d\n%s", p.Status, p.Body)
		}
	}
	if _, err := r.gh.App.Users.Find(ctx, "mole"); err == nil {
		t.Fatal("the refused file was imported")
	}
}

var importField = regexp.MustCompile(`name="import" value="([^"]+)"`)

func importID(t *testing.T, p pageResp) string {
	m := importField.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no confirm button:\n%s", p.Body)
	}
	return html.UnescapeString(m[1])
}

// TestConsoleHelpdeskResetsMethods: the Help Desk sees a person's masked
// methods, recovery codes left and recent sign-ins, removes the methods
// (and voids the codes) from the console, and
// the audit log names them; an administrator's account is out of their
// reach.
func TestConsoleHelpdeskResetsMethods(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	desk := r.person("deskaid", identity.RoleHelpdesk)
	boss := r.person("principal", identity.RoleAdmin)
	kid := r.person("kid")
	if err := r.gh.App.DB.CreateMethod(ctx, &mfa.Method{ID: "m1", UserID: kid.ID, Kind: mfa.Phone, Phone: "+17045550112",
		Factor: mfa.FactorSMS, IsDefault: true, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := r.gh.App.DB.ReplaceRecoveryCodes(ctx, kid.ID, []string{"h1", "h2", "h3"}, time.Now(), audit.Event{Type: "mfa.recovery_codes_generated", SubjectID: kid.ID}); err != nil {
		t.Fatal(err)
	}

	b, p := r.signIn("deskaid")
	p = b.get(r.gh.Issuer + "/admin/users?q=kid")
	mustSee(t, p, "Test kid")
	p = b.get(r.gh.Issuer + "/admin/users/" + kid.ID)
	mustSee(t, p, "Security methods", "Phone", "+1 704 XXX XX12", "Recovery codes: 3 left", "Require re-registration", "Reset password")
	if strings.Contains(p.Body, "5550112") {
		t.Fatal("the phone number is shown unmasked")
	}
	p = post(b, p, "/admin/users/"+kid.ID+"/reset-methods", nil)
	mustSee(t, p, "Their security methods were removed", "None registered", "Recovery codes: none")
	if methods, _ := r.gh.App.DB.ListMethods(ctx, kid.ID); len(methods) != 0 {
		t.Fatalf("methods left: %d", len(methods))
	}
	events, err := r.gh.App.Admin.AuditEvents(ctx, admin.CLI, audit.Filter{Type: "mfa.methods_reset", SubjectID: kid.ID})
	if err != nil || len(events) != 1 || events[0].ActorID != desk.ID {
		t.Fatalf("audit: %+v %v", events, err)
	}

	// A temporary password is shown once.
	p = post(b, b.get(r.gh.Issuer+"/admin/users/"+kid.ID), "/admin/users/"+kid.ID+"/reset-password", nil)
	mustSee(t, p, "Temporary password", "Copy it now; it won't be shown again")
	temp := shownTempPassword.FindStringSubmatch(p.Body)
	if temp == nil {
		t.Fatalf("no password shown:\n%s", p.Body)
	}
	if _, err := r.gh.App.Users.Authenticate(ctx, "kid", html.UnescapeString(temp[1])); err != nil {
		t.Fatalf("the temporary password doesn't work: %v", err)
	}

	// A new account gets a temporary password, shown once; the Help Desk
	// can't give it a role.
	form := b.get(r.gh.Issuer + "/admin/users/new")
	if strings.Contains(form.Body, `name="roles"`) {
		t.Fatal("the Help Desk is offered roles")
	}
	p = post(b, form, "/admin/users/new", url.Values{"username": {"newkid"}, "display_name": {"New Kid"}, "email": {"not an address"}})
	mustSee(t, p, "The user can't be created", "is not an email address")
	if !strings.Contains(p.Body, `value="newkid"`) {
		t.Fatal("the refused form lost the username")
	}
	p = post(b, p, "/admin/users/new", url.Values{"username": {"newkid"}, "display_name": {"New Kid"}})
	mustSee(t, p, "newkid@district.example was created", "Copy it now; it won't be shown again")
	if temp := shownTempPassword.FindStringSubmatch(p.Body); temp == nil {
		t.Fatal("no temporary password shown")
	} else if u, err := r.gh.App.Users.Authenticate(ctx, "newkid", html.UnescapeString(temp[1])); err != nil || !u.MustChangePassword {
		t.Fatalf("the new account: %v", err)
	}
	if p := post(b, form, "/admin/users/new", url.Values{"username": {"mole"}, "roles": {"admin"}}); p.Status != http.StatusForbidden {
		t.Fatalf("helpdesk creating an admin: %d", p.Status)
	}

	// Their own sign-in is on their page.
	mustSee(t, b.get(r.gh.Issuer+"/admin/users/"+desk.ID), "Recent sign-ins", "Signed in")

	// An administrator's account: no buttons, and the service refuses.
	p = b.get(r.gh.Issuer + "/admin/users/" + boss.ID)
	mustSee(t, p, "Only an administrator can change the account of an administrator")
	if strings.Contains(p.Body, "/reset-password") {
		t.Fatal("the Help Desk is offered a reset of an administrator")
	}
	token := csrfField.FindStringSubmatch(p.Body)[1]
	if p := b.postForm(r.gh.Issuer+"/admin/users/"+boss.ID+"/reset-password", url.Values{"csrf_token": {token}}); p.Status != http.StatusForbidden {
		t.Fatalf("helpdesk reset of an admin: %d", p.Status)
	}
	if p := b.get(r.gh.Issuer + "/admin/users/no-such-person"); p.Status != http.StatusNotFound {
		t.Fatalf("unknown user: %d", p.Status)
	}
}

// TestConsoleClientRegisteredOnce: building the server again (a restart)
// finds the console's registration and leaves it as it was: same ID, same
// derived secret, no write.
func TestConsoleClientRegisteredOnce(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	console := func() []clients.Client {
		all, err := gh.App.Clients.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []clients.Client
		for _, cl := range all {
			if cl.Name == "Gatehouse admin console" {
				out = append(out, cl)
			}
		}
		return out
	}
	before := console()
	if _, err := gh.App.Handler(c.redis.Client, c.redis.Prefix); err != nil {
		t.Fatal(err)
	}
	after := console()
	if len(before) != 1 || len(after) != 1 || !after[0].UpdatedAt.Equal(before[0].UpdatedAt) || !bytes.Equal(after[0].SecretHash, before[0].SecretHash) {
		t.Fatalf("before %+v\nafter %+v", before, after)
	}
	if before[0].RequiredACR != assurance.MFA || before[0].Public || before[0].RedirectURIs[0] != gh.Issuer+"/admin/callback" {
		t.Fatalf("registration %+v", before[0])
	}
}

// TestConsoleIdleTimeout: a console session nobody used for half an hour
// ends, and the sign-in that follows must be as recent, so an unattended
// console asks for the password and second factor again; activity keeps a
// session alive.
func TestConsoleIdleTimeout(t *testing.T) {
	r := newConsoleRig(t)
	r.person("itadmin", identity.RoleAdmin)
	b, p := r.signIn("itadmin")
	mustSee(t, p, "Signed in as itadmin@district.example")
	issuer, _ := url.Parse(r.gh.Issuer + "/admin/")

	// Twenty-nine minutes idle: still signed in.
	r.backdate(sessionKeyOf(b, issuer, "gatehouse_admin", "admin-session:"), "last_seen", 29*time.Minute)
	mustSee(t, b.get(r.gh.Issuer+"/admin/users"), "Signed in as itadmin@district.example")

	// Thirty-one minutes idle, and the Gatehouse sign-in as old: the
	// console sends the browser to sign in again, password first.
	r.backdate(sessionKeyOf(b, issuer, "gatehouse_admin", "admin-session:"), "last_seen", 31*time.Minute)
	r.backdate(sessionKeyOf(b, issuer, r.gh.App.Config.Session.CookieName, "session:"), "auth_time", 31*time.Minute)
	p = b.get(r.gh.Issuer + "/admin/users")
	mustSee(t, p, "Sign in")
	p = r.secondFactor(b, b.signIn(p, "itadmin", testPassword), "itadmin")
	mustSee(t, p, "Signed in as itadmin@district.example", "Users")
}

// sessionKeyOf is the Redis key (without the test's prefix) of the session
// the browser's cookie names: prefix plus the SHA-256 of the cookie.
func sessionKeyOf(b *browser, u *url.URL, cookie, prefix string) string {
	for _, ck := range b.http.Jar.Cookies(u) {
		if ck.Name == cookie {
			sum := sha256.Sum256([]byte(ck.Value))
			return prefix + hex.EncodeToString(sum[:])
		}
	}
	return ""
}

// backdate moves a time field of the JSON stored at key ago into the past,
// keeping its TTL: what half an hour of nobody touching it would leave.
func (r *consoleRig) backdate(key, field string, ago time.Duration) {
	t := r.t
	t.Helper()
	rdb, full := r.c.redis.Client, r.c.redis.Prefix+key
	raw, err := rdb.Get(t.Context(), full).Bytes()
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	v[field] = time.Now().Add(-ago).UTC().Format(time.RFC3339Nano)
	raw, _ = json.Marshal(v)
	if err := rdb.SetArgs(t.Context(), full, raw, redis.SetArgs{KeepTTL: true}).Err(); err != nil {
		t.Fatal(err)
	}
}
