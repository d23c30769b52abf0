package enroll_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

// requireOne is a district that requires MFA and one method, registered in
// order.
func requireOne(order ...mfa.Kind) webtest.Options {
	return webtest.Options{Policy: func(p *policy.Policy) {
		p.RequireMFA, p.RequiredMethods, p.RegistrationOrder = true, 1, order
	}}
}

func action(a string, more ...string) url.Values {
	v := url.Values{"action": {a}}
	for i := 0; i+1 < len(more); i += 2 {
		v.Set(more[i], more[i+1])
	}
	return v
}

func expectStage(t *testing.T, p *webtest.Page, status int, texts ...string) {
	t.Helper()
	if p.Status != status || p.URL.Path != "/login/enroll" {
		t.Fatalf("got %d %s (to %q), want %d on the registration page:\n%s", p.Status, p.URL, p.Location, status, p.Text())
	}
	for _, s := range texts {
		if !p.Contains(s) {
			t.Fatalf("the registration page does not say %q:\n%s", s, p.Text())
		}
	}
}

var secretRE = regexp.MustCompile(`<p class="secret">([A-Z2-7 ]+)</p>`)

func TestAuthenticatorAppInterstitial(t *testing.T) {
	e := webtest.New(t, requireOne(mfa.App))
	u := e.CreateUser("ann")
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectStage(t, p, http.StatusOK, "More information required")
	if p.Contains("Skip setup") {
		t.Error("skipping offered with no grace")
	}

	p = b.Submit(p, action("next"))
	expectStage(t, p, http.StatusOK, "Method 1 of 1: App", "Scan the QR code")
	m := secretRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no key under \"Can't scan image?\":\n%s", p.Body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")

	wrong := b.Submit(p, action("verify", "code", "000000"))
	expectStage(t, wrong, http.StatusUnprocessableEntity)
	if got := e.Events("mfa.enroll_failed", u.ID); len(got) != 1 {
		t.Errorf("mfa.enroll_failed events = %d, want 1", len(got))
	}

	p = b.Submit(wrong, action("verify", "code", e.TOTP(secret)))
	expectStage(t, p, http.StatusOK, "App verified")
	p = b.Submit(p, action("continue"))
	expectStage(t, p, http.StatusOK, "Setup is now complete", "Default sign-in method")
	webtest.Code(t, b.Submit(p, action("done")))

	if ms := e.Methods(u); len(ms) != 1 || ms[0].Kind != mfa.App || !ms[0].IsDefault {
		t.Errorf("registered methods = %+v, want one default app", ms)
	}
	// The app works at the next sign-in's challenge.
	b2 := e.Browser()
	p = b2.SignIn(b2.Authorize(nil), "ann", webtest.Password)
	if p.URL.Path != "/login/mfa" {
		t.Fatalf("the next sign-in went to %s, want the challenge", p.URL)
	}
	webtest.Code(t, b2.Submit(p, action("verify", "code", e.TOTP(secret))))
}

func TestPhoneBySMS(t *testing.T) {
	e := webtest.New(t, requireOne(mfa.Phone))
	u := e.CreateUser("ann")
	b := e.Browser()
	p := b.Submit(b.SignIn(b.Authorize(nil), "ann", webtest.Password), action("next"))
	expectStage(t, p, http.StatusOK, "Method 1 of 1: Phone", "What phone number would you like to use?")

	bad := b.Submit(p, action("send", "country", "US", "number", "12", "factor", "sms"))
	expectStage(t, bad, http.StatusUnprocessableEntity)

	p = b.Submit(bad, action("send", "country", "US", "number", "(704) 555-0100", "factor", "sms"))
	expectStage(t, p, http.StatusOK, "We just sent a 6 digit code to")
	if strings.Contains(p.Text(), "555-0100") || strings.Contains(p.Text(), "5550100") {
		t.Errorf("the page shows the whole number:\n%s", p.Text())
	}
	p = b.Submit(p, action("verify", "code", e.LastCode(webtest.Phone)))
	expectStage(t, p, http.StatusOK, "SMS verified")
	p = b.Submit(b.Submit(p, action("continue")), action("done"))
	webtest.Code(t, p)
	if ms := e.Methods(u); len(ms) != 1 || ms[0].Phone != webtest.Phone || ms[0].Factor != mfa.FactorSMS {
		t.Errorf("registered methods = %+v, want the phone by SMS", ms)
	}
}

