package systemtest

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/delivery"
)

// mfaRig is a server with the district's policy on, one app and one user.
type mfaRig struct {
	t        *testing.T
	c        *cluster
	gh       *instance
	rp       oauth2.Config
	verifier *oidc.IDTokenVerifier
	pkce     string
}

func newMFARig(t *testing.T, configure func(*config.Config)) *mfaRig {
	c := newCluster(t)
	c.configure = func(cfg *config.Config) {
		cfg.MFA = config.Default().MFA
		cfg.District.HelpDeskURL = "https://help.district.example/"
		if configure != nil {
			configure(cfg)
		}
	}
	gh := c.start()
	gh.createUser(t, "student")
	client, secret := gh.createClient(t, clients.Registration{Name: "LMS", RedirectURIs: []string{rpRedirect}})
	provider, err := oidc.NewProvider(t.Context(), gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &mfaRig{t: t, c: c, gh: gh, pkce: oauth2.GenerateVerifier(),
		rp: oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect,
			Scopes: []string{"openid", "profile"}},
		verifier: provider.Verifier(&oidc.Config{ClientID: client.ID})}
}

// start opens the app's sign-in in b and enters the password.
func (m *mfaRig) start(b *browser, extra ...oauth2.AuthCodeOption) pageResp {
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(m.pkce)}, extra...)
	return b.signIn(b.get(m.rp.AuthCodeURL("state-0001", opts...)), "student", testPassword)
}

// claims redeems the code in p and returns the verified ID token claims.
func (m *mfaRig) claims(p pageResp) idClaims {
	m.t.Helper()
	code := codeFrom(m.t, p, rpRedirect, "state-0001", m.gh.Issuer)
	tok, err := m.rp.Exchange(m.t.Context(), code, oauth2.VerifierOption(m.pkce))
	if err != nil {
		m.t.Fatal(err)
	}
	idt, err := m.verifier.Verify(m.t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		m.t.Fatal(err)
	}
	var c idClaims
	idt.Claims(&c)
	return c
}

var (
	tags       = regexp.MustCompile(`<[^>]*>`)
	secretText = regexp.MustCompile(`<p class="secret">([A-Z2-7 ]+)</p>`)
	sixDigits  = regexp.MustCompile(`\d(?:\D{0,3}\d){5}`)
)

