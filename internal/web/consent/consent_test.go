package consent_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

var askConsent = webtest.Options{Client: func(r *clients.Registration) { r.RequireConsent = true }}

func consentPage(t *testing.T, e *webtest.Env, b *webtest.Browser) *webtest.Page {
	t.Helper()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	if p.Status != http.StatusOK || p.URL.Path != "/login/consent" {
		t.Fatalf("got %d %s (to %q), want the consent page:\n%s", p.Status, p.URL, p.Location, p.Text())
	}
	for _, want := range []string{"Gradebook would like to:", "Sign you in", "See your name and username", "See your email address"} {
		if !p.Contains(want) {
			t.Errorf("the consent page does not say %q:\n%s", want, p.Text())
		}
	}
	return p
}

func TestAllowIssuesTheCode(t *testing.T) {
	e := webtest.New(t, askConsent)
	u := e.CreateUser("ann")
	b := e.Browser()
	webtest.Code(t, b.Submit(consentPage(t, e, b), url.Values{"decision": {"allow"}}))
	if got := e.Events("consent.granted", u.ID); len(got) != 1 || got[0].ClientID != e.Client.ID {
		t.Errorf("consent.granted events = %+v, want one for the client", got)
	}
}

func TestDenyIsAccessDenied(t *testing.T) {
	e := webtest.New(t, askConsent)
	u := e.CreateUser("ann")
	b := e.Browser()
	p := b.Submit(consentPage(t, e, b), url.Values{"decision": {"deny"}})
	if got := webtest.RedirectError(t, p); got != "access_denied" {
		t.Errorf("deny: error %q, want access_denied", got)
	}
	if got := e.Events("consent.denied", u.ID); len(got) != 1 {
		t.Errorf("consent.denied events = %d, want 1", len(got))
	}
}

func TestForgedFormIs403(t *testing.T) {
	e := webtest.New(t, askConsent)
	e.CreateUser("ann")
	b := e.Browser()
	p := consentPage(t, e, b)
	got := b.Post(b.Form(p, "/login/consent").Action, url.Values{"decision": {"allow"}, "csrf_token": {"forged"}})
	if got.Status != http.StatusForbidden || got.Location != "" {
		t.Fatalf("a forged consent: %d (to %q), want 403", got.Status, got.Location)
	}
}

func TestRedisOutageIs503(t *testing.T) {
	e := webtest.New(t, askConsent)
	e.CreateUser("ann")
	b := e.Browser()
	p := consentPage(t, e, b)
	e.RedisDown()
	got := b.Submit(p, url.Values{"decision": {"allow"}})
	e.RedisUp()
	if got.Status != http.StatusServiceUnavailable || got.Header.Get("Retry-After") == "" || got.Location != "" {
		t.Fatalf("consent with Redis down: %d, Retry-After %q (to %q); want 503", got.Status, got.Header.Get("Retry-After"), got.Location)
	}
	webtest.Code(t, b.Submit(p, url.Values{"decision": {"allow"}}))
}
