package systemtest

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/pkg/assurance"
	"github.com/gatehouse/gatehouse/pkg/rp"
	"github.com/gatehouse/gatehouse/pkg/rp/resource"
)

// redirectParams follows a browser's sign-in to the redirect back to the
// app, and returns that response's parameters.
func redirectParams(t *testing.T, p pageResp) url.Values {
	t.Helper()
	u, err := url.Parse(p.Location)
	if err != nil || p.Location == "" {
		t.Fatalf("no redirect to the app: %d %q\n%s", p.Status, p.Location, p.Body)
	}
	return u.Query()
}

// TestPkgRPSignsIn: a district app using pkg/rp signs a person in through
// a real Gatehouse, refusing the forged, mixed-up and replayed responses,
// and refreshes its tokens.
func TestPkgRPSignsIn(t *testing.T) {
	gh := newCluster(t).start()
	u := gh.createUser(t, "jdoe")
	app := gh.registerApp(t, clients.Registration{Name: "Gradebook"}, "openid")
	client, err := rp.New(t.Context(), rp.Config{Issuer: gh.Issuer, ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		RedirectURL: rpRedirect, Scopes: []string{"profile", "offline_access"}})
	if err != nil {
		t.Fatal(err)
	}

	// prompt=none without a Gatehouse session: the error comes back typed.
	authURL, login := client.AuthCodeURL(rp.LoginOptions{Prompt: "none"})
	b := newBrowser(t, rpRedirect)
	_, err = client.Callback(t.Context(), redirectParams(t, b.get(authURL)), login)
	var refused *rp.ResponseError
	if !errors.As(err, &refused) || refused.Code != "login_required" {
		t.Fatalf("prompt=none without a session: %v", err)
	}

	authURL, login = client.AuthCodeURL(rp.LoginOptions{MaxAge: time.Hour, ReturnTo: "/grades"})
	params := redirectParams(t, b.signIn(b.get(authURL), "jdoe", testPassword))
	edited := func(name, value string) url.Values {
		q := url.Values{}
		for k, v := range params {
			q[k] = slices.Clone(v)
		}
		if value == "" {
			q.Del(name)
		} else {
			q.Set(name, value)
		}
		return q
	}
	var wrongIssuer *rp.IssuerError
	if _, err := client.Callback(t.Context(), edited("state", "another"), login); !errors.Is(err, rp.ErrStateMismatch) {
		t.Errorf("another state: %v", err)
	}
	if _, err := client.Callback(t.Context(), edited("iss", "https://evil.example"), login); !errors.As(err, &wrongIssuer) {
		t.Errorf("another issuer: %v", err)
	}
	if _, err := client.Callback(t.Context(), edited("iss", ""), login); !errors.As(err, &wrongIssuer) {
		t.Errorf("no iss, though Gatehouse promises it: %v", err)
	}
	var weak *rp.AssuranceError
	demanding := login
	demanding.ACR = assurance.MFA
	if _, err := client.Callback(t.Context(), params, demanding); !errors.As(err, &weak) || weak.ACR != assurance.Password {
		t.Errorf("a password-only sign-in where MFA is required: %v", err)
	}

	// The code above was redeemed by the refused MFA check: sign in again.
	authURL, login = client.AuthCodeURL(rp.LoginOptions{MaxAge: time.Hour, ReturnTo: "/grades"})
	params = redirectParams(t, b.get(authURL))
	res, err := client.Callback(t.Context(), params, login)
	if err != nil {
		t.Fatal(err)
	}
	if res.Subject != u.ID || res.ACR != assurance.Password || !slices.Contains(res.AMR, assurance.AMRPassword) ||
		time.Since(res.AuthTime) > time.Minute || res.Claims["preferred_username"] != "jdoe@district.example" || res.ReturnTo != "/grades" ||
		res.Token.RefreshToken == "" {
		t.Fatalf("result %+v", res)
	}

	fresh, err := client.Refresh(t.Context(), res.Token.RefreshToken, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Subject != u.ID || fresh.ACR != assurance.Password || fresh.Token.AccessToken == res.Token.AccessToken {
		t.Errorf("refreshed %+v", fresh)
	}
	if _, err := client.Refresh(t.Context(), res.Token.RefreshToken, u.ID); err == nil {
		t.Error("a rotated refresh token was redeemed again")
	}
	if _, err := client.Callback(t.Context(), params, login); err == nil || errors.Is(err, rp.ErrUnavailable) {
		t.Errorf("a replayed code: %v", err)
	}
}

// TestResourceServerChecksGatehouseTokens: an API using pkg/rp/resource
// accepts a Gatehouse access token, sees its sign-in's acr, amr and
// auth_time, asks for step-up on a route that needs MFA, refuses an unknown
// token, and answers 503 (not 401) while Gatehouse's storage is down.
func TestResourceServerChecksGatehouseTokens(t *testing.T) {
	c := newCluster(t)
	mini := stoppableRedis(t, c)
	gh := c.start()
	u := gh.createUser(t, "jdoe")
	app := gh.registerApp(t, clients.Registration{Name: "Gradebook"}, "openid")
	tok := app.codeFlow(t, newBrowser(t, rpRedirect), "jdoe", "state-0001")
	apiReg := gh.registerApp(t, clients.Registration{Name: "Grades API", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"profile"}, RedirectURIs: []string{}, MayIntrospect: true})

	serve := func(ttl time.Duration) *httptest.Server {
		v, err := resource.New(resource.Config{Issuer: gh.Issuer, ClientID: apiReg.ClientID, ClientSecret: apiReg.ClientSecret, CacheTTL: ttl,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, _ := resource.FromContext(r.Context())
			json.NewEncoder(w).Encode(t)
		})
		mux := http.NewServeMux()
		mux.Handle("GET /grades", v.Require(echo))
		mux.Handle("POST /grades", v.RequireACR(assurance.MFA, 0)(echo))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	call := func(srv *httptest.Server, method, token string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+"/grades", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}

	api := serve(0)
	resp, body := call(api, http.MethodGet, tok.AccessToken)
	amr, _ := body["amr"].([]any)
	if resp.StatusCode != http.StatusOK || body["sub"] != u.ID || body["client_id"] != app.ClientID || body["acr"] != assurance.Password ||
		len(amr) == 0 || amr[0] != assurance.AMRPassword || body["auth_time"] == float64(0) {
		t.Fatalf("a good token: %d %v", resp.StatusCode, body)
	}
	resp, _ = call(api, http.MethodPost, tok.AccessToken)
	if want := `Bearer error="insufficient_user_authentication", error_description="A sign-in with a stronger method is required.", acr_values="mfa"`; resp.StatusCode != http.StatusUnauthorized ||
		resp.Header.Get("WWW-Authenticate") != want {
		t.Errorf("a password-only token where MFA is required: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp, _ := call(api, http.MethodGet, "not-a-gatehouse-token"); resp.StatusCode != http.StatusUnauthorized ||
		resp.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token", error_description="The access token is not active."` {
		t.Errorf("an unknown token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	uncached := serve(-1)
	mini.Close()
	if resp, _ := call(uncached, http.MethodGet, tok.AccessToken); resp.StatusCode != http.StatusServiceUnavailable ||
		resp.Header.Get("Retry-After") == "" || resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("with Gatehouse's Redis down: %d, Retry-After %q, WWW-Authenticate %q", resp.StatusCode,
			resp.Header.Get("Retry-After"), resp.Header.Get("WWW-Authenticate"))
	}
	if err := mini.Restart(); err != nil {
		t.Fatal(err)
	}
	if resp, _ := call(uncached, http.MethodGet, tok.AccessToken); resp.StatusCode != http.StatusOK {
		t.Errorf("once Redis is back: %d", resp.StatusCode)
	}
}
