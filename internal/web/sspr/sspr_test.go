package sspr_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

// oneProof is a district whose resets need one proof.
var oneProof = webtest.Options{Policy: func(p *policy.Policy) { p.SSPR.MethodsRequired = 1 }}

// start begins a reset for username in b and returns the first choice.
func start(t *testing.T, b *webtest.Browser, username string) *webtest.Page {
	t.Helper()
	p := b.Get("/reset")
	if p.Status != http.StatusOK || !p.Contains("Who are you?") {
		t.Fatalf("/reset: %d:\n%s", p.Status, p.Text())
	}
	p = b.Submit(p, url.Values{"username": {username}})
	expectReset(t, p, http.StatusOK, "Verification step 1")
	return p
}

func expectReset(t *testing.T, p *webtest.Page, status int, texts ...string) {
	t.Helper()
	if p.Status != status || !strings.HasPrefix(p.URL.Path, "/reset") {
		t.Fatalf("got %d %s (to %q), want %d on password reset:\n%s", p.Status, p.URL, p.Location, status, p.Text())
	}
	for _, s := range texts {
		if !p.Contains(s) {
			t.Fatalf("password reset does not say %q:\n%s", s, p.Text())
		}
	}
}

func choose(option string) url.Values { return url.Values{"action": {"choose"}, "option": {option}} }

func verify(code string) url.Values { return url.Values{"action": {"verify"}, "code": {code}} }

func TestUnknownUsernameSeesTheSamePages(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	known, unknown := e.Browser(), e.Browser()
	same := func(step string, k, n *webtest.Page) {
		t.Helper()
		kt := strings.ReplaceAll(k.Text(), "ann@district.example", "NAME")
		nt := strings.ReplaceAll(n.Text(), "nobody@district.example", "NAME")
		if k.Status != n.Status || kt != nt {
			t.Errorf("%s differs for a known and an unknown username:\n%d %s\n%d %s", step, k.Status, kt, n.Status, nt)
		}
	}
	k, n := start(t, known, "ann"), start(t, unknown, "nobody")
	same("the first choice", k, n)
	if k.Contains("XXX") {
		t.Errorf("a masked number is shown before a first proof:\n%s", k.Text())
	}
	k, n = known.Submit(k, choose("phone|sms")), unknown.Submit(n, choose("phone|sms"))
	expectReset(t, k, http.StatusOK, "If a mobile phone is registered to your account")
	same("the code page", k, n)
	if sent := e.Sent(webtest.Phone); len(sent) != 1 {
		t.Errorf("codes sent to the phone = %d, want the known person's one", len(sent))
	}
	k, n = known.Submit(k, verify("000000")), unknown.Submit(n, verify("000000"))
	same("a wrong code", k, n)
}

func TestCodeProofSetsThePasswordAndSignsOutEverywhere(t *testing.T) {
	e := webtest.New(t, oneProof)
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	elsewhere := e.Browser()
	if p := elsewhere.SignIn(elsewhere.Get("/account"), "ann", webtest.Password); p.URL.Path != "/account" {
		t.Fatalf("signing in elsewhere: %s", p.URL)
	}

	b := e.Browser()
	p := b.Submit(start(t, b, "ann"), choose("phone|sms"))
	p = b.Submit(p, verify(e.LastCode(webtest.Phone)))
	expectReset(t, p, http.StatusOK, "Choose a new password")
	for _, want := range webtest.PasswordRules {
		if !p.Contains(want) {
			t.Errorf("the new-password stage does not say %q", want)
		}
	}
	weak := b.Submit(p, url.Values{"action": {"password"}, "new_password": {"ann12345678901"}, "confirm_password": {"ann12345678901"}})
	expectReset(t, weak, http.StatusUnprocessableEntity, "Choose a new password")
	p = b.Submit(weak, url.Values{"action": {"password"}, "new_password": {"violet kettle harbour"}, "confirm_password": {"violet kettle harbour"}})
	expectReset(t, p, http.StatusOK, "Your password has been reset", "you were signed out everywhere")
	if got := e.Events("sspr.reset", u.ID); len(got) != 1 {
		t.Errorf("sspr.reset events = %d, want 1", len(got))
	}

	if p := elsewhere.Get("/account"); p.URL.Path != "/login/username" {
		t.Errorf("the other browser after the reset: %s, want signed out", p.URL)
	}
	fresh := e.Browser()
	webtest.Code(t, fresh.SignIn(fresh.Authorize(nil), "ann", "violet kettle harbour"))
}

// TestPasswordPagesSayEveryRule (reset): the reset's new-password stage
// states every rule the server applies, name included.
func TestPasswordPagesSayEveryRule(t *testing.T) {
	e := webtest.New(t, oneProof)
	u := e.CreateUser("ann")
	secret := e.AddApp(u)
	b := e.Browser()
	p := b.Submit(start(t, b, "ann"), choose("app|app"))
	p = b.Submit(p, verify(e.TOTP(secret)))
	expectReset(t, p, http.StatusOK, "Choose a new password")
	for _, want := range webtest.PasswordRules {
		if !p.Contains(want) {
			t.Errorf("%s does not say %q", p.URL.Path, want)
		}
	}
}

