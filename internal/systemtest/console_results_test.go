package systemtest

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// TestConsoleResultsShownOnce: registering an app, resetting a password and
// issuing an access code each end on a page reached by a redirect, which
// shows the secret once; reloading it repeats nothing and shows nothing,
// and another console session can't open it.
func TestConsoleResultsShownOnce(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	r.person("boss", identity.RoleAdmin)
	r.person("deputy", identity.RoleAdmin)
	kid := r.person("kid")
	b, _ := r.signIn("boss")
	other, _ := r.signIn("deputy")

	countClients := func() int {
		list, err := r.gh.App.Clients.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	before := countClients()
	form := b.get(r.gh.Issuer + "/admin/clients/new")
	p := post(b, form, "/admin/clients/new", url.Values{"name": {"Library"}, "type": {"confidential"},
		"redirect_uris": {rpRedirect}, "grant_types": {"authorization_code"}, "scopes": {"openid"}})
	mustSee(t, p, "Application registered", "Copy it now")
	secret := shownClientSecret.FindStringSubmatch(p.Body)
	if secret == nil || !strings.HasPrefix(p.URL.Path, "/admin/result/") {
		t.Fatalf("the secret is not on a page of its own (%s):\n%s", p.URL, p.Body)
	}
	if p := other.get(p.URL.String()); p.Status != http.StatusGone || strings.Contains(p.Body, secret[1]) {
		t.Fatalf("another session opened the result: %d", p.Status)
	}
	again := b.get(p.URL.String())
	if again.Status != http.StatusGone || strings.Contains(again.Body, secret[1]) {
		t.Fatalf("reloading the result: %d\n%s", again.Status, again.Body)
	}
	mustSee(t, again, "Already shown")
	if n := countClients(); n != before+1 {
		t.Fatalf("%d applications registered", n-before)
	}
	id := shownClientID.FindStringSubmatch(p.Body)[1]
	if c, err := r.gh.App.Clients.Get(ctx, id); err != nil || !clients.SecretMatches(c.SecretHash, secret[1]) {
		t.Fatalf("the shown secret is not the stored one: %v", err)
	}

	page := b.get(r.gh.Issuer + "/admin/users/" + kid.ID)
	p = post(b, page, "/admin/users/"+kid.ID+"/reset-password", nil)
	temp := shownTempPassword.FindStringSubmatch(p.Body)
	if temp == nil || !strings.HasPrefix(p.URL.Path, "/admin/result/") {
		t.Fatalf("no temporary password on a page of its own (%s):\n%s", p.URL, p.Body)
	}
	if again := b.get(p.URL.String()); again.Status != http.StatusGone || strings.Contains(again.Body, temp[1]) {
		t.Fatalf("reloading the password: %d", again.Status)
	}
	if _, err := r.gh.App.Users.Authenticate(ctx, "kid", html.UnescapeString(temp[1])); err != nil {
		t.Fatalf("the shown password stopped working after a reload: %v", err)
	}

	p = post(b, page, "/admin/users/"+kid.ID+"/access-code", nil)
	mustSee(t, p, "Temporary access code")
	if again := b.get(p.URL.String()); again.Status != http.StatusGone {
		t.Fatalf("reloading the access code: %d", again.Status)
	}
}
