package challenge_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

// requireMFA is a district that requires MFA and one registered method.
func requireMFA(adjust ...func(*policy.Policy)) webtest.Options {
	return webtest.Options{Policy: func(p *policy.Policy) {
		p.RequireMFA, p.RequiredMethods = true, 1
		for _, a := range adjust {
			a(p)
		}
	}}
}

func verify(code string, more ...string) url.Values {
	v := url.Values{"action": {"verify"}, "code": {code}}
	for i := 0; i+1 < len(more); i += 2 {
		v.Set(more[i], more[i+1])
	}
	return v
}

func expectChallenge(t *testing.T, p *webtest.Page, status int, texts ...string) {
	t.Helper()
	if p.Status != status || p.URL.Path != "/login/mfa" {
		t.Fatalf("got %d %s (to %q), want %d on the challenge:\n%s", p.Status, p.URL, p.Location, status, p.Text())
	}
	for _, s := range texts {
		if !p.Contains(s) {
			t.Fatalf("the challenge does not say %q:\n%s", s, p.Text())
		}
	}
}

func TestCodeFromTheDefaultMethod(t *testing.T) {
	e := webtest.New(t, requireMFA())
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone) // the first method is the default
	e.AddEmail(u, "ann@home.example")
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectChallenge(t, p, http.StatusOK, "We texted a code to")
	if n := len(e.Sent(webtest.Phone)); n != 1 {
		t.Fatalf("codes sent to the phone = %d, want 1", n)
	}
	// A reload does not send another.
	expectChallenge(t, b.Get(p.URL.RequestURI()), http.StatusOK)
	if n := len(e.Sent(webtest.Phone)); n != 1 {
		t.Errorf("codes sent after a reload = %d, want still 1", n)
	}
	webtest.Code(t, b.Submit(p, verify(e.LastCode(webtest.Phone))))
	if got := e.Events("mfa.challenge", u.ID); len(got) != 1 || got[0].Details["factor"] != "sms" {
		t.Errorf("mfa.challenge events = %+v, want one by sms", got)
	}
}

var optionRE = regexp.MustCompile(`<input type="radio" name="option" value="([^"]+)"[^>]*>([^<]+)`)

func TestSignInAnotherWay(t *testing.T) {
	e := webtest.New(t, requireMFA())
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	secret := e.AddApp(u)
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectChallenge(t, p, http.StatusOK, "We texted a code to")

	p = b.Submit(p, url.Values{"action": {"other"}})
	expectChallenge(t, p, http.StatusOK, "Sign in another way", "Use a verification code from my authenticator app", "Call ")
	var app string
	for _, m := range optionRE.FindAllStringSubmatch(p.Body, -1) {
		if m[2] == "Use a verification code from my authenticator app" {
			app = m[1]
		}
	}
	p = b.Submit(p, url.Values{"action": {"use"}, "option": {app}})
	expectChallenge(t, p, http.StatusOK, "Enter the code displayed in the authenticator app")
	webtest.Code(t, b.Submit(p, verify(e.TOTP(secret))))

	// An option that is not the person's is refused.
	b2 := e.Browser()
	p = b2.Submit(b2.SignIn(b2.Authorize(nil), "ann", webtest.Password), url.Values{"action": {"other"}})
	p = b2.Submit(p, url.Values{"action": {"use"}, "option": {"someone-else:app"}})
	expectChallenge(t, p, http.StatusUnprocessableEntity, "Choose one of the ways listed.")
}

func TestWrongCodeCountsAndIsAudited(t *testing.T) {
	e := webtest.New(t, requireMFA())
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectChallenge(t, p, http.StatusOK)
	code := e.LastCode(webtest.Phone)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	const attempts = 5 // config's mfa.code_attempts
	for i := range attempts {
		p = b.Submit(p, verify(wrong))
		expectChallenge(t, p, http.StatusUnprocessableEntity)
		if i == 0 && p.Location != "" {
			t.Fatal("a wrong code was let through")
		}
	}
	if got := e.Events("mfa.challenge_failed", u.ID); len(got) != attempts {
		t.Errorf("mfa.challenge_failed events = %d, want %d", len(got), attempts)
	}
	// The code's attempts are used up: even the right one fails now.
	p = b.Submit(p, verify(code))
	expectChallenge(t, p, http.StatusUnprocessableEntity)
	// A new code, once the resend cooldown has passed, works.
	e.Redis.NeedClock(t)
	e.Redis.Mini.FastForward(31 * time.Second)
	p = b.Submit(p, url.Values{"action": {"resend"}})
	expectChallenge(t, p, http.StatusOK, "We sent a new code.")
	webtest.Code(t, b.Submit(p, verify(e.LastCode(webtest.Phone))))
}

func TestRememberedDeviceSkipsTheChallenge(t *testing.T) {
	e := webtest.New(t, requireMFA(func(p *policy.Policy) { p.RememberDeviceDays = 30 }))
	u := e.CreateUser("ann")
	secret := e.AddApp(u)
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectChallenge(t, p, http.StatusOK, "Don't ask again for 30 days")
	webtest.Code(t, b.Submit(p, verify(e.TOTP(secret), "remember", "yes")))
	if b.Cookie("/login/", "gatehouse_mfa_remember") == "" {
		t.Fatal("no remember-device cookie")
	}

	// A new sign-in in this browser asks for the password only.
	webtest.Code(t, b.SignIn(b.Authorize(webtest.Params{"prompt": "login"}), "ann", webtest.Password))

	// Another browser is still challenged.
	other := e.Browser()
	expectChallenge(t, other.SignIn(other.Authorize(nil), "ann", webtest.Password), http.StatusOK)
}

func TestAccessCode(t *testing.T) {
	e := webtest.New(t, requireMFA(func(p *policy.Policy) { p.RegistrationOrder = []mfa.Kind{mfa.App} }))
	u := e.CreateUser("ann")
	code, err := e.MFA.IssueAccessCode(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectChallenge(t, p, http.StatusOK, "temporary access code the Help Desk gave you")
	if p.Contains("Don't ask again") || p.Contains("Sign in another way") {
		t.Errorf("the access code offers more than itself:\n%s", p.Text())
	}
	wrong := b.Submit(p, verify("AAAA-BBBB"))
	expectChallenge(t, wrong, http.StatusUnprocessableEntity)
	p = b.Submit(wrong, verify(code))
	if p.URL.Path != "/login/enroll" || !p.Contains("More information required") {
		t.Fatalf("after the access code: %d %s, want registration:\n%s", p.Status, p.URL, p.Text())
	}
	if pending, err := e.MFA.AccessCodePending(t.Context(), u.ID); err != nil || pending {
		t.Errorf("access code still pending = %v, %v; it is used up", pending, err)
	}
}

func TestRedisOutageIs503(t *testing.T) {
	e := webtest.New(t, requireMFA())
	u := e.CreateUser("ann")
	secret := e.AddApp(u)
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectChallenge(t, p, http.StatusOK)
	e.RedisDown()
	for name, got := range map[string]*webtest.Page{
		"page":   b.Get(p.URL.RequestURI()),
		"verify": b.Submit(p, verify(e.TOTP(secret))),
	} {
		if got.Status != http.StatusServiceUnavailable || got.Header.Get("Retry-After") == "" {
			t.Errorf("%s with Redis down: %d, Retry-After %q; want 503 with Retry-After", name, got.Status, got.Header.Get("Retry-After"))
		}
	}
	e.RedisUp()
	webtest.Code(t, b.Submit(p, verify(e.TOTP(secret))))
}