// totpSecret reads the key shown under "Can't scan image?".
func totpSecret(t *testing.T, p pageResp) string {
	t.Helper()
	m := secretText.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no authenticator key on the page:\n%s", p.Body)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// lastCode reads the newest code the dev outbox delivered to to.
func (m *mfaRig) lastCode(to string) string {
	m.t.Helper()
	entries, err := delivery.ReadOutbox(m.c.outbox)
	if err != nil {
		m.t.Fatal(err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.To == to {
			digits := regexp.MustCompile(`\D`).ReplaceAllString(sixDigits.FindString(e.Text+e.Speech), "")
			if len(digits) == 6 {
				return digits
			}
		}
	}
	m.t.Fatalf("no code sent to %s in %v", to, entries)
	return ""
}

func (m *mfaRig) outboxCount(to string) int {
	entries, _ := delivery.ReadOutbox(m.c.outbox)
	n := 0
	for _, e := range entries {
		if e.To == to {
			n++
		}
	}
	return n
}

func mustSee(t *testing.T, p pageResp, texts ...string) {
	t.Helper()
	text := html.UnescapeString(tags.ReplaceAllString(p.Body, ""))
	for _, s := range texts {
		if !strings.Contains(text, s) {
			t.Fatalf("page (%d %s) lacks %q:\n%s", p.Status, p.URL, s, p.Body)
		}
	}
}

func act(action string, kv ...string) url.Values {
	v := url.Values{"action": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

const phone = "+17045550112"

// enrollAppAndPhone walks the guide's steps 4–7: app, then phone by SMS.
func (m *mfaRig) enrollAppAndPhone(b *browser) (pageResp, string) {
	t := m.t
	p := m.start(b)
	mustSee(t, p, "More information required", "Your organization needs more information to keep your account secure")
	p = b.submit(p, act("next"))
	mustSee(t, p, "Keep your account secure", "Your organization requires you to set up the following methods of proving who you are.",
		"Method 1 of 2: App", "I want to set up a different method", "Contact the Help Desk")
	if strings.Contains(p.Body, "Skip setup") {
		t.Fatal("Skip setup offered without a grace policy")
	}
	secret := totpSecret(t, p)
	p = b.submit(p, act("verify", "code", "000000"))
	mustSee(t, p, "That code didn't work")
	p = b.submit(p, act("verify", "code", totpCode(t, secret, time.Now())))
	mustSee(t, p, "App verified")
	p = b.submit(p, act("continue"))
	mustSee(t, p, "Method 2 of 2: Phone", "Text me a code", "Call me")
	p = b.submit(p, act("send", "country", "US", "number", "(704) 555-0112", "factor", "sms"))
	mustSee(t, p, "We just sent a 6 digit code to +1 704 XXX XX12. Enter the code below.", "Resend code")
	p = b.submit(p, act("verify", "code", m.lastCode(phone)))
	mustSee(t, p, "SMS verified. Your phone was registered successfully")
	p = b.submit(p, act("continue"))
	mustSee(t, p, "Setup is now complete", "Default sign-in method:", "Authenticator app", "Phone - text +1 704 XXX XX12")
	return b.submit(p, act("done")), secret
}

// TestKeepYourAccountSecure walks the district's guide: a new user
// registers an app and a phone in the sign-in redirect and reaches the app
// with MFA in amr; the next sign-in asks only for a code.
func TestKeepYourAccountSecure(t *testing.T) {
	m := newMFARig(t, nil)
	b := newBrowser(t, rpRedirect)
	p, secret := m.enrollAppAndPhone(b)
	c := m.claims(p)
	if c.ACR != "mfa" || !slices.Contains(c.AMR, "pwd") || !slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "sms") || !slices.Contains(c.AMR, "mfa") {
		t.Fatalf("after enrollment: acr=%q amr=%v", c.ACR, c.AMR)
	}

	// Signing in again on a new browser: password, then only the app code.
	b2 := newBrowser(t, rpRedirect)
	p = m.start(b2)
	mustSee(t, p, "Enter code", "Enter the code displayed in the authenticator app", "Sign in another way")
	code := totpCode(t, secret, time.Now().Add(30*time.Second))
	p = b2.submit(p, act("verify", "code", code))
	if c := m.claims(p); c.ACR != "mfa" || !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("second sign-in: acr=%q amr=%v", c.ACR, c.AMR)
	}

	// The same app code again is refused (replay), on a third browser.
	b3 := newBrowser(t, rpRedirect)
	p = b3.submit(m.start(b3), act("verify", "code", code))
	mustSee(t, p, "already used")

	// "Sign in another way": text the phone instead.
	p = b3.submit(p, act("other"))
	mustSee(t, p, "Text +1 704 XXX XX12", "Call +1 704 XXX XX12")
	p = b3.submit(p, act("use", "option", optionValue(t, p, "Text +1 704")))
	mustSee(t, p, "We texted a code to +1 704 XXX XX12")
	p = b3.submit(p, act("verify", "code", m.lastCode(phone)))
	if c := m.claims(p); !slices.Equal(c.AMR, []string{"pwd", "sms", "mfa"}) {
		t.Fatalf("sms challenge amr=%v", c.AMR)
	}
}

var optionRe = regexp.MustCompile(`<input type="radio" name="(?:option|kind)" value="([^"]+)"[^>]*>([^<]+)</label>`)

// optionValue finds the radio button whose label starts with label.
func optionValue(t *testing.T, p pageResp, label string) string {
	t.Helper()
	for _, m := range optionRe.FindAllStringSubmatch(html.UnescapeString(p.Body), -1) {
		if strings.HasPrefix(m[2], label) {
			return m[1]
		}
	}
	t.Fatalf("no option %q:\n%s", label, p.Body)
	return ""
}

// TestWrongCodesAndResend: five wrong codes use the code up; resend waits
// for its cooldown; the sixth try needs a new code.
func TestWrongCodesAndResend(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RegistrationOrder = []string{"phone", "app"} })
	b := newBrowser(t, rpRedirect)
	p := b.submit(m.start(b), act("next"))
	mustSee(t, p, "Method 1 of 2: Phone")
	p = b.submit(p, act("send", "country", "US", "number", "704 555 0112", "factor", "voice"))
	mustSee(t, p, "We're calling +1 704 XXX XX12 now")
	right := m.lastCode(phone)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := 0; i < 4; i++ {
		p = b.submit(p, act("verify", "code", wrong))
		mustSee(t, p, "That code didn't work")
	}
	p = b.submit(p, act("verify", "code", wrong))
	mustSee(t, p, "Too many wrong codes")
	p = b.submit(p, act("verify", "code", right))
	mustSee(t, p, "expired")

	p = b.submit(p, act("resend"))
	mustSee(t, p, "We just sent a code. You can ask for another in")
	if n := m.outboxCount(phone); n != 1 {
		t.Fatalf("a resend inside the cooldown was sent: %d messages", n)
	}
	m.c.redis.NeedClock(t)
	m.c.redis.Mini.FastForward(31 * time.Second)
	p = b.submit(p, act("resend"))
	mustSee(t, p, "We sent a new code.")
	p = b.submit(p, act("verify", "code", m.lastCode(phone)))
	mustSee(t, p, "Call answered. Your phone was registered successfully")
}

