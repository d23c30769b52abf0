package systemtest

import (
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/delivery"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// TestSignInInvariants drives random interleavings of what people do —
// the owner of an account and a classmate who saw the password,
// each in several browsers, pressing back, reusing stale pages, opening My
// Account, changing the password, while the Help Desk resets methods and
// the password, issues access codes and signs the person out everywhere —
// against the real handlers. After every step it
// checks the invariants:
//
//   - every code issued redeems to an ID token at the level the policy and
//     the app require (the district policy requires MFA of everyone);
//   - a method is added without proving an existing one only when the
//     account has none and no access code is pending (first registration);
//   - a browser is signed in (My Account opens, prompt=none gets a code)
//     only after proving a second factor since the last sign-out everywhere;
//   - every Help Desk action is in the audit log.
//
// A fixed seed runs modelSequences sequences in the normal suite; each
// further run in the same process (go test -run TestSignInInvariants
// -count=N) takes the next seeds. A failure prints the sequence as a script.
func TestSignInInvariants(t *testing.T) {
	run := modelRuns.Add(1) - 1
	w := newModelWorld(t)
	for seq := range modelSequences {
		seed := uint64(run)*modelSequences + uint64(seq)
		w.play(seed)
	}
}

const (
	modelSequences = 250
	modelSteps     = 32
)

var modelRuns atomic.Int64

// modelWorld is one server shared by every sequence: each sequence has a
// person of its own.
type modelWorld struct {
	t        *testing.T
	c        *cluster
	gh       *instance
	apps     []*modelApp
	admin    admin.Actor
	helpdesk *adminClient
}

type modelApp struct {
	rp       *relyingParty
	verifier *oidc.IDTokenVerifier
	pkce     string
}

func newModelWorld(t *testing.T) *modelWorld {
	c := newCluster(t)
	c.configure = func(cfg *config.Config) {
		cfg.MFA = config.Default().MFA
		cfg.MFA.RequiredMethods = 1
		cfg.MFA.RegistrationOrder = []string{"email"}
		cfg.MFA.ResendCooldown = config.Duration{Duration: time.Millisecond}
		// Every sequence signs in from the same address: limits are not
		// what this test is about.
		cfg.MFA.Limits = config.MFALimits{SendsPerUser: 1000, SendsPerIP: 100000, SendsPerDestination: 1000, SendsPerCountry: 100000,
			VerifiesPerUser: 1000, VerifiesPerIP: 100000}
	}
	w := &modelWorld{t: t, c: c, gh: c.start()}
	for _, r := range []clients.Registration{{Name: "LMS"}, {Name: "HR", RequiredACR: assurance.MFA}} {
		rp := w.gh.registerApp(t, r, "openid")
		w.apps = append(w.apps, &modelApp{rp: rp, pkce: oauth2.GenerateVerifier(),
			verifier: rp.Provider.Verifier(&oidc.Config{ClientID: rp.ClientID})})
	}
	principal := w.gh.createUser(t, "model-admin")
	if err := w.gh.App.Users.SetRoles(t.Context(), principal.ID, []string{identity.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	w.admin = admin.Actor{ID: principal.ID, Roles: []string{identity.RoleAdmin}, IP: "127.0.0.1"}
	w.helpdesk = &adminClient{t: t, base: w.gh.Issuer, token: adminToken(t, w.gh, assurance.ScopeUsersWrite)}
	return w
}

// modelActor is one browser and what its user knows.
type modelActor struct {
	name    string
	owner   bool // the account's owner; otherwise a classmate with the password
	b       *browser
	email   string
	secrets []string // authenticator keys this person scanned
	page    pageResp
	history []pageResp
	proved  int // the sign-out epoch in which this browser last proved a second factor; -1 never
}

// modelSequence is one run of random steps for one person.
type modelSequence struct {
	w        *modelWorld
	rnd      *rand.Rand
	seed     uint64
	username string
	userID   string
	actors   []*modelActor
	current  *modelActor
	script   []string
	epoch    int // sign-outs everywhere so far
	// accessCode is the pending temporary access code only the owner knows.
	accessCode string
	// ownerPassword is the owner's current password; classmateKnows says
	// whether the classmate saw it. Nobody types a password they do not
	// know: wrong passwords would only lock the shared test address out.
	ownerPassword  string
	classmateKnows bool
	passwords      int
	totpUses       int
	// classmateMethods counts the account's methods the classmate registered
	// (first, while it had none): the classmate, one person in two browsers,
	// can prove those.
	classmateMethods int
	audited          map[string]int // Help Desk actions done, by audit event type
}

func (w *modelWorld) play(seed uint64) {
	t := w.t
	s := &modelSequence{w: w, rnd: rand.New(rand.NewPCG(seed, 0x6761746568)), seed: seed,
		username: fmt.Sprintf("model-%d", seed), audited: map[string]int{}, ownerPassword: testPassword, classmateKnows: true}
	u := w.gh.createUser(t, s.username)
	s.userID = u.ID
	for i, owner := range []bool{true, true, false, false} {
		a := &modelActor{name: fmt.Sprintf("owner-%d", i), owner: owner, proved: -1,
			email: fmt.Sprintf("%s-own@home.example", s.username)}
		if !owner {
			a.name, a.email = fmt.Sprintf("classmate-%d", i-2), fmt.Sprintf("%s-other@elsewhere.example", s.username)
		}
		a.b = newBrowser(t, rpRedirect)
		s.actors = append(s.actors, a)
	}
	for range modelSteps {
		s.step()
	}
}

func (s *modelSequence) say(format string, args ...any) {
	s.script = append(s.script, fmt.Sprintf(format, args...))
}

func (s *modelSequence) violated(format string, args ...any) {
	s.w.t.Helper()
	s.w.t.Fatalf("invariant broken (seed %d): %s\nscript:\n  %s", s.seed, fmt.Sprintf(format, args...), strings.Join(s.script, "\n  "))
}

func (s *modelSequence) step() {
	// People mostly carry on with what they were doing.
	if s.current == nil || s.rnd.IntN(10) < 3 {
		s.current = s.actors[s.rnd.IntN(len(s.actors))]
	}
	a := s.current
	before := s.methodCount()
	pending := s.accessCode != ""
	switch s.pick() {
	case "open app":
		app := s.rnd.IntN(len(s.w.apps))
		s.say("%s opens %s", a.name, s.w.apps[app].rp.Client.Name)
		s.land(a, a.b.get(s.w.apps[app].rp.AuthCodeURL("state-model", oauth2.S256ChallengeOption(s.w.apps[app].pkce))), app)
	case "add method":
		s.say("%s opens My Account → Add method", a.name)
		s.land(a, a.b.get(s.w.gh.Issuer+"/account/add"), -1)
	case "change password":
		s.say("%s opens My Account → Change password", a.name)
		s.land(a, a.b.get(s.w.gh.Issuer+"/account/password"), -1)
	case "back":
		if len(a.history) < 2 {
			s.act(a)
			break
		}
		i := s.rnd.IntN(len(a.history) - 1)
		s.say("%s goes back to page %d (%s)", a.name, i, a.history[i].URL.Path)
		a.page = a.history[i]
	case "reset methods":
		s.helpdeskReset()
	case "sign out everywhere":
		s.say("the Help Desk signs %s out everywhere", s.username)
		if err := s.w.gh.App.Admin.RevokeSessions(s.w.t.Context(), s.w.admin, s.username); err != nil {
			s.w.t.Fatal(err)
		}
		s.audited["user.sessions_revoked"]++
		s.epoch++
	case "temporary password":
		s.temporaryPassword()
	case "probe":
		s.probe(a)
	default:
		s.act(a)
	}
	s.checkMethods(a, before, pending)
	s.checkAudit()
}

// modelWeights say how often each kind of step is taken; most steps answer
// the page in front of the person.
var modelWeights = []struct {
	step   string
	weight int
}{
	{"act", 55}, {"open app", 12}, {"probe", 8}, {"add method", 6}, {"back", 6}, {"change password", 3},
	{"reset methods", 3}, {"sign out everywhere", 2}, {"temporary password", 2},
}

func (s *modelSequence) pick() string {
	total := 0
	for _, w := range modelWeights {
		total += w.weight
	}
	n := s.rnd.IntN(total)
	for _, w := range modelWeights {
		if n < w.weight {
			return w.step
		}
		n -= w.weight
	}
	return "act"
}

// land records where a request ended: a code for an app is redeemed and
// checked; a page becomes the browser's current one.
func (s *modelSequence) land(a *modelActor, p pageResp, app int) {
	if strings.HasPrefix(p.Location, rpRedirect) {
		s.redeem(a, p, app)
		return
	}
	if strings.Contains(p.Body, "Security info") {
		s.signedIn(a, "My Account opened")
	}
	a.page = p
	if h := heading.FindStringSubmatch(p.Body); h != nil {
		s.say("  → %d %s", p.Status, html.UnescapeString(tags.ReplaceAllString(h[1], "")))
	}
	if formAction.MatchString(p.Body) {
		a.history = append(a.history, p)
	}
}

// redeem exchanges a code at the app it came for (any app's when the flow
// started elsewhere) and checks the level of the sign-in behind it.
func (s *modelSequence) redeem(a *modelActor, p pageResp, app int) {
	loc, _ := url.Parse(p.Location)
	code := loc.Query().Get("code")
	if code == "" {
		s.say("  → the app got %s", loc.Query().Get("error"))
		return
	}
	apps := s.w.apps
	if app >= 0 {
		apps = []*modelApp{apps[app]}
	}
	for _, m := range apps {
		tok, err := m.rp.Exchange(s.w.t.Context(), code, oauth2.VerifierOption(m.pkce))
		if err != nil {
			continue
		}
		idt, err := m.verifier.Verify(s.w.t.Context(), tok.Extra("id_token").(string))
		if err != nil {
			s.violated("an ID token did not verify: %v", err)
		}
		var c idClaims
		idt.Claims(&c)
		s.say("  → %s got a code: acr=%s", m.rp.Client.Name, c.ACR)
		if c.ACR != assurance.MFA {
			s.violated("%s got acr=%q; the policy requires mfa", m.rp.Client.Name, c.ACR)
		}
		s.signedIn(a, "a code was issued")
		return
	}
	s.violated("a code was issued that no app could redeem: %s", p.Location)
}

// signedIn checks that a browser found signed in proved a second factor
// since the last sign-out everywhere.
func (s *modelSequence) signedIn(a *modelActor, evidence string) {
	if a.proved != s.epoch {
		s.violated("%s is signed in (%s) without proving a second factor since the last sign-out everywhere", a.name, evidence)
	}
}

// probe asks, as an app would with prompt=none, whether the browser is
// signed in.
func (s *modelSequence) probe(a *modelActor) {
	m := s.w.apps[0]
	s.say("%s: an app checks the session (prompt=none)", a.name)
	p := a.b.get(m.rp.AuthCodeURL("state-probe", oauth2.S256ChallengeOption(m.pkce), oauth2.SetAuthURLParam("prompt", "none")))
	if !strings.HasPrefix(p.Location, rpRedirect) {
		s.violated("prompt=none answered %d without returning to the app", p.Status)
	}
	s.redeem(a, p, 0)
}

// act does what the current page asks, with what this person knows.
func (s *modelSequence) act(a *modelActor) {
	p := a.page
	if !formAction.MatchString(p.Body) {
		return
	}
	body := p.Body
	var fields url.Values
	var genuine bool // a code this person really holds
	switch {
	case strings.Contains(body, `name="username"`):
		fields = url.Values{"username": {s.username}}
	case strings.Contains(body, `name="password"`) && strings.Contains(body, "Enter password"):
		if !a.owner && !s.classmateKnows {
			return
		}
		fields = url.Values{"password": {s.ownerPassword}}
	case strings.Contains(body, `name="new_password"`):
		if !a.owner {
			return
		}
		fields = url.Values{"new_password": {s.newPassword()}}
		fields.Set("confirm_password", fields.Get("new_password"))
		if strings.Contains(body, `name="current_password"`) {
			fields.Set("current_password", s.ownerPassword)
		}
	case strings.Contains(body, "More information required"):
		fields = act("next")
	case strings.Contains(body, `name="kind"`):
		kind := []string{"email", "app"}[s.rnd.IntN(2)]
		fields = url.Values{"kind": {kind}}
		if strings.Contains(body, `value="chose"`) {
			fields.Set("action", "chose")
		}
	case strings.Contains(body, `name="email"`):
		fields = act("send", "email", a.email)
	case strings.Contains(body, `value="continue"`):
		fields = act("continue")
	case strings.Contains(body, `value="done"`):
		fields = act("done")
	case secretText.MatchString(body):
		secret := strings.ReplaceAll(secretText.FindStringSubmatch(body)[1], " ", "")
		a.secrets = append(a.secrets, secret)
		fields, genuine = act("verify", "code", totpCode(s.w.t, secret, time.Now())), true
	case strings.Contains(body, `value="verify"`):
		var code string
		code, genuine = s.codeFor(a, body)
		fields = act("verify", "code", code)
	default:
		return
	}
	s.say("%s submits %s %v", a.name, p.URL.Path, redactCodes(fields))
	hash := s.passwordHash()
	next := a.b.submit(p, fields)
	if pw := fields.Get("new_password"); pw != "" && s.passwordHash() != hash {
		s.passwordChanged(a, pw, fields.Get("current_password") != "")
	}
	if genuine && next.Status < 400 && !strings.Contains(next.Body, "didn't work") {
		a.proved = s.epoch
		if strings.Contains(body, "temporary access code") {
			s.accessCode = ""
		}
	}
	s.land(a, next, -1)
}

// codeFor answers a code prompt: the code this person can read, or a guess.
func (s *modelSequence) codeFor(a *modelActor, body string) (string, bool) {
	switch {
	case strings.Contains(body, "temporary access code"):
		if a.owner && s.accessCode != "" {
			return s.accessCode, true
		}
	case strings.Contains(body, "authenticator app"):
		if len(a.secrets) > 0 {
			s.totpUses++
			secret := a.secrets[s.rnd.IntN(len(a.secrets))]
			return totpCode(s.w.t, secret, time.Now().Add(time.Duration(s.totpUses%3-1)*30*time.Second)), true
		}
	default:
		if code := outboxCode(s.w.t, s.w.c.outbox, a.email); code != "" {
			return code, true
		}
	}
	return "000000", false
}

var (
	digitsOnly = regexp.MustCompile(`\D`)
	heading    = regexp.MustCompile(`(?s)<h1[^>]*>(.*?)</h1>`)
)

// outboxCode is the newest code the dev outbox sent to to, or "".
func outboxCode(t *testing.T, outbox, to string) string {
	entries, err := delivery.ReadOutbox(outbox)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].To == to {
			if d := digitsOnly.ReplaceAllString(sixDigits.FindString(entries[i].Text), ""); len(d) == 6 {
				return d
			}
		}
	}
	return ""
}

func redactCodes(v url.Values) string {
	out := url.Values{}
	for k, vs := range v {
		if k == "code" || strings.Contains(k, "password") {
			vs = []string{"…"}
		}
		out[k] = vs
	}
	return out.Encode()
}

func (s *modelSequence) passwordHash() string {
	u, err := s.w.gh.App.Users.Get(s.w.t.Context(), s.userID)
	if err != nil {
		s.w.t.Fatal(err)
	}
	return u.PasswordHash
}

func (s *modelSequence) newPassword() string {
	s.passwords++
	return fmt.Sprintf("blue-kettle-%d-%d-river", s.seed, s.passwords)
}

// passwordChanged follows a password the owner set: on My Account it signs
// every other browser out and keeps this one; at sign-in the sign-in goes on.
func (s *modelSequence) passwordChanged(a *modelActor, pw string, onMyAccount bool) {
	s.ownerPassword, s.classmateKnows = pw, s.rnd.IntN(2) == 0
	s.say("  (the classmate saw the new password: %v)", s.classmateKnows)
	if onMyAccount {
		s.say("  → the password changed; every other browser is signed out")
		s.audited["user.password_changed"]++
		s.epoch++
		a.proved = s.epoch
		return
	}
	s.audited["user.password_changed"]++
	s.say("  → the required password change is done")
}

// temporaryPassword has the Help Desk give the owner a temporary password,
// to be changed at the next sign-in.
func (s *modelSequence) temporaryPassword() {
	s.say("the Help Desk gives %s a temporary password", s.username)
	temp, err := s.w.gh.App.Admin.ResetPassword(s.w.t.Context(), s.w.admin, s.username)
	if err != nil {
		s.w.t.Fatal(err)
	}
	s.ownerPassword, s.classmateKnows = temp, false
	s.audited["user.password_reset"]++
	s.epoch++
}

func (s *modelSequence) helpdeskReset() {
	s.say("the Help Desk resets %s's methods and issues an access code", s.username)
	if status := s.w.helpdesk.json("POST", "/users/"+s.username+"/reset-methods", nil, nil); status != http.StatusNoContent {
		s.w.t.Fatalf("reset methods: %d", status)
	}
	var issued struct {
		Code string `json:"access_code"`
	}
	if status := s.w.helpdesk.json("POST", "/users/"+s.username+"/access-code", nil, &issued); status != http.StatusOK {
		s.w.t.Fatalf("access code: %d", status)
	}
	s.accessCode, s.classmateMethods = issued.Code, 0
	s.audited["mfa.methods_reset"]++
	s.audited["mfa.access_code_issued"]++
	s.epoch++
}

func (s *modelSequence) methodCount() int {
	methods, err := s.w.gh.App.DB.ListMethods(s.w.t.Context(), s.userID)
	if err != nil {
		s.w.t.Fatal(err)
	}
	return len(methods)
}

// checkMethods: a classmate's step may add a method only to an account
// with none and no access code pending, or with methods the classmate
// registered and so can prove.
func (s *modelSequence) checkMethods(a *modelActor, before int, pending bool) {
	after := s.methodCount()
	if after <= before || a.owner {
		return
	}
	if pending || before > 0 && s.classmateMethods == 0 {
		s.violated("%s added a method to an account that had %d, none of them theirs (access code pending: %v)", a.name, before, pending)
	}
	s.classmateMethods += after - before
}

// checkAudit: every Help Desk action of this sequence is in the audit log.
func (s *modelSequence) checkAudit() {
	for typ, want := range s.audited {
		events, err := s.w.gh.App.Audit.List(s.w.t.Context(), audit.Filter{Type: typ, SubjectID: s.userID})
		if err != nil {
			s.w.t.Fatal(err)
		}
		if len(events) != want {
			s.violated("%d %s events audited, %d actions done", len(events), typ, want)
		}
	}
}
