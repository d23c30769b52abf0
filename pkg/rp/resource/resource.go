// Package resource checks Gatehouse access tokens in a district Go API.
//
// Gatehouse's access tokens are opaque, so they are checked by token
// introspection (RFC 7662), with the API's own client credentials (its
// registration must allow introspecting other apps' tokens). Active
// answers are cached for a short while; failures never are. When Gatehouse
// cannot answer, the API answers 503 with Retry-After: an outage is not a
// reason to tell a caller their token is bad.
//
// RequireACR answers a token from a weaker or older sign-in with the
// RFC 9470 step-up challenge, so the app can send the person back to sign
// in with a second factor for just the routes that need one.
package resource

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Config configures a Verifier.
type Config struct {
	// Issuer is Gatehouse's issuer URL; its introspection endpoint is
	// found by discovery unless IntrospectionURL is set.
	Issuer           string
	IntrospectionURL string
	// ClientID and ClientSecret are the API's own registration, sent by
	// HTTP Basic as Gatehouse's introspection endpoint requires.
	ClientID, ClientSecret string
	// CacheTTL bounds how long an active answer is reused, so a revoked
	// token stops working within it; a minute when zero, none when negative.
	CacheTTL time.Duration
	// CacheSize bounds how many answers are kept; 10,000 when zero.
	CacheSize int
	// Realm goes in the WWW-Authenticate challenges when set.
	Realm string
	// HTTPClient talks to Gatehouse; one with a ten-second timeout when nil.
	HTTPClient *http.Client
	Logger     *slog.Logger // why a request got 503; slog.Default() when nil
}

// Token is what introspection said about an active access token.
type Token struct {
	Subject  string   `json:"sub"` // empty for a client credentials token
	Username string   `json:"username"`
	ClientID string   `json:"client_id"` // the app the token was issued to
	Scope    string   `json:"scope"`
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AuthTime int64    `json:"auth_time"` // seconds since the epoch; 0 when unknown
	Expires  int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
}

// HasScope reports whether the token was granted scope.
func (t *Token) HasScope(scope string) bool { return slices.Contains(strings.Fields(t.Scope), scope) }

type ctxKey struct{}

// FromContext returns the token a Verifier's middleware accepted. It may
// be shared with other requests (it is cached): read it, do not change it.
func FromContext(ctx context.Context) (*Token, bool) {
	t, ok := ctx.Value(ctxKey{}).(*Token)
	return t, ok
}

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	client *http.Client
	logger *slog.Logger

	mu       sync.Mutex
	endpoint string
	cache    map[[32]byte]cached
}

type cached struct {
	token *Token
	until time.Time
}

// New returns a Verifier; it talks to Gatehouse only when a request comes.
func New(cfg Config) (*Verifier, error) {
	if cfg.ClientID == "" || cfg.Issuer == "" && cfg.IntrospectionURL == "" {
		return nil, errors.New("resource: the issuer (or introspection URL) and client ID are required")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Minute
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10000
	}
	v := &Verifier{cfg: cfg, client: cfg.HTTPClient, logger: cfg.Logger, endpoint: cfg.IntrospectionURL,
		cache: map[[32]byte]cached{}}
	if v.client == nil {
		v.client = &http.Client{Timeout: 10 * time.Second}
	}
	if v.logger == nil {
		v.logger = slog.Default()
	}
	return v, nil
}

// ErrUnavailable: Gatehouse did not answer, so nothing is known of the token.
var ErrUnavailable = errors.New("resource: Gatehouse is unavailable")

// unavailableError carries how long Gatehouse asked to wait.
type unavailableError struct {
	retryAfter string
	err        error
}

func (e *unavailableError) Error() string {
	return "resource: Gatehouse is unavailable: " + e.err.Error()
}
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// Introspect asks Gatehouse about token: the Token when it is active, nil
// when Gatehouse says it is not, and an error wrapping ErrUnavailable when
// Gatehouse gave no answer.
func (v *Verifier) Introspect(ctx context.Context, token string) (*Token, error) {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	v.mu.Lock()
	c, ok := v.cache[key]
	v.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.token, nil
	}
	t, err := v.introspect(ctx, token)
	if err != nil || t == nil {
		return t, err
	}
	v.remember(key, t, now)
	return t, nil
}