func TestWrongProofsLock(t *testing.T) {
	e := webtest.New(t, oneProof)
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	b := e.Browser()
	codePage := b.Submit(start(t, b, "ann"), choose("phone|sms"))
	p := codePage
	right := e.LastCode(webtest.Phone)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	const failures = 5 // config's sspr.proof_failures
	for range failures - 1 {
		p = b.Submit(p, verify(wrong))
		expectReset(t, p, http.StatusUnprocessableEntity)
	}
	p = b.Submit(p, verify(wrong))
	expectReset(t, p, http.StatusUnprocessableEntity, lockout.MsgSSPRLocked)
	if got := e.Events("sspr.proof_failed", u.ID); len(got) != failures {
		t.Errorf("sspr.proof_failed events = %d, want %d", len(got), failures)
	}
	// Locked, even the right code is not checked, and a new reset is locked
	// too.
	p = b.Submit(codePage, verify(right))
	expectReset(t, p, http.StatusOK, "password reset is locked for 24 hours")
	if len(p.Forms()) != 0 {
		t.Errorf("the locked page offers a form:\n%s", p.Body)
	}
	again := b.Get("/reset")
	again = b.Submit(again, url.Values{"username": {"ann"}})
	expectReset(t, again, http.StatusOK, "password reset is locked for 24 hours")
}

func TestEmailLimitLocks(t *testing.T) {
	e := webtest.New(t, webtest.Options{
		Policy:  func(p *policy.Policy) { p.SSPR.MethodsRequired = 1 },
		Lockout: func(o *lockout.Options) { o.SSPREmails = 1 },
	})
	u := e.CreateUser("ann")
	e.AddEmail(u, "ann@home.example")
	b := e.Browser()
	p := b.Submit(start(t, b, "ann"), choose("email|email"))
	expectReset(t, p, http.StatusOK, "If an alternate email is registered to your account")
	p = b.Submit(p, url.Values{"action": {"back"}})
	p = b.Submit(p, choose("email|email"))
	expectReset(t, p, http.StatusUnprocessableEntity, lockout.MsgSSPRLocked)
	if n := len(e.Sent("ann@home.example")); n != 1 {
		t.Errorf("emails sent = %d, want 1", n)
	}
	if got := e.Events("sspr.locked", u.ID); len(got) != 1 {
		t.Errorf("sspr.locked events = %d, want 1", len(got))
	}
}

func TestForgedFormIs403(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	e.CreateUser("ann")
	b := e.Browser()
	b.Get("/reset")
	if p := b.Post("/reset", url.Values{"csrf_token": {"forged"}, "username": {"ann"}}); p.Status != http.StatusForbidden {
		t.Errorf("a forged start: %d, want 403", p.Status)
	}
}

func TestRedisOutageIs503(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	b := e.Browser()
	p := start(t, b, "ann")
	first := b.Get("/reset")
	e.RedisDown()
	for name, got := range map[string]*webtest.Page{
		"start":  b.Submit(first, url.Values{"username": {"ann"}}),
		"page":   b.Get("/reset/verify"),
		"choose": b.Submit(p, choose("phone|sms")),
	} {
		if got.Status != http.StatusServiceUnavailable || got.Header.Get("Retry-After") == "" {
			t.Errorf("%s with Redis down: %d, Retry-After %q; want 503 with Retry-After:\n%s", name, got.Status, got.Header.Get("Retry-After"), got.Text())
		}
	}
	e.RedisUp()
	expectReset(t, b.Submit(p, choose("phone|sms")), http.StatusOK, "If a mobile phone is registered")
}

// TestFinishedResetIsFinal: once the password is reset, "back" cannot
// reopen the reset to prove one more channel and set the password again.
func TestFinishedResetIsFinal(t *testing.T) {
	e := webtest.New(t, oneProof)
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	b := e.Browser()
	p := b.Submit(start(t, b, "ann"), choose("phone|sms"))
	p = b.Submit(p, verify(e.LastCode(webtest.Phone)))
	token := b.Form(p, "").CSRF
	p = b.Submit(p, url.Values{"action": {"password"}, "new_password": {"violet kettle harbour"}, "confirm_password": {"violet kettle harbour"}})
	expectReset(t, p, http.StatusOK, "Your password has been reset")

	back := b.Post("/reset/verify", url.Values{"csrf_token": {token}, "action": {"back"}})
	expectReset(t, back, http.StatusUnprocessableEntity, "That step is not available now")
	expectReset(t, b.Get("/reset/verify"), http.StatusOK, "Your password has been reset")
}
