package demorp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const redirectURL = "http://localhost:9090/callback"

// fakeProvider serves discovery, a JWKS and a token endpoint that answers
// one code with an ID token for the nonce and PKCE challenge the test saw.
type fakeProvider struct {
	*httptest.Server
	key              *rsa.PrivateKey
	nonce, challenge string
}

func newFakeProvider(t *testing.T) *fakeProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeProvider{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.URL,
			"authorization_endpoint":                p.URL + "/authorize",
			"token_endpoint":                        p.URL + "/token",
			"jwks_uri":                              p.URL + "/jwks",
			"end_session_endpoint":                  p.URL + "/logout",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case r.PostFormValue("code") != "the-code", r.PostFormValue("client_id") != "demo":
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != p.challenge:
			http.Error(w, `{"error":"invalid_grant","error_description":"PKCE"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": p.idToken(t),
		})
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *fakeProvider) idToken(t *testing.T) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: p.key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": p.URL, "aud": "demo", "sub": "u-1", "nonce": p.nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix(),
		"preferred_username": "jdoe@district.example", "acr": "pwd", "amr": []string{"pwd"},
	})
	jws, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newApp(t *testing.T, p *fakeProvider) http.Handler {
	t.Helper()
	h, err := New(context.Background(), Options{Issuer: p.URL, ClientID: "demo", RedirectURL: redirectURL, HTTPClient: p.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, method, target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func cookie(t *testing.T, w *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie set", name)
	return nil
}

// login starts a sign-in and returns the authorize URL's query and the login cookie.
func login(t *testing.T, h http.Handler, p *fakeProvider, query string) (url.Values, *http.Cookie) {
	t.Helper()
	w := serve(h, "GET", "/login"+query)
	if w.Code != http.StatusFound {
		t.Fatalf("/login: status %d", w.Code)
	}
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != p.URL+"/authorize" {
		t.Fatalf("redirected to %s, want the authorization endpoint", got)
	}
	q := loc.Query()
	p.nonce, p.challenge = q.Get("nonce"), q.Get("code_challenge")
	return q, cookie(t, w, loginCookie)
}

func TestLoginBuildsAuthorizeURL(t *testing.T) {
	p := newFakeProvider(t)
	h := newApp(t, p)
	q, c := login(t, h, p, "?acr_values=mfa&prompt=login")
	want := map[string]string{
		"response_type": "code", "client_id": "demo", "redirect_uri": redirectURL,
		"scope": "openid profile email", "code_challenge_method": "S256",
		"acr_values": "mfa", "prompt": "login",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Errorf("code_challenge %q, nonce %q, state %q: want all set", q.Get("code_challenge"), q.Get("nonce"), q.Get("state"))
	}
	if c.Value != q.Get("state") || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("login cookie %+v: want HttpOnly, SameSite=Lax, holding the state", c)
	}

	q2, _ := login(t, h, p, "")
	if q2.Get("state") == q.Get("state") || q2.Get("nonce") == q.Get("nonce") || q2.Has("acr_values") || q2.Has("prompt") {
		t.Errorf("second login reused state or nonce, or kept step-up parameters: %v", q2)
	}
}

func TestSignInAndOut(t *testing.T) {
	p := newFakeProvider(t)
	h := newApp(t, p)
	if w := serve(h, "GET", "/"); !strings.Contains(w.Body.String(), `href="/login"`) {
		t.Fatalf("home page before sign-in has no sign-in link:\n%s", w.Body)
	}
	q, lc := login(t, h, p, "")
	w := serve(h, "GET", "/callback?code=the-code&state="+q.Get("state")+"&iss="+url.QueryEscape(p.URL), lc)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("/callback: status %d\n%s", w.Code, w.Body)
	}
	sc := cookie(t, w, sessionCookie)

	body := serve(h, "GET", "/", sc).Body.String()
	for _, s := range []string{"Signed in as <strong>jdoe@district.example</strong>", "<th>acr</th><td>pwd</td>", "<th>auth_time</th>", `action="/logout"`} {
		if !strings.Contains(body, s) {
			t.Errorf("home page lacks %q:\n%s", s, body)
		}
	}

	w = serve(h, "POST", "/logout", sc)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || loc.Path != "/logout" || loc.Query().Get("id_token_hint") == "" ||
		loc.Query().Get("post_logout_redirect_uri") != "http://localhost:9090/" || loc.Query().Get("client_id") != "demo" {
		t.Errorf("/logout: status %d, location %s", w.Code, loc)
	}
	if !strings.Contains(serve(h, "GET", "/", sc).Body.String(), `href="/login"`) {
		t.Error("still signed in after sign-out")
	}
}

func TestCallbackRefusals(t *testing.T) {
	p := newFakeProvider(t)
	h := newApp(t, p)
	for name, tc := range map[string]struct {
		query     func(state string) string
		useCookie bool
		want      string
	}{
		"provider error": {func(s string) string { return "error=access_denied&error_description=no+thanks&state=" + s }, true, "no thanks"},
		"no cookie":      {func(s string) string { return "code=the-code&state=" + s }, false, "not started in this browser"},
		"other state":    {func(s string) string { return "code=the-code&state=other" }, true, "not started in this browser"},
		"mix-up":         {func(s string) string { return "code=the-code&iss=https://evil.example&state=" + s }, true, "evil.example"},
	} {
		t.Run(name, func(t *testing.T) {
			q, lc := login(t, h, p, "")
			var cookies []*http.Cookie
			if tc.useCookie {
				cookies = append(cookies, lc)
			}
			w := serve(h, "GET", "/callback?"+tc.query(q.Get("state")), cookies...)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tc.want) {
				t.Errorf("status %d, want 400 mentioning %q:\n%s", w.Code, tc.want, w.Body)
			}
		})
	}
}

func TestStateIsSingleUse(t *testing.T) {
	p := newFakeProvider(t)
	h := newApp(t, p)
	q, lc := login(t, h, p, "")
	target := "/callback?code=the-code&state=" + q.Get("state")
	if w := serve(h, "GET", target, lc); w.Code != http.StatusSeeOther {
		t.Fatalf("first callback: status %d\n%s", w.Code, w.Body)
	}
	if w := serve(h, "GET", target, lc); w.Code != http.StatusBadRequest {
		t.Errorf("replayed callback: status %d, want 400", w.Code)
	}
}
