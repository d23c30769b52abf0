package resource

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// gatehouse is an introspection endpoint on a real listener: it answers
// from tokens, after checking the API's client credentials, and counts
// the calls.
type gatehouse struct {
	*httptest.Server
	mu         sync.Mutex
	tokens     map[string]map[string]any
	calls      int
	status     int // answered instead when not zero
	retryAfter string
}

func newGatehouse(t *testing.T) *gatehouse {
	g := &gatehouse{tokens: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": g.URL, "introspection_endpoint": g.URL + "/oauth2/introspect"})
	})
	mux.HandleFunc("POST /oauth2/introspect", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.calls++
		w.Header().Set("Content-Type", "application/json")
		if g.status != 0 {
			if g.retryAfter != "" {
				w.Header().Set("Retry-After", g.retryAfter)
			}
			w.WriteHeader(g.status)
			w.Write([]byte(`{"error":"temporarily_unavailable"}`))
			return
		}
		id, secret, _ := r.BasicAuth()
		if id != "grades%3Aapi" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		answer, ok := g.tokens[r.PostFormValue("token")]
		if !ok {
			answer = map[string]any{"active": false}
		}
		json.NewEncoder(w).Encode(answer)
	})
	g.Server = httptest.NewServer(mux)
	t.Cleanup(g.Close)
	return g
}

