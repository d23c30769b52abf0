package signin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

func TestPasswordAloneIssuesTheCode(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	b := e.Browser()
	p := b.Authorize(nil)
	if !p.Contains("Sign in") {
		t.Fatalf("the first page is not the sign-in page:\n%s", p.Body)
	}
	webtest.Code(t, b.SignIn(p, "ann", webtest.Password))
	if got := e.Events("signin.success", u.ID); len(got) != 1 {
		t.Errorf("signin.success events = %d, want 1", len(got))
	}
	// The browser is signed in now: the next request needs no page.
	webtest.Code(t, b.Authorize(nil))
}

func TestWrongPasswordIs401WithTheMessage(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", "not the password at all")
	if p.Status != http.StatusUnauthorized || !p.Contains("Your username or password is incorrect.") {
		t.Fatalf("wrong password: %d, want 401 with the message:\n%s", p.Status, p.Text())
	}
	if p.URL.Path != "/login/password" || p.Location != "" {
		t.Errorf("wrong password answered at %s (to %q), want the password page again", p.URL, p.Location)
	}
	if got := e.Events("signin.failure", u.ID); len(got) != 1 {
		t.Errorf("signin.failure events = %d, want 1", len(got))
	}
	// An unknown username is answered the same way.
	p = b.SignIn(b.Authorize(nil), "nobody", webtest.Password)
	if p.Status != http.StatusUnauthorized || !p.Contains("Your username or password is incorrect.") {
		t.Errorf("unknown username: %d:\n%s", p.Status, p.Text())
	}
}

func TestAccountLockIs429(t *testing.T) {
	e := webtest.New(t, webtest.Options{Lockout: func(o *lockout.Options) { o.SignInThreshold = 3 }})
	e.CreateUser("ann")
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", "wrong password one")
	for i := 0; i < 5 && p.Status == http.StatusUnauthorized; i++ {
		p = b.Submit(p, url.Values{"password": {"wrong password again"}})
	}
	if p.Status != http.StatusTooManyRequests || !p.Contains(lockout.MsgSignInLocked) {
		t.Fatalf("after repeated wrong passwords: %d, want 429 with the lock message:\n%s", p.Status, p.Text())
	}
	// Locked, even the right password is not checked.
	p = b.Submit(p, url.Values{"password": {webtest.Password}})
	if p.Status != http.StatusTooManyRequests || p.Location != "" {
		t.Errorf("right password while locked: %d (to %q), want 429", p.Status, p.Location)
	}
	if got := e.Events("signin.locked", ""); len(got) == 0 {
		t.Error("the lock was not audited")
	}
}

func TestAddressLockIs429(t *testing.T) {
	e := webtest.New(t, webtest.Options{Lockout: func(o *lockout.Options) { o.AddressFailures = 3 }})
	e.CreateUser("ann")
	var p *webtest.Page
	// A guesser trying a different name each time, from one address.
	for i, name := range []string{"bob", "cat", "dan", "eve"} {
		b := e.Browser()
		p = b.SignIn(b.Authorize(nil), name, "guessed password")
		if i < 3 && p.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i+1, p.Status)
		}
	}
	if p.Status != http.StatusTooManyRequests || !p.Contains("Too many failed sign-in attempts from your network") {
		t.Fatalf("after the address's limit: %d, want 429 with the network message:\n%s", p.Status, p.Text())
	}
	// Another address is not blocked.
	b := e.Browser()
	b.RemoteAddr = "203.0.113.9:5000"
	webtest.Code(t, b.SignIn(b.Authorize(nil), "ann", webtest.Password))
}

func TestForcedPasswordChange(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	e.CreateUserWith(identity.NewUser{Username: "ann", MustChangePassword: true})
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	if p.URL.Path != "/login/change-password" || !p.Contains("Update your password") {
		t.Fatalf("after a temporary password: %d %s, want the change-password page:\n%s", p.Status, p.URL, p.Text())
	}
	sayEveryRule(t, p)
	weak := b.Submit(p, url.Values{"new_password": {"password1234"}, "confirm_password": {"password1234"}})
	if weak.Status != http.StatusUnprocessableEntity || weak.URL.Path != "/login/change-password" {
		t.Fatalf("a common password: %d %s, want 422 on the same page", weak.Status, weak.URL)
	}
	mismatch := b.Submit(weak, url.Values{"new_password": {"violet kettle harbour"}, "confirm_password": {"violet kettle harbor"}})
	if mismatch.Status != http.StatusUnprocessableEntity || !mismatch.Contains("The passwords don't match.") {
		t.Fatalf("mismatched passwords: %d:\n%s", mismatch.Status, mismatch.Text())
	}
	webtest.Code(t, b.Submit(mismatch, url.Values{"new_password": {"violet kettle harbour"}, "confirm_password": {"violet kettle harbour"}}))
	// The new password is the one now.
	b2 := e.Browser()
	webtest.Code(t, b2.SignIn(b2.Authorize(nil), "ann", "violet kettle harbour"))
}