// remember caches an active answer until the token expires or CacheTTL
// passes, whichever comes first.
func (v *Verifier) remember(key [32]byte, t *Token, now time.Time) {
	until := now.Add(v.cfg.CacheTTL)
	if t.Expires > 0 && time.Unix(t.Expires, 0).Before(until) {
		until = time.Unix(t.Expires, 0)
	}
	if !now.Before(until) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= v.cfg.CacheSize {
		for k, c := range v.cache {
			if !now.Before(c.until) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= v.cfg.CacheSize {
			return
		}
	}
	v.cache[key] = cached{token: t, until: until}
}

func (v *Verifier) introspect(ctx context.Context, token string) (*Token, error) {
	endpoint, err := v.introspectionURL(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(v.cfg.ClientID), url.QueryEscape(v.cfg.ClientSecret))
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, &unavailableError{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return nil, &unavailableError{err: err}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, &unavailableError{retryAfter: resp.Header.Get("Retry-After"), err: fmt.Errorf("introspection answered %s", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		// The API's own credentials or registration are wrong: not the
		// caller's fault, and not something a caller can fix.
		return nil, fmt.Errorf("resource: introspection answered %s: %s", resp.Status, body)
	}
	var answer struct {
		Active bool `json:"active"`
		Token
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("resource: introspection answered with something not JSON: %w", err)
	}
	if !answer.Active {
		return nil, nil
	}
	return &answer.Token, nil
}

// introspectionURL discovers the endpoint once; a failed discovery is
// tried again on the next request.
func (v *Verifier) introspectionURL(ctx context.Context) (string, error) {
	v.mu.Lock()
	endpoint := v.endpoint
	v.mu.Unlock()
	if endpoint != "" {
		return endpoint, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(v.cfg.Issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return "", &unavailableError{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", &unavailableError{retryAfter: resp.Header.Get("Retry-After"), err: fmt.Errorf("discovery answered %s", resp.Status)}
	}
	var meta struct {
		Issuer   string `json:"issuer"`
		Endpoint string `json:"introspection_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta); err != nil {
		return "", &unavailableError{err: fmt.Errorf("reading discovery: %w", err)}
	}
	if meta.Issuer != v.cfg.Issuer || meta.Endpoint == "" {
		return "", fmt.Errorf("resource: discovery at %s names issuer %q and introspection endpoint %q", v.cfg.Issuer, meta.Issuer, meta.Endpoint)
	}
	v.mu.Lock()
	v.endpoint = meta.Endpoint
	v.mu.Unlock()
	return meta.Endpoint, nil
}

// Require lets through requests with an active Gatehouse access token,
// which the handler finds with FromContext.
func (v *Verifier) Require(next http.Handler) http.Handler {
	return v.RequireACR("", 0)(next)
}

// RequireACR lets through requests whose access token comes from a
// sign-in at level acr or above (e.g. assurance.MFA) and, when maxAge is
// not zero, no older than maxAge. Any other token gets the RFC 9470 step-up
// challenge: the app signs the person in again with these acr_values and
// max_age, and retries with the new token.
func (v *Verifier) RequireACR(acr string, maxAge time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, ok := bearer(r)
			if !ok {
				// RFC 6750 §3.1: a request with no credentials gets the
				// challenge without an error code.
				v.challenge(w, http.StatusUnauthorized, nil)
				return
			}
			t, err := v.Introspect(r.Context(), raw)
			var down *unavailableError
			switch {
			case errors.As(err, &down):
				v.logger.Warn("access token not checked: Gatehouse unavailable", "err", err)
				retry := down.retryAfter
				if _, perr := strconv.Atoi(retry); perr != nil {
					retry = "1"
				}
				w.Header().Set("Retry-After", retry)
				writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The access token cannot be checked right now; retry in a moment.")
				return
			case err != nil:
				v.logger.Error("access token not checked", "err", err)
				writeError(w, http.StatusInternalServerError, "server_error", "The access token cannot be checked.")
				return
			case t == nil:
				v.challenge(w, http.StatusUnauthorized, []param{{"error", "invalid_token"},
					{"error_description", "The access token is not active."}})
				return
			}
			if acr != "" && !assurance.AtLeast(t.ACR, acr) {
				v.challenge(w, http.StatusUnauthorized, stepUp("A sign-in with a stronger method is required.", acr, maxAge))
				return
			}
			if maxAge > 0 && (t.AuthTime == 0 || time.Since(time.Unix(t.AuthTime, 0)) > maxAge) {
				v.challenge(w, http.StatusUnauthorized, stepUp("A more recent sign-in is required.", acr, maxAge))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, t)))
		})
	}
}

type param struct{ name, value string }

func stepUp(desc, acr string, maxAge time.Duration) []param {
	p := []param{{"error", "insufficient_user_authentication"}, {"error_description", desc}}
	if acr != "" {
		p = append(p, param{"acr_values", acr})
	}
	if maxAge > 0 {
		p = append(p, param{"max_age", strconv.Itoa(int(maxAge / time.Second))})
	}
	return p
}

// challenge answers with a Bearer WWW-Authenticate challenge (RFC 6750 §3)
// and the same error in the body.
func (v *Verifier) challenge(w http.ResponseWriter, status int, params []param) {
	if v.cfg.Realm != "" {
		params = append([]param{{"realm", v.cfg.Realm}}, params...)
	}
	parts := make([]string, len(params))
	body := map[string]string{}
	for i, p := range params {
		parts[i] = p.name + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p.value) + `"`
		if p.name == "error" || p.name == "error_description" {
			body[p.name] = p.value
		}
	}
	h := "Bearer"
	if len(parts) > 0 {
		h += " " + strings.Join(parts, ", ")
	}
	w.Header().Set("WWW-Authenticate", h)
	writeJSON(w, status, body)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, body map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// bearer reads the access token from the Authorization header (RFC 6750
// §2.1); tokens in the query or form are not accepted.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
