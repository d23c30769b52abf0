package systemtest

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
)

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formPost reads the fields of a form_post page, checking that it posts
// to redirectURI and that its policy lets it post only there.
func formPost(t *testing.T, resp *http.Response, redirectURI string) url.Values {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<form method="post" action="`+redirectURI+`"`) ||
		!strings.Contains(csp, "form-action http://127.0.0.1:9999;") || !strings.Contains(csp, "script-src 'sha256-") {
		t.Fatalf("got %d, CSP %q:\n%s", resp.StatusCode, csp, body)
	}
	fields := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(body), -1) {
		fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return fields
}

// TestFormPostResponseMode answers with response_mode=form_post, codes and
// errors alike carrying iss, and advertises it in discovery.
func TestFormPostResponseMode(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	gh.createUser(t, "fpost")
	rp := gh.registerApp(t, clients.Registration{Name: "District app"}, "openid")
	var disco struct {
		Modes []string `json:"response_modes_supported"`
	}
	if err := rp.Provider.Claims(&disco); err != nil || !slices.Contains(disco.Modes, "form_post") {
		t.Fatalf("discovery: %v %v", disco.Modes, err)
	}

	// Not signed in, prompt=none: the error is posted, with iss.
	resp, err := http.Get(rp.AuthCodeURL("state-0001", oauth2.SetAuthURLParam("response_mode", "form_post"),
		oauth2.SetAuthURLParam("prompt", "none")))
	if err != nil {
		t.Fatal(err)
	}
	if got := formPost(t, resp, rpRedirect); got.Get("error") != "login_required" || got.Get("state") != "state-0001" || got.Get("iss") != gh.Issuer {
		t.Fatalf("error fields: %v", got)
	}

	// A sign-in ends in the posted code, which redeems.
	b := newBrowser(t, rpRedirect)
	pkce := oauth2.GenerateVerifier()
	resp, err = b.http.Get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("response_mode", "form_post")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The sign-in forms end in a redirect or a page for the application:
	// Chrome checks form-action against that too.
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9999;") {
		t.Fatalf("sign-in page CSP %q", csp)
	}
	p := b.submit(b.get(resp.Request.URL.String()), url.Values{"username": {"fpost"}})
	action := formAction.FindStringSubmatch(p.Body)
	token := csrfField.FindStringSubmatch(p.Body)
	if action == nil || token == nil {
		t.Fatalf("no password form:\n%s", p.Body)
	}
	target := p.URL.ResolveReference(&url.URL{Path: strings.SplitN(html.UnescapeString(action[1]), "?", 2)[0]})
	target.RawQuery = strings.SplitN(html.UnescapeString(action[1]), "?", 2)[1]
	req, _ := http.NewRequest(http.MethodPost, target.String(),
		strings.NewReader(url.Values{"password": {testPassword}, "csrf_token": {html.UnescapeString(token[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := formPost(t, resp, rpRedirect)
	if got.Get("code") == "" || got.Get("state") != "state-0002" || got.Get("iss") != gh.Issuer {
		t.Fatalf("fields: %v", got)
	}
	if _, err := rp.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(pkce)); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityHeaders: every page limits where forms post; an https
// issuer adds HSTS.
func TestSecurityHeaders(t *testing.T) {
	c := newCluster(t)
	c.configure = func(cfg *config.Config) { cfg.Issuer = "https://login.district.example" }
	gh := c.start()
	resp, err := http.Get(gh.Server.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("CSP %q", csp)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("HSTS %q", hsts)
	}
}
