package logout_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

// signedIn is a browser u signed in to the application with, and the ID
// token the application got.
func signedIn(t *testing.T, e *webtest.Env, u *identity.User) (*webtest.Browser, string) {
	t.Helper()
	b := e.Browser()
	code := webtest.Code(t, b.SignIn(b.Authorize(nil), "ann", webtest.Password))
	return b, e.IDToken(code)
}

// expectSignedOut checks that b has no session any more.
func expectSignedOut(t *testing.T, b *webtest.Browser) {
	t.Helper()
	if p := b.Get("/account"); p.URL.Path != "/login/username" {
		t.Errorf("after signing out My Account opened at %s, want the sign-in", p.URL)
	}
}

func logoutURL(params url.Values) string { return "/oauth2/logout?" + params.Encode() }

func TestIDTokenHintSignsOutAtOnce(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	b, idToken := signedIn(t, e, u)
	p := b.Get(logoutURL(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {webtest.PostLogoutURI}, "state": {"bye-1"}}))
	if p.Location != webtest.PostLogoutURI+"?state=bye-1" {
		t.Fatalf("logout with a hint: %d (to %q), want the registered address with state:\n%s", p.Status, p.Location, p.Text())
	}
	expectSignedOut(t, b)
	if got := e.Events("signout", u.ID); len(got) != 1 || got[0].ClientID != e.Client.ID {
		t.Errorf("signout events = %+v, want one for the client", got)
	}
}

func TestWithoutHintAsksFirst(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	b, _ := signedIn(t, e, u)
	p := b.Get(logoutURL(url.Values{"client_id": {e.Client.ID}, "post_logout_redirect_uri": {webtest.PostLogoutURI}}))
	if p.Status != http.StatusOK || !p.Contains("Do you want to sign out of") || p.Location != "" {
		t.Fatalf("logout without a hint: %d (to %q), want the confirmation:\n%s", p.Status, p.Location, p.Text())
	}
	// Not confirmed yet: still signed in.
	webtest.Code(t, b.Authorize(nil))

	p = b.Submit(p, nil)
	if p.Location != webtest.PostLogoutURI {
		t.Fatalf("confirmed logout: %d (to %q), want the registered address", p.Status, p.Location)
	}
	expectSignedOut(t, b)

	// Without a return address, Gatehouse says so itself.
	b2, _ := signedIn(t, e, u)
	p = b2.Submit(b2.Get("/oauth2/logout"), nil)
	if p.Status != http.StatusOK || !p.Contains("You signed out of your account") {
		t.Fatalf("confirmed logout with no return address: %d:\n%s", p.Status, p.Text())
	}
	expectSignedOut(t, b2)
}

func TestForgedConfirmationIsAskedAgain(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	b, _ := signedIn(t, e, u)
	p := b.Post("/oauth2/logout", url.Values{"confirm": {"yes"}, "csrf_token": {"forged"}})
	if p.Status != http.StatusOK || !p.Contains("Do you want to sign out of") {
		t.Fatalf("a forged confirmation: %d:\n%s", p.Status, p.Text())
	}
	webtest.Code(t, b.Authorize(nil))
}

func TestUnregisteredReturnAddressIsRefused(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	b, idToken := signedIn(t, e, u)
	for name, q := range map[string]url.Values{
		"with a hint":       {"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"with a client":     {"client_id": {e.Client.ID}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"with no client":    {"post_logout_redirect_uri": {webtest.PostLogoutURI}},
		"a forged hint":     {"id_token_hint": {idToken + "x"}, "post_logout_redirect_uri": {webtest.PostLogoutURI}},
		"an unknown client": {"client_id": {"nobody"}, "post_logout_redirect_uri": {webtest.PostLogoutURI}},
	} {
		p := b.Get(logoutURL(q))
		if p.Status != http.StatusBadRequest || p.Location != "" || !p.Contains("Sign-out request not valid") {
			t.Errorf("%s: %d (to %q), want 400 and no redirect:\n%s", name, p.Status, p.Location, p.Text())
		}
	}
	// Nothing was signed out.
	webtest.Code(t, b.Authorize(nil))
}

func TestRedisOutageIs503(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	b, idToken := signedIn(t, e, u)
	target := logoutURL(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {webtest.PostLogoutURI}})
	e.RedisDown()
	p := b.Get(target)
	e.RedisUp()
	if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" || p.Location != "" {
		t.Fatalf("logout with Redis down: %d, Retry-After %q (to %q); want 503", p.Status, p.Header.Get("Retry-After"), p.Location)
	}
	if p = b.Get(target); p.Location == "" {
		t.Fatalf("logout once Redis is back: %d", p.Status)
	}
	expectSignedOut(t, b)
}