// TestDifferentMethodAndEmail: "I want to set up a different method" swaps
// the app for email; the district's own domain is refused.
func TestDifferentMethodAndEmail(t *testing.T) {
	m := newMFARig(t, nil)
	b := newBrowser(t, rpRedirect)
	p := b.submit(m.start(b), act("next"))
	p = b.submit(p, act("choose"))
	mustSee(t, p, "Choose a different method", "Email")
	p = b.submit(p, act("chose", "kind", "email"))
	mustSee(t, p, "Method 1 of 2: Email")
	p = b.submit(p, act("send", "email", "student@district.example"))
	mustSee(t, p, "Use a personal email address")
	p = b.submit(p, act("send", "email", "kid@home.example"))
	mustSee(t, p, "We just sent a 6 digit code to ki***@home.example")
	p = b.submit(p, act("verify", "code", m.lastCode("kid@home.example")))
	mustSee(t, p, "Email verified")
	p = b.submit(p, act("continue"))
	mustSee(t, p, "Method 2 of 2: Phone")
}

// TestSkipSetup: the grace allows two skips, then registration is required.
func TestSkipSetup(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.Grace.Skips = 2 })
	for i, left := range []string{"2 skips left", "1 skip left"} {
		b := newBrowser(t, rpRedirect)
		p := m.start(b)
		mustSee(t, p, "More information required", left)
		p = b.submit(p, act("next"))
		mustSee(t, p, "Skip setup ("+left+")")
		p = b.submit(p, act("skip"))
		if c := m.claims(p); c.ACR != "pwd" {
			t.Fatalf("skip %d: acr=%q", i+1, c.ACR)
		}
	}
	b := newBrowser(t, rpRedirect)
	p := b.submit(m.start(b), act("next"))
	if strings.Contains(p.Body, "Skip setup") {
		t.Fatal("Skip setup offered after the skips ran out")
	}
	p = b.submit(p, act("skip"))
	mustSee(t, p, "Your organization requires you to set up these methods now.")
}

// TestStepUp: a password-only session asked for MFA by an app gets only the
// challenge, not the password again, and max_age forces re-authentication.
func TestStepUp(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) {
		cfg.MFA.RequireForAllClients = false
		cfg.MFA.RequiredMethods = 1
		cfg.MFA.Grace.Skips = 5
	})
	b := newBrowser(t, rpRedirect)
	p, secret := m.enrollApp(b)
	if c := m.claims(p); c.ACR != "mfa" {
		t.Fatalf("enrollment acr=%q", c.ACR)
	}
	// A password-only sign-in (MFA is not required of this app).
	b2 := newBrowser(t, rpRedirect)
	p = m.start(b2)
	if c := m.claims(p); c.ACR != "pwd" || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Fatalf("password sign-in acr=%q amr=%v", c.ACR, c.AMR)
	}
	// Step-up: only the code.
	p = b2.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce), oauth2.SetAuthURLParam("acr_values", "mfa")))
	mustSee(t, p, "Enter code")
	if strings.Contains(p.Body, "Enter password") {
		t.Fatal("step-up asked for the password again")
	}
	p = b2.submit(p, act("verify", "code", totpCode(t, secret, time.Now().Add(30*time.Second))))
	if c := m.claims(p); c.ACR != "mfa" || !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("step-up acr=%q amr=%v", c.ACR, c.AMR)
	}
	// prompt=login forces the password again.
	p = b2.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce), oauth2.SetAuthURLParam("prompt", "login")))
	mustSee(t, p, "Sign in")
}

