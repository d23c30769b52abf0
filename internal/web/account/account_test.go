package account_test

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

// signInToAccount opens My Account in a new browser, which signs in with
// the password first.
func signInToAccount(t *testing.T, e *webtest.Env, name string) (*webtest.Browser, *webtest.Page) {
	t.Helper()
	b := e.Browser()
	p := b.Get("/account")
	if p.URL.Path != "/login/username" || !p.Contains("My Account") {
		t.Fatalf("My Account without a session: %d %s, want the sign-in for My Account:\n%s", p.Status, p.URL, p.Text())
	}
	return b, b.SignIn(p, name, webtest.Password)
}

func expectAccount(t *testing.T, p *webtest.Page, status int, texts ...string) {
	t.Helper()
	if p.Status != status || !strings.HasPrefix(p.URL.Path, "/account") {
		t.Fatalf("got %d %s (to %q), want %d on My Account:\n%s", p.Status, p.URL, p.Location, status, p.Text())
	}
	for _, s := range texts {
		if !p.Contains(s) {
			t.Fatalf("My Account does not say %q:\n%s", s, p.Text())
		}
	}
}

func TestSignInReturnsToAccount(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	e.CreateUser("ann")
	b, p := signInToAccount(t, e, "ann")
	expectAccount(t, p, http.StatusOK, "Test ann", "ann@district.example", "No methods yet.")
	// Signed in, the page opens at once.
	expectAccount(t, b.Get("/account"), http.StatusOK)
}

func TestAddingAMethodNeedsAFreshProof(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	b, p := signInToAccount(t, e, "ann")
	expectAccount(t, p, http.StatusOK, "Phone")

	// The password alone is not proof enough to change security info.
	p = b.Get("/account/add")
	if p.URL.Path != "/login/mfa" || !p.Contains("We texted a code to") {
		t.Fatalf("adding a method after a password-only sign-in: %d %s, want the challenge:\n%s", p.Status, p.URL, p.Text())
	}
	p = b.Submit(p, url.Values{"action": {"verify"}, "code": {e.LastCode(webtest.Phone)}})
	if p.URL.Path != "/account/add" || !p.Contains("Which method would you like to add?") {
		t.Fatalf("after the challenge: %d %s, want the chooser:\n%s", p.Status, p.URL, p.Text())
	}

	p = b.SubmitTo(p, "/account/add", url.Values{"kind": {"app"}})
	if p.URL.Path != "/login/enroll" || !p.Contains("Add a method") {
		t.Fatalf("adding an app: %d %s, want its setup:\n%s", p.Status, p.URL, p.Text())
	}
	secret := strings.ReplaceAll(regexp.MustCompile(`<p class="secret">([A-Z2-7 ]+)</p>`).FindStringSubmatch(p.Body)[1], " ", "")
	p = b.Submit(p, url.Values{"action": {"verify"}, "code": {e.TOTP(secret)}})
	p = b.Submit(p, url.Values{"action": {"continue"}})
	expectAccount(t, p, http.StatusOK, "Your security info was updated.", "Authenticator app")
	if ms := e.Methods(u); len(ms) != 2 {
		t.Errorf("methods = %d, want the phone and the app", len(ms))
	}
}

func TestOnlyMethodCannotBeDeletedWhenPolicyRequiresMFA(t *testing.T) {
	e := webtest.New(t, webtest.Options{Policy: func(p *policy.Policy) {
		p.RequireMFA, p.RequiredMethods, p.RegistrationOrder = true, 1, []mfa.Kind{mfa.App}
	}})
	u := e.CreateUser("ann")
	secret := e.AddApp(u)
	b, p := signInToAccount(t, e, "ann")
	if p.URL.Path != "/login/mfa" {
		t.Fatalf("My Account under a policy requiring MFA: %s, want the challenge", p.URL)
	}
	p = b.Submit(p, url.Values{"action": {"verify"}, "code": {e.TOTP(secret)}})
	expectAccount(t, p, http.StatusOK, "Authenticator app")

	p = b.SubmitTo(p, "/account/delete", nil)
	expectAccount(t, p, http.StatusUnprocessableEntity, "You can't delete your only sign-in method. Add another method first.")
	if ms := e.Methods(u); len(ms) != 1 {
		t.Errorf("methods = %d after a refused delete, want 1", len(ms))
	}
	// With a second method, either may go.
	e.AddPhone(u, webtest.Phone)
	p = b.SubmitTo(b.Get("/account"), "/account/delete", nil)
	expectAccount(t, p, http.StatusOK, "Your security info was updated.")
	if ms := e.Methods(u); len(ms) != 1 {
		t.Errorf("methods = %d after deleting one of two, want 1", len(ms))
	}
}

