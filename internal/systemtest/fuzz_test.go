package systemtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// fuzzServer is one server shared by every input of a fuzz run.
func fuzzServer(f *testing.F) (http.Handler, *clients.Client) {
	gh := newCluster(f).start()
	client, _ := gh.createClient(f, clients.Registration{Name: "Fuzz", RedirectURIs: []string{rpRedirect}})
	return gh.Server.Config.Handler, client
}

// FuzzAuthorize sends arbitrary query strings to the authorization
// endpoint: it must never fail with a 5xx, and must never redirect anywhere
// but the client's registered URI or its own sign-in pages.
func FuzzAuthorize(f *testing.F) {
	gh, client := fuzzServer(f)
	valid := url.Values{"client_id": {client.ID}, "redirect_uri": {rpRedirect}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"state-0001"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
	f.Add(valid.Encode())
	f.Add(strings.Replace(valid.Encode(), "127.0.0.1", "evil.example", 1))
	f.Add("client_id=" + client.ID + "&response_type=token&redirect_uri=" + url.QueryEscape(rpRedirect))
	f.Add("prompt=none&max_age=-1&" + valid.Encode())
	f.Add("%zz&&==;")
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/oauth2/authorize", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		gh.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, query)
		}
		if loc := rec.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, rpRedirect+"?") && !strings.HasPrefix(loc, "/login/") {
			t.Fatalf("redirect to %q for %q", loc, query)
		}
	})
}

// FuzzTokenEndpoint posts arbitrary forms to the token endpoint: the answer
// is always an RFC 6749 JSON error, never a 5xx.
func FuzzTokenEndpoint(f *testing.F) {
	gh, client := fuzzServer(f)
	f.Add("grant_type=authorization_code&code=abc&redirect_uri="+url.QueryEscape(rpRedirect), client.ID, "secret")
	f.Add("grant_type=refresh_token&refresh_token=ory_rt_x.y", client.ID, "")
	f.Add("grant_type=client_credentials&scope=openid%20admin", client.ID, "x")
	f.Add("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=a.b.c", "", "")
	f.Add("client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=e30.e30.&grant_type=client_credentials", client.ID, "")
	f.Fuzz(func(t *testing.T, form, user, pass string) {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		gh.ServeHTTP(rec, req)
		var body struct {
			Error string `json:"error"`
		}
		if rec.Code >= 500 || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error == "" {
			t.Fatalf("status %d body %s for %q", rec.Code, rec.Body, form)
		}
	})
}

// FuzzLoginForms posts arbitrary bodies to the sign-in steps: a readable
// page comes back, never a 5xx.
func FuzzLoginForms(f *testing.F) {
	gh, _ := fuzzServer(f)
	f.Add("/login/username", "flow=x", "username=jdoe&csrf_token=abc")
	f.Add("/login/password", "flow=", "password=%00%ff")
	f.Add("/login/change-password", "flow=%zz", "new_password=a&confirm_password=b")
	f.Add("/login/consent", "", "decision=allow")
	f.Add("/oauth2/logout", "id_token_hint=a.b.c&post_logout_redirect_uri=https://evil.example", "confirm=yes")
	f.Fuzz(func(t *testing.T, path, query, body string) {
		if !strings.HasPrefix(path, "/login/") && path != "/oauth2/logout" {
			return
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.URL.Path, req.URL.RawQuery = path, query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		gh.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %s?%s %q", rec.Code, path, query, body)
		}
		if loc := rec.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, rpRedirect) {
			t.Fatalf("redirect to %q", loc)
		}
	})
}