// enrollApp registers only the authenticator app (policy: one method).
func (m *mfaRig) enrollApp(b *browser) (pageResp, string) {
	p := b.submit(m.start(b), act("next"))
	mustSee(m.t, p, "Method 1 of 1: App")
	secret := totpSecret(m.t, p)
	p = b.submit(p, act("verify", "code", totpCode(m.t, secret, time.Now())))
	p = b.submit(p, act("continue"))
	mustSee(m.t, p, "Setup is now complete")
	return b.submit(p, act("done")), secret
}

// TestRememberDevice: "Don't ask again" skips the challenge on this
// browser only, and only while it is offered.
func TestRememberDevice(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1; cfg.MFA.RememberDeviceDays = 30 })
	_, secret := m.enrollApp(newBrowser(t, rpRedirect))
	b := newBrowser(t, rpRedirect)
	p := m.start(b)
	mustSee(t, p, "Don't ask again for 30 days")
	p = b.submit(p, act("verify", "code", totpCode(t, secret, time.Now().Add(30*time.Second)), "remember", "yes"))
	m.claims(p)
	// Signed out, the same browser skips the challenge; another does not.
	p = b.submit(b.get(m.gh.Issuer+"/oauth2/logout"), url.Values{"confirm": {"yes"}})
	mustSee(t, p, "You signed out of your account")
	if c := m.claims(m.start(b)); c.ACR != "mfa" || !slices.Equal(c.AMR, []string{"pwd", "mfa"}) {
		t.Fatalf("remembered device acr=%q amr=%v", c.ACR, c.AMR)
	}
	other := newBrowser(t, rpRedirect)
	mustSee(t, m.start(other), "Enter code")

	// A password reset forgets every remembered device.
	u, _ := m.gh.App.Users.Find(t.Context(), "student")
	if err := m.gh.App.Users.SetPassword(t.Context(), u.ID, testPassword, false); err != nil {
		t.Fatal(err)
	}
	p = b.submit(b.get(m.gh.Issuer+"/oauth2/logout"), url.Values{"confirm": {"yes"}})
	mustSee(t, m.start(b), "Enter code")
}

// TestCodeLimits: sends are capped per user with the guide's message.
func TestCodeLimits(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) {
		cfg.MFA.RegistrationOrder = []string{"phone"}
		cfg.MFA.ResendCooldown = config.Duration{}
		cfg.MFA.Limits.SendsPerUser = 2
	})
	b := newBrowser(t, rpRedirect)
	p := b.submit(b.submit(m.start(b), act("next")), act("send", "country", "US", "number", "7045550112", "factor", "sms"))
	p = b.submit(p, act("resend"))
	mustSee(t, p, "We sent a new code.")
	p = b.submit(p, act("resend"))
	mustSee(t, p, "You've hit our limit on text verification codes")
	if n := m.outboxCount(phone); n != 2 {
		t.Fatalf("%d messages sent past the limit", n)
	}
	// A number outside the allowed countries is refused before any send.
	p = b.submit(p, act("back"))
	p = b.submit(p, act("send", "country", "GB", "number", "020 7946 0958", "factor", "sms"))
	mustSee(t, p, "can't send codes to phone numbers in")
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", p.Status)
	}
}

