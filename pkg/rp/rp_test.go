package rp_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/pkg/assurance"
	"github.com/gatehouse/gatehouse/pkg/rp"
)

const redirectURL = "https://gradebook.example/callback"

// provider is an OpenID provider on a real listener: discovery, a JWKS and
// a token endpoint that signs real ID tokens. It checks the PKCE verifier
// against the challenge the authorization request carried.
type provider struct {
	*httptest.Server
	key *rsa.PrivateKey

	mu         sync.Mutex
	issParam   bool           // advertises RFC 9207's iss parameter
	challenge  string         // from the last authorization request
	nonce      string         // from the last authorization request
	claims     map[string]any // overrides the ID token's claims
	tokenCalls int
	verifier   string // the code_verifier the last exchange sent
	status     int    // the token endpoint's status when not zero
	// secretInBody: the last token request sent the secret in its body.
	secretInBody bool
}

func newProvider(t *testing.T, issParam bool) *provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{key: key, issParam: issParam}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.URL, "authorization_endpoint": p.URL + "/authorize", "token_endpoint": p.URL + "/token",
			"jwks_uri": p.URL + "/jwks", "end_session_endpoint": p.URL + "/logout",
			"id_token_signing_alg_values_supported":          []string{"RS256"},
			"authorization_response_iss_parameter_supported": p.issParam,
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.tokenCalls++
		id, secret, basic := r.BasicAuth()
		if !basic {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		p.secretInBody = !basic
		if id != "gradebook" || secret != "s3cret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		if p.status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(p.status)
			w.Write([]byte(`{"error":"temporarily_unavailable"}`))
			return
		}
		claims := map[string]any{}
		switch r.PostFormValue("grant_type") {
		case "authorization_code":
			p.verifier = r.PostFormValue("code_verifier")
			sum := sha256.Sum256([]byte(p.verifier))
			if r.PostFormValue("code") != "the-code" || base64.RawURLEncoding.EncodeToString(sum[:]) != p.challenge {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			claims["nonce"] = p.nonce
		case "refresh_token":
			if r.PostFormValue("refresh_token") != "the-refresh-token" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
		}
		maps.Copy(claims, p.claims)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "the-access-token", "token_type": "Bearer", "expires_in": 3600,
			"refresh_token": "the-refresh-token", "id_token": p.idToken(t, claims)})
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// idToken signs an ID token for the client, at acr mfa a minute ago,
// with overrides (a nil value removes a claim).
func (p *provider) idToken(t *testing.T, overrides map[string]any) string {
	now := time.Now()
	claims := map[string]any{"iss": p.URL, "aud": "gradebook", "sub": "u-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"auth_time": now.Add(-time.Minute).Unix(), "acr": assurance.MFA, "amr": []string{"pwd", "otp", "mfa"}, "name": "Jo Doe"}
	for k, v := range overrides {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: p.key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (p *provider) client(t *testing.T) *rp.Client {
	t.Helper()
	c, err := rp.New(t.Context(), rp.Config{Issuer: p.URL, ClientID: "gradebook", ClientSecret: "s3cret",
		RedirectURL: redirectURL, Scopes: []string{"profile"}, HTTPClient: p.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// start begins a sign-in as a browser would reach the provider, and
// returns the callback parameters a good response would carry.
func (p *provider) start(t *testing.T, c *rp.Client, o rp.LoginOptions) (url.Values, rp.Login) {
	t.Helper()
	authURL, l := c.AuthCodeURL(o)
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.challenge, p.nonce = u.Query().Get("code_challenge"), u.Query().Get("nonce")
	p.mu.Unlock()
	return url.Values{"code": {"the-code"}, "state": {u.Query().Get("state")}, "iss": {p.URL}}, l
}

func TestAuthCodeURL(t *testing.T) {
	p := newProvider(t, true)
	c := p.client(t)
	authURL, l := c.AuthCodeURL(rp.LoginOptions{ACR: assurance.MFA, MaxAge: 30 * time.Minute, Prompt: "login", ReturnTo: "/grades"})
	u, _ := url.Parse(authURL)
	q := u.Query()
	sum := sha256.Sum256([]byte(l.Verifier))
	want := map[string]string{
		"response_type": "code", "client_id": "gradebook", "redirect_uri": redirectURL, "scope": "openid profile",
		"state": l.State, "nonce": l.Nonce, "code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]),
		"code_challenge_method": "S256", "acr_values": "mfa", "max_age": "1800", "prompt": "login",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if u.Scheme+"://"+u.Host+u.Path != p.URL+"/authorize" {
		t.Errorf("authorization request sent to %s", authURL)
	}
	if l.ACR != assurance.MFA || l.MaxAge != 30*time.Minute || l.ReturnTo != "/grades" || l.State == "" || l.Nonce == "" || l.Verifier == "" {
		t.Errorf("login %+v", l)
	}
	if _, l2 := c.AuthCodeURL(rp.LoginOptions{}); l2.State == l.State || l2.Nonce == l.Nonce || l2.Verifier == l.Verifier {
		t.Error("a second sign-in reused the state, nonce or verifier")
	}
	plain, _ := c.AuthCodeURL(rp.LoginOptions{})
	if u, _ := url.Parse(plain); u.Query().Has("acr_values") || u.Query().Has("max_age") || u.Query().Has("prompt") {
		t.Errorf("options asked for nothing, yet: %s", plain)
	}
}

func TestCallbackSignsIn(t *testing.T) {
	p := newProvider(t, true)
	c := p.client(t)
	params, l := p.start(t, c, rp.LoginOptions{ACR: assurance.MFA, MaxAge: 5 * time.Minute, ReturnTo: "/grades"})
	res, err := c.Callback(t.Context(), params, l)
	if err != nil {
		t.Fatal(err)
	}
	if p.verifier != l.Verifier {
		t.Errorf("the token request sent code_verifier %q, want the login's %q", p.verifier, l.Verifier)
	}
	if res.Subject != "u-1" || res.ACR != assurance.MFA || strings.Join(res.AMR, " ") != "pwd otp mfa" || res.ReturnTo != "/grades" ||
		time.Since(res.AuthTime) > 2*time.Minute || res.Claims["name"] != "Jo Doe" || res.RawIDToken == "" ||
		res.Token.AccessToken != "the-access-token" || res.Token.RefreshToken != "the-refresh-token" {
		t.Errorf("result %+v", res)
	}
}

// TestCallbackRefusals: each response a relying party must not accept is
// refused with its own error; those refused on their face never reach the
// token endpoint.
func TestCallbackRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		issParam  bool
		options   rp.LoginOptions
		edit      func(params url.Values, l *rp.Login)
		claims    map[string]any
		redeemed  bool
		wantError func(error) bool
	}{
		"wrong state": {issParam: true, edit: func(q url.Values, _ *rp.Login) { q.Set("state", "another") },
			wantError: is(rp.ErrStateMismatch)},
		"no state": {issParam: true, edit: func(q url.Values, _ *rp.Login) { q.Del("state") }, wantError: is(rp.ErrStateMismatch)},
		"expired login": {issParam: true, edit: func(_ url.Values, l *rp.Login) { l.Started = time.Now().Add(-11 * time.Minute) },
			wantError: is(rp.ErrLoginExpired)},
		"wrong iss": {issParam: true, edit: func(q url.Values, _ *rp.Login) { q.Set("iss", "https://evil.example") },
			wantError: func(err error) bool {
				var e *rp.IssuerError
				return errors.As(err, &e) && e.Got == "https://evil.example"
			}},
		"wrong iss, though the provider does not promise one": {edit: func(q url.Values, _ *rp.Login) { q.Set("iss", "https://evil.example") },
			wantError: func(err error) bool { var e *rp.IssuerError; return errors.As(err, &e) }},
		"missing iss the provider promised": {issParam: true, edit: func(q url.Values, _ *rp.Login) { q.Del("iss") },
			wantError: func(err error) bool { var e *rp.IssuerError; return errors.As(err, &e) && e.Got == "" }},
		"error response": {issParam: true, edit: func(q url.Values, _ *rp.Login) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "no thanks")
		}, wantError: func(err error) bool {
			var e *rp.ResponseError
			return errors.As(err, &e) && e.Code == "access_denied" && e.Description == "no thanks"
		}},
		"wrong nonce": {issParam: true, claims: map[string]any{"nonce": "another"}, redeemed: true, wantError: is(rp.ErrNonceMismatch)},
		"no nonce":    {issParam: true, claims: map[string]any{"nonce": nil}, redeemed: true, wantError: is(rp.ErrNonceMismatch)},
		"acr below the one asked for": {issParam: true, options: rp.LoginOptions{ACR: assurance.MFA},
			claims: map[string]any{"acr": assurance.Password}, redeemed: true,
			wantError: func(err error) bool {
				var e *rp.AssuranceError
				return errors.As(err, &e) && e.ACR == assurance.Password && e.Required == assurance.MFA
			}},
		"no acr when one was asked for": {issParam: true, options: rp.LoginOptions{ACR: assurance.Password},
			claims: map[string]any{"acr": nil}, redeemed: true, wantError: func(err error) bool { var e *rp.AssuranceError; return errors.As(err, &e) }},
		"auth_time older than max_age": {issParam: true, options: rp.LoginOptions{MaxAge: 10 * time.Minute},
			claims: map[string]any{"auth_time": time.Now().Add(-12 * time.Minute).Unix()}, redeemed: true,
			wantError: func(err error) bool { var e *rp.StaleSignInError; return errors.As(err, &e) && !e.AuthTime.IsZero() }},
		"no auth_time when max_age was asked for": {issParam: true, options: rp.LoginOptions{MaxAge: 10 * time.Minute},
			claims: map[string]any{"auth_time": nil}, redeemed: true,
			wantError: func(err error) bool { var e *rp.StaleSignInError; return errors.As(err, &e) && e.AuthTime.IsZero() }},
		"ID token for another client": {issParam: true, claims: map[string]any{"aud": "library"}, redeemed: true,
			wantError: func(err error) bool { return err != nil && strings.Contains(err.Error(), "audience") }},
		"ID token from another issuer": {issParam: true, claims: map[string]any{"iss": "https://evil.example"}, redeemed: true,
			wantError: func(err error) bool { return err != nil && strings.Contains(err.Error(), "different provider") }},
		"code refused": {issParam: true, edit: func(q url.Values, _ *rp.Login) { q.Set("code", "another") }, redeemed: true,
			wantError: func(err error) bool { return err != nil && !errors.Is(err, rp.ErrUnavailable) }},
	} {
		t.Run(name, func(t *testing.T) {
			p := newProvider(t, tc.issParam)
			p.claims = tc.claims
			c := p.client(t)
			params, l := p.start(t, c, tc.options)
			if tc.edit != nil {
				tc.edit(params, &l)
			}
			res, err := c.Callback(t.Context(), params, l)
			if res != nil || !tc.wantError(err) {
				t.Errorf("result %+v, error %v", res, err)
			}
			if redeemed := p.tokenCalls > 0; redeemed != tc.redeemed {
				t.Errorf("code redeemed: %v, want %v", redeemed, tc.redeemed)
			}
		})
	}
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

// TestCallbackWithoutIssWhenNotPromised: a provider that does not
// advertise RFC 9207 may leave iss out; a stronger sign-in than the one
// asked for is accepted.
func TestCallbackWithoutIssWhenNotPromised(t *testing.T) {
	p := newProvider(t, false)
	c := p.client(t)
	params, l := p.start(t, c, rp.LoginOptions{ACR: assurance.Password})
	params.Del("iss")
	if res, err := c.Callback(t.Context(), params, l); err != nil || res.ACR != assurance.MFA {
		t.Fatalf("result %+v, error %v", res, err)
	}
}

// TestTokenEndpointOutage: Gatehouse not answering is ErrUnavailable, so
// the app says "try again", not "refused".
func TestTokenEndpointOutage(t *testing.T) {
	p := newProvider(t, true)
	c := p.client(t)
	p.status = http.StatusServiceUnavailable
	params, l := p.start(t, c, rp.LoginOptions{})
	if _, err := c.Callback(t.Context(), params, l); !errors.Is(err, rp.ErrUnavailable) {
		t.Errorf("token endpoint 503: %v, want ErrUnavailable", err)
	}
	p.Close()
	params, l = p.start(t, c, rp.LoginOptions{})
	if _, err := c.Callback(t.Context(), params, l); !errors.Is(err, rp.ErrUnavailable) {
		t.Errorf("token endpoint unreachable: %v, want ErrUnavailable", err)
	}
}

func TestRefresh(t *testing.T) {
	p := newProvider(t, true)
	c := p.client(t)
	res, err := c.Refresh(t.Context(), "the-refresh-token", "u-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Subject != "u-1" || res.ACR != assurance.MFA || res.Token.AccessToken != "the-access-token" {
		t.Errorf("refreshed %+v", res)
	}
	if _, err := c.Refresh(t.Context(), "the-refresh-token", "u-2"); err == nil {
		t.Error("a refreshed ID token for another subject was accepted")
	}
	if _, err := c.Refresh(t.Context(), "revoked", "u-1"); err == nil || errors.Is(err, rp.ErrUnavailable) {
		t.Errorf("a refused refresh token: %v", err)
	}
}

func TestEndSessionURL(t *testing.T) {
	p := newProvider(t, true)
	end, ok := p.client(t).EndSessionURL("the-id-token", "https://gradebook.example/")
	u, _ := url.Parse(end)
	q := u.Query()
	if !ok || u.Path != "/logout" || q.Get("id_token_hint") != "the-id-token" ||
		q.Get("post_logout_redirect_uri") != "https://gradebook.example/" || q.Get("client_id") != "gradebook" {
		t.Errorf("end session URL %q, %v", end, ok)
	}
}

func TestSealLogin(t *testing.T) {
	key, other := make([]byte, 32), make([]byte, 32)
	rand.Read(key)
	rand.Read(other)
	l := rp.Login{State: "s", Nonce: "n", Verifier: "v", ACR: assurance.MFA, MaxAge: time.Minute, ReturnTo: "/x",
		Started: time.Now().Round(0)}
	sealed, err := rp.SealLogin(key, l)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mustDecode(t, sealed)), `"verifier"`) {
		t.Error("the sealed login is readable")
	}
	got, err := rp.OpenLogin(key, sealed)
	if err != nil || !got.Started.Equal(l.Started) {
		t.Fatalf("opened %+v, %v", got, err)
	}
	got.Started = l.Started
	if got != l {
		t.Errorf("opened %+v, want %+v", got, l)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	for name, s := range map[string]string{"another key": sealed, "tampered": string(tampered), "truncated": sealed[:10]} {
		k := key
		if name == "another key" {
			k = other
		}
		if _, err := rp.OpenLogin(k, s); !errors.Is(err, rp.ErrSealed) {
			t.Errorf("%s: %v, want ErrSealed", name, err)
		}
	}
}

func mustDecode(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClientSecretPost: the secret goes by HTTP Basic unless the client is
// registered for client_secret_post.
func TestClientSecretPost(t *testing.T) {
	p := newProvider(t, true)
	if _, err := p.client(t).Refresh(t.Context(), "the-refresh-token", "u-1"); err != nil || p.secretInBody {
		t.Errorf("by default: %v, secret in body %v", err, p.secretInBody)
	}
	c, err := rp.New(t.Context(), rp.Config{Issuer: p.URL, ClientID: "gradebook", ClientSecret: "s3cret", ClientSecretPost: true,
		RedirectURL: redirectURL, HTTPClient: p.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(t.Context(), "the-refresh-token", "u-1"); err != nil || !p.secretInBody {
		t.Errorf("client_secret_post: %v, secret in body %v", err, p.secretInBody)
	}
}