func TestSkipWithinGrace(t *testing.T) {
	e := webtest.New(t, webtest.Options{Policy: func(p *policy.Policy) {
		p.RequireMFA, p.RequiredMethods, p.Grace = true, 1, policy.Grace{Skips: 1}
	}})
	u := e.CreateUser("ann")
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectStage(t, p, http.StatusOK, "Skip setup (1 skip left)")
	webtest.Code(t, b.Submit(p, action("skip")))
	if got := e.Events("mfa.enroll_skipped", u.ID); len(got) != 1 {
		t.Errorf("mfa.enroll_skipped events = %d, want 1", len(got))
	}

	// The grace is used up: the next sign-in must register.
	b2 := e.Browser()
	p = b2.SignIn(b2.Authorize(nil), "ann", webtest.Password)
	expectStage(t, p, http.StatusOK, "More information required")
	if p.Contains("Skip setup") {
		t.Errorf("skipping still offered:\n%s", p.Text())
	}
	p = b2.Submit(p, action("skip"))
	expectStage(t, p, http.StatusUnprocessableEntity, "Your organization requires you to set up these methods now.")
}

func TestParkedSignInGoesToTheChallengeOnceAMethodIsRegistered(t *testing.T) {
	e := webtest.New(t, requireOne(mfa.App))
	u := e.CreateUser("ann")
	parked := e.Browser()
	p := parked.SignIn(parked.Authorize(nil), "ann", webtest.Password)
	expectStage(t, p, http.StatusOK, "More information required")

	// Meanwhile the owner registers an app from another browser.
	owner := e.Browser()
	o := owner.Submit(owner.SignIn(owner.Authorize(nil), "ann", webtest.Password), action("next"))
	secret := strings.ReplaceAll(secretRE.FindStringSubmatch(o.Body)[1], " ", "")
	o = owner.Submit(o, action("verify", "code", e.TOTP(secret)))
	webtest.Code(t, owner.Submit(owner.Submit(o, action("continue")), action("done")))

	// The parked sign-in may not register a method of its own now: it must
	// prove the owner's.
	p = parked.Submit(p, action("next"))
	if p.URL.Path != "/login/mfa" || p.Status != http.StatusOK {
		t.Fatalf("the parked sign-in went to %d %s, want the challenge:\n%s", p.Status, p.URL, p.Text())
	}
	webtest.Code(t, parked.Submit(p, action("verify", "code", e.TOTP(secret))))
	if ms := e.Methods(u); len(ms) != 1 {
		t.Errorf("methods = %d, want the owner's one", len(ms))
	}
}

func TestRedisOutageIs503(t *testing.T) {
	e := webtest.New(t, requireOne(mfa.App))
	e.CreateUser("ann")
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectStage(t, p, http.StatusOK)
	e.RedisDown()
	for name, got := range map[string]*webtest.Page{
		"page":   b.Get(p.URL.RequestURI()),
		"submit": b.Submit(p, action("next")),
	} {
		if got.Status != http.StatusServiceUnavailable || got.Header.Get("Retry-After") == "" {
			t.Errorf("%s with Redis down: %d, Retry-After %q; want 503 with Retry-After", name, got.Status, got.Header.Get("Retry-After"))
		}
	}
	e.RedisUp()
	expectStage(t, b.Submit(p, action("next")), http.StatusOK, "Authenticator app")
}