// TestCostlyNumbersRefused: premium-rate and toll-free numbers never get a
// text or a call (toll fraud), and a landline gets calls only; each refusal
// says why on the page and sends nothing.
func TestCostlyNumbersRefused(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) {
		cfg.MFA.RegistrationOrder = []string{"phone"}
		cfg.MFA.AllowedCountries = []string{"US", "GB"}
	})
	b := newBrowser(t, rpRedirect)
	p := b.submit(m.start(b), act("next"))
	for _, tc := range []struct{ country, number, factor, says string }{
		{"US", "900 555 0123", "sms", "premium-rate, toll-free"},
		{"US", "900 555 0123", "voice", "premium-rate, toll-free"},
		{"US", "800 555 0123", "voice", "premium-rate, toll-free"},
		{"GB", "020 7946 0958", "sms", "landline"},
	} {
		p = b.submit(p, act("send", "country", tc.country, "number", tc.number, "factor", tc.factor))
		mustSee(t, p, tc.says)
		if p.Status != http.StatusUnprocessableEntity {
			t.Fatalf("%s by %s: status %d", tc.number, tc.factor, p.Status)
		}
	}
	for _, to := range []string{"+19005550123", "+18005550123", "+442079460958"} {
		if n := m.outboxCount(to); n != 0 {
			t.Fatalf("%d messages sent to %s", n, to)
		}
	}
	p = b.submit(p, act("send", "country", "GB", "number", "020 7946 0958", "factor", "voice"))
	mustSee(t, p, "We're calling")
}

// TestMethodResetEndsGrants: after the Help Desk removes a person's methods
// their refresh tokens stop working and the next sign-in registers again.
func TestMethodResetEndsGrants(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1 })
	m.rp.Scopes = append(m.rp.Scopes, "offline_access")
	b := newBrowser(t, rpRedirect)
	p, _ := m.enrollApp(b)
	tok, err := m.rp.Exchange(t.Context(), codeFrom(t, p, rpRedirect, "state-0001", m.gh.Issuer), oauth2.VerifierOption(m.pkce))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	u, _ := m.gh.App.Users.Find(t.Context(), "student")
	time.Sleep(1100 * time.Millisecond) // auth_time has whole seconds; the reset must come after it
	if err := m.gh.App.DB.ResetMethods(t.Context(), u.ID, time.Now().UTC(), audit.Event{Type: "mfa.methods_reset", SubjectID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh after a method reset: %v", err)
	}
	mustSee(t, m.start(newBrowser(t, rpRedirect)), "More information required")
}

// TestDeliveryFailureIsShown: a provider error reaches the person as a
// clear message and the audit log, never a silent success.
func TestDeliveryFailureIsShown(t *testing.T) {
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"code":20500,"message":"Internal Server Error"}`))
	}))
	defer provider.Close()
	m := newMFARig(t, func(cfg *config.Config) {
		cfg.MFA.RegistrationOrder = []string{"phone"}
		cfg.Delivery.SMS = "twilio"
		cfg.Delivery.Twilio = config.Twilio{BaseURL: provider.URL, AccountSID: "AC123", AuthToken: "token", From: "+17045550100"}
	})
	b := newBrowser(t, rpRedirect)
	p := b.submit(b.submit(m.start(b), act("next")), act("send", "country", "US", "number", "7045550112", "factor", "sms"))
	mustSee(t, p, "We couldn't send the code.")
	events, err := m.gh.App.Audit.List(t.Context(), audit.Filter{Type: "mfa.code_send_failed"})
	if err != nil || len(events) != 1 {
		t.Fatalf("audit: %v %v", events, err)
	}
}

// TestTemporaryAccessCode: someone who lost every method gets a one-time
// code from the Help Desk; the next sign-in asks for it before they
// register again.
func TestTemporaryAccessCode(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1 })
	m.enrollApp(newBrowser(t, rpRedirect))
	accessCode := m.helpdeskResetWithAccessCode()
	b := newBrowser(t, rpRedirect)
	p := m.start(b)
	mustSee(t, p, "Enter the temporary access code the Help Desk gave you")
	wrong := "000000"
	if accessCode == wrong {
		wrong = "111111"
	}
	p = b.submit(p, act("verify", "code", wrong))
	mustSee(t, p, "That code didn't work")
	p = b.submit(p, act("verify", "code", accessCode))
	mustSee(t, p, "More information required")
	p = b.submit(p, act("next"))
	secret := totpSecret(t, p)
	p = b.submit(p, act("verify", "code", totpCode(t, secret, time.Now())))
	p = b.submit(b.submit(p, act("continue")), act("done"))
	if c := m.claims(p); c.ACR != "mfa" {
		t.Fatalf("after re-registering: acr=%q", c.ACR)
	}
	// The code works once.
	b2 := newBrowser(t, rpRedirect)
	if p := m.start(b2); strings.Contains(p.Body, "temporary access code") {
		t.Fatal("a used access code was asked for again")
	}
}