// TestPasswordPagesSayEveryRule (change_password): the page that takes a
// new password states every rule the server applies, name included.
func TestPasswordPagesSayEveryRule(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	e.CreateUserWith(identity.NewUser{Username: "ann", MustChangePassword: true})
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	if p.URL.Path != "/login/change-password" {
		t.Fatalf("got %s, want the change-password page", p.URL)
	}
	sayEveryRule(t, p)
}

func sayEveryRule(t *testing.T, p *webtest.Page) {
	t.Helper()
	for _, want := range webtest.PasswordRules {
		if !p.Contains(want) {
			t.Errorf("%s does not say %q", p.URL.Path, want)
		}
	}
}

func TestPromptNoneWithoutSessionIsLoginRequired(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	b := e.Browser()
	p := b.Authorize(webtest.Params{"prompt": "none"})
	if got := webtest.RedirectError(t, p); got != "login_required" {
		t.Errorf("prompt=none without a session: error %q, want login_required", got)
	}
}

func TestRepeatedParameterIsAnErrorPage(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	b := e.Browser()
	q := webtest.AuthorizeQuery(e.Client.ID, nil)
	q.Add("redirect_uri", "https://evil.example/callback")
	p := b.Get("/oauth2/authorize?" + q.Encode())
	if p.Location != "" {
		t.Fatalf("a repeated parameter redirected to %s", p.Location)
	}
	if p.Status != http.StatusBadRequest || !p.Contains("Sign-in request not valid") {
		t.Fatalf("a repeated parameter: %d, want 400 and the error page:\n%s", p.Status, p.Text())
	}
	if got := e.Events("authorize.refused", ""); len(got) != 1 {
		t.Errorf("authorize.refused events = %d, want 1", len(got))
	}
}

func TestUnknownFlowIsExpired(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	p := e.Browser().Get("/login/password?flow=not-a-flow")
	if p.Status != http.StatusBadRequest || !p.Contains("Sign-in expired") {
		t.Fatalf("unknown flow: %d:\n%s", p.Status, p.Text())
	}
}

func TestCSRFFailureIs403(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	e.CreateUser("ann")
	b := e.Browser()
	p := b.Authorize(nil)
	form := b.Form(p, "/login/username")
	bad := b.Post(form.Action, url.Values{"csrf_token": {"forged"}, "username": {"ann"}})
	if bad.Status != http.StatusForbidden || bad.Location != "" {
		t.Fatalf("a forged form token: %d (to %q), want 403", bad.Status, bad.Location)
	}
}

func TestRedisOutageIs503(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	e.CreateUser("ann")
	b := e.Browser()
	p := b.Authorize(nil)
	password := b.Submit(p, url.Values{"username": {"ann"}})
	for _, step := range []struct {
		name string
		do   func() *webtest.Page
	}{
		{"authorize", func() *webtest.Page { return b.Authorize(nil) }},
		{"username page", func() *webtest.Page { return b.Get(p.URL.RequestURI()) }},
		{"password", func() *webtest.Page {
			return b.Submit(password, url.Values{"password": {webtest.Password}})
		}},
	} {
		e.RedisDown()
		got := step.do()
		e.RedisUp()
		if got.Status != http.StatusServiceUnavailable || got.Header.Get("Retry-After") == "" || got.Location != "" {
			t.Errorf("%s with Redis down: %d, Retry-After %q (to %q); want 503 with Retry-After",
				step.name, got.Status, got.Header.Get("Retry-After"), got.Location)
		}
		if !strings.Contains(got.Body, "Try again") {
			t.Errorf("%s with Redis down does not offer to try again:\n%s", step.name, got.Text())
		}
	}
	// Back up, the same sign-in goes on.
	webtest.Code(t, b.Submit(password, url.Values{"password": {webtest.Password}}))
}