func TestPasswordChangeSignsOutOtherSessions(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	here, p := signInToAccount(t, e, "ann")
	expectAccount(t, p, http.StatusOK)
	elsewhere, p := signInToAccount(t, e, "ann")
	expectAccount(t, p, http.StatusOK)

	p = here.Get("/account/password")
	if p.URL.Path != "/account/password" || !p.Contains("Change password") {
		t.Fatalf("got %d %s, want the password page", p.Status, p.URL)
	}
	wrong := here.Submit(p, url.Values{"current_password": {"not my password"},
		"new_password": {"violet kettle harbour"}, "confirm_password": {"violet kettle harbour"}})
	if wrong.Status != http.StatusUnprocessableEntity || !wrong.Contains("Your current password is incorrect.") {
		t.Fatalf("wrong current password: %d:\n%s", wrong.Status, wrong.Text())
	}
	p = here.Submit(wrong, url.Values{"current_password": {webtest.Password},
		"new_password": {"violet kettle harbour"}, "confirm_password": {"violet kettle harbour"}})
	expectAccount(t, p, http.StatusOK, "Your password was changed. You were signed out everywhere else.")
	if got := e.Events("user.password_changed", u.ID); len(got) != 1 {
		t.Errorf("user.password_changed events = %d, want 1", len(got))
	}

	if p := elsewhere.Get("/account"); p.URL.Path != "/login/username" {
		t.Errorf("the other browser after the change: %s, want signed out", p.URL)
	}
	expectAccount(t, here.Get("/account"), http.StatusOK)
}

// TestPasswordPagesSayEveryRule (account_password): the page that takes a
// new password states every rule the server applies, name included.
func TestPasswordPagesSayEveryRule(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	e.CreateUser("ann")
	b, _ := signInToAccount(t, e, "ann")
	p := b.Get("/account/password")
	for _, want := range webtest.PasswordRules {
		if !p.Contains(want) {
			t.Errorf("%s does not say %q", p.URL.Path, want)
		}
	}
}

func TestForgedFormIs403(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	b, p := signInToAccount(t, e, "ann")
	expectAccount(t, p, http.StatusOK)
	id := e.Methods(u)[0].ID
	for _, path := range []string{"/account/delete", "/account/default", "/account/password"} {
		got := b.Post(path, url.Values{"csrf_token": {"forged"}, "method": {id},
			"current_password": {webtest.Password}, "new_password": {"violet kettle harbour"}, "confirm_password": {"violet kettle harbour"}})
		if got.Status != http.StatusForbidden || got.Location != "" {
			t.Errorf("forged %s: %d (to %q), want 403", path, got.Status, got.Location)
		}
	}
	if ms := e.Methods(u); len(ms) != 1 {
		t.Errorf("methods = %d after forged deletes, want 1", len(ms))
	}
}

func TestRedisOutageIs503(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	e.CreateUser("ann")
	b, p := signInToAccount(t, e, "ann")
	expectAccount(t, p, http.StatusOK)
	e.RedisDown()
	got := b.Get("/account")
	e.RedisUp()
	if got.Status != http.StatusServiceUnavailable || got.Header.Get("Retry-After") == "" || got.URL.Path != "/account" {
		t.Fatalf("My Account with Redis down: %d %s, Retry-After %q; want 503 there", got.Status, got.URL, got.Header.Get("Retry-After"))
	}
	expectAccount(t, b.Get("/account"), http.StatusOK)
}