// issue makes token active, from a sign-in at acr authAgo ago.
func (g *gatehouse) issue(token, acr string, authAgo time.Duration) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens[token] = map[string]any{"active": true, "sub": "u-1", "client_id": "gradebook", "scope": "openid grades",
		"acr": acr, "amr": []string{"pwd"}, "auth_time": now.Add(-authAgo).Unix(),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

func (g *gatehouse) callCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

func newVerifier(t *testing.T, g *gatehouse, ttl time.Duration) *Verifier {
	t.Helper()
	v, err := New(Config{Issuer: g.URL, ClientID: "grades:api", ClientSecret: "s3cret", CacheTTL: ttl,
		HTTPClient: g.Client(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// api is a route behind h, which echoes the token it was handed.
func api(h func(http.Handler) http.Handler) http.Handler {
	return h(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := FromContext(r.Context())
		json.NewEncoder(w).Encode(t)
	}))
}

type reply struct {
	status                    int
	challenge, retryAfter, ct string
	body                      map[string]any
}

func send(h http.Handler, token string) reply {
	r := httptest.NewRequest(http.MethodGet, "/grades", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body map[string]any
	json.Unmarshal(w.Body.Bytes(), &body)
	return reply{status: w.Code, challenge: w.Header().Get("WWW-Authenticate"), retryAfter: w.Header().Get("Retry-After"), body: body}
}

func TestValidToken(t *testing.T) {
	g := newGatehouse(t)
	g.issue("good", assurance.Password, time.Minute)
	r := send(api(newVerifier(t, g, 0).RequireACR("", 0)), "good")
	if r.status != http.StatusOK || r.body["sub"] != "u-1" || r.body["acr"] != "pwd" || r.body["client_id"] != "gradebook" {
		t.Fatalf("%+v", r)
	}
	v := newVerifier(t, g, 0)
	tok, err := v.Introspect(t.Context(), "good")
	if err != nil || !tok.HasScope("grades") || tok.HasScope("grade") || tok.AuthTime == 0 || len(tok.AMR) != 1 {
		t.Errorf("introspected %+v, %v", tok, err)
	}
}

func TestMissingAndInactiveTokens(t *testing.T) {
	g := newGatehouse(t)
	h := api(newVerifier(t, g, 0).Require)
	if r := send(h, ""); r.status != http.StatusUnauthorized || r.challenge != "Bearer" {
		t.Errorf("no token: %+v", r)
	}
	r := send(h, "revoked")
	if r.status != http.StatusUnauthorized || r.challenge != `Bearer error="invalid_token", error_description="The access token is not active."` ||
		r.body["error"] != "invalid_token" {
		t.Errorf("inactive token: %+v", r)
	}
	// An inactive answer is not cached: a token may become known (a replica
	// catching up), and remembering "no" buys nothing.
	send(h, "revoked")
	if n := g.callCount(); n != 2 {
		t.Errorf("introspection calls for two inactive checks: %d, want 2", n)
	}
}

// TestOutageIs503: Gatehouse failing, or not reachable, is 503 with
// Retry-After, never 401; and it is not remembered.
func TestOutageIs503(t *testing.T) {
	g := newGatehouse(t)
	g.issue("good", assurance.MFA, time.Minute)
	h := api(newVerifier(t, g, time.Hour).Require)
	g.status, g.retryAfter = http.StatusServiceUnavailable, "7"
	if r := send(h, "good"); r.status != http.StatusServiceUnavailable || r.retryAfter != "7" || r.challenge != "" ||
		r.body["error"] != "temporarily_unavailable" {
		t.Errorf("introspection 503: %+v", r)
	}
	g.status, g.retryAfter = http.StatusInternalServerError, ""
	if r := send(h, "good"); r.status != http.StatusServiceUnavailable || r.retryAfter != "1" {
		t.Errorf("introspection 500: %+v", r)
	}
	g.status = 0
	if r := send(h, "good"); r.status != http.StatusOK {
		t.Errorf("after the outage: %+v", r)
	}

	down := newGatehouse(t)
	hd := api(newVerifier(t, down, time.Hour).Require)
	down.Close()
	if r := send(hd, "good"); r.status != http.StatusServiceUnavailable || r.retryAfter != "1" {
		t.Errorf("Gatehouse unreachable: %+v", r)
	}
}

// TestWrongAPICredentialsIs500: introspection refusing the API's own
// credentials is the API's misconfiguration, not the caller's bad token.
func TestWrongAPICredentialsIs500(t *testing.T) {
	g := newGatehouse(t)
	g.issue("good", assurance.MFA, time.Minute)
	v, _ := New(Config{Issuer: g.URL, ClientID: "grades:api", ClientSecret: "wrong", HTTPClient: g.Client(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if r := send(api(v.Require), "good"); r.status != http.StatusInternalServerError || r.challenge != "" {
		t.Errorf("%+v", r)
	}
}

func TestCacheHitSkipsIntrospection(t *testing.T) {
	g := newGatehouse(t)
	g.issue("good", assurance.MFA, time.Minute)
	v := newVerifier(t, g, time.Hour)
	h := api(v.Require)
	for range 3 {
		if r := send(h, "good"); r.status != http.StatusOK {
			t.Fatalf("%+v", r)
		}
	}
	if n := g.callCount(); n != 1 {
		t.Errorf("introspection calls for three requests with one token: %d, want 1", n)
	}
	// The cached answer lasts no longer than the token.
	g.mu.Lock()
	g.tokens["short"] = map[string]any{"active": true, "sub": "u-1", "exp": time.Now().Add(2 * time.Second).Unix()}
	g.mu.Unlock()
	send(h, "short")
	for _, c := range v.cache {
		if c.token.Expires != 0 && c.token.Subject == "u-1" && c.until.After(time.Unix(c.token.Expires, 0)) {
			t.Errorf("cached until %s, after the token expires at %d", c.until, c.token.Expires)
		}
	}
	// Without a cache, each request asks.
	nc := newVerifier(t, g, -1)
	send(api(nc.Require), "good")
	send(api(nc.Require), "good")
	if n := g.callCount(); n != 4 {
		t.Errorf("introspection calls: %d, want 4", n)
	}
}

// TestStepUp: a route that needs MFA answers a password-only token with the
// RFC 9470 challenge, and lets an MFA token through; a route that needs a
// recent sign-in says how recent.
func TestStepUp(t *testing.T) {
	g := newGatehouse(t)
	g.issue("pwd", assurance.Password, time.Minute)
	g.issue("mfa", assurance.MFA, time.Minute)
	g.issue("old-mfa", assurance.MFA, time.Hour)
	v := newVerifier(t, g, 0)
	editGrades := api(v.RequireACR(assurance.MFA, 0))

	r := send(editGrades, "pwd")
	if want := `Bearer error="insufficient_user_authentication", error_description="A sign-in with a stronger method is required.", acr_values="mfa"`; r.status != http.StatusUnauthorized || r.challenge != want {
		t.Errorf("password-only token: %d %q, want 401 %q", r.status, r.challenge, want)
	}
	if r.body["error"] != "insufficient_user_authentication" {
		t.Errorf("body %v", r.body)
	}
	if r := send(editGrades, "mfa"); r.status != http.StatusOK || r.body["acr"] != "mfa" {
		t.Errorf("MFA token: %+v", r)
	}

	recent := api(v.RequireACR(assurance.MFA, 5*time.Minute))
	if r := send(recent, "mfa"); r.status != http.StatusOK {
		t.Errorf("recent MFA token: %+v", r)
	}
	r = send(recent, "old-mfa")
	if want := `Bearer error="insufficient_user_authentication", error_description="A more recent sign-in is required.", acr_values="mfa", max_age="300"`; r.status != http.StatusUnauthorized || r.challenge != want {
		t.Errorf("old MFA token: %d %q, want 401 %q", r.status, r.challenge, want)
	}
	if r := send(recent, "pwd"); r.status != http.StatusUnauthorized ||
		r.challenge != `Bearer error="insufficient_user_authentication", error_description="A sign-in with a stronger method is required.", acr_values="mfa", max_age="300"` {
		t.Errorf("password-only token on the recent route: %+v", r)
	}
}

func TestRealmAndIntrospectionURL(t *testing.T) {
	g := newGatehouse(t)
	g.issue("good", assurance.MFA, time.Minute)
	v, err := New(Config{IntrospectionURL: g.URL + "/oauth2/introspect", ClientID: "grades:api", ClientSecret: "s3cret",
		Realm: "grades", HTTPClient: g.Client()})
	if err != nil {
		t.Fatal(err)
	}
	h := api(v.Require)
	if r := send(h, ""); r.challenge != `Bearer realm="grades"` {
		t.Errorf("no token: %q", r.challenge)
	}
	if r := send(h, "good"); r.status != http.StatusOK {
		t.Errorf("%+v", r)
	}
	if _, err := New(Config{ClientID: "x"}); err == nil {
		t.Error("a verifier with neither issuer nor introspection URL")
	}
}
