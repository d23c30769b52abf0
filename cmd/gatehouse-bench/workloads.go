package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scopes: an app asks for the profile; one that refreshes also asks for
// offline_access (refresh tokens are issued only with it).
const (
	scopeApp     = "openid profile email"
	scopeOffline = "openid profile email offline_access"
)

// vu is one virtual user: a browser with a signed-in session (its user's,
// from provisioning) and the tokens its app holds.
type vu struct {
	id      int
	p       *provider
	user    *User
	pool    *userPool
	b       *browser
	back    *http.Client       // the app's server: token, userinfo, introspection
	ct      *countingTransport // counts both
	rng     *rand.Rand
	access  string
	refresh string
	// stale means the tokens must be fetched again (a refresh failed).
	stale   bool
	starved int // first sign-ins that found no user with a fresh TOTP step
}

// workload is one kind of operation, or a blend.
type workload struct {
	name  string
	about string
	// tokens: the virtual user needs an access and a refresh token first.
	tokens bool
	op     func(ctx context.Context, v *vu) (string, error)
}

var workloads = map[string]*workload{
	"cc": {about: "client_credentials token request (client_secret_basic)",
		op: func(ctx context.Context, v *vu) (string, error) { return "cc", v.clientCredentials(ctx) }},
	"code": {about: "authorization code + PKCE for a signed-in browser: authorize (and redirects) → code → token exchange → ID token verified",
		op: func(ctx context.Context, v *vu) (string, error) { return "code", v.codeFlow(ctx) }},
	"login": {about: "first sign-in: fresh browser → sign-in pages (username, password, authenticator code) → code → token exchange → ID token verified",
		op: func(ctx context.Context, v *vu) (string, error) { return "login", v.login(ctx) }},
	"refresh": {about: "refresh_token grant with rotation (each virtual user refreshes its own chain)", tokens: true,
		op: func(ctx context.Context, v *vu) (string, error) { return "refresh", v.refreshToken(ctx) }},
	"introspect": {about: "token introspection of a user's access token", tokens: true,
		op: func(ctx context.Context, v *vu) (string, error) { return "introspect", v.introspect(ctx) }},
	"userinfo": {about: "UserInfo with a user's access token", tokens: true,
		op: func(ctx context.Context, v *vu) (string, error) { return "userinfo", v.userinfo(ctx) }},
	"mixed": {about: "a blend: " + mixDescription(defaultMix), tokens: true,
		op: func(ctx context.Context, v *vu) (string, error) { return v.mixed(ctx) }},
}

// mixWeight is one workload's share of the mixed blend.
type mixWeight struct {
	name   string
	weight int
}

// defaultMix is a school morning once people are signed in: apps open
// (code flows), refresh in the background, and resource servers check
// tokens. First sign-ins are left out: against Hydra's auto-accept app they
// would compare argon2id against no password check at all.
var defaultMix = []mixWeight{{"code", 30}, {"refresh", 20}, {"userinfo", 20}, {"introspect", 20}, {"cc", 10}}

func mixDescription(m []mixWeight) string {
	parts := make([]string, len(m))
	for i, w := range m {
		parts[i] = fmt.Sprintf("%d%% %s", w.weight, w.name)
	}
	return strings.Join(parts, ", ")
}

// parseMix reads "code=30,refresh=20,…".
func parseMix(s string) ([]mixWeight, error) {
	var out []mixWeight
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n <= 0 {
			return nil, fmt.Errorf("mix: %q is not name=weight", part)
		}
		if !slices.Contains([]string{"cc", "code", "login", "refresh", "introspect", "userinfo"}, name) {
			return nil, fmt.Errorf("mix: unknown workload %q", name)
		}
		out = append(out, mixWeight{name, n})
	}
	if len(out) == 0 {
		return nil, errors.New("mix: empty")
	}
	return out, nil
}

var activeMix = defaultMix

func (v *vu) mixed(ctx context.Context) (string, error) {
	total := 0
	for _, w := range activeMix {
		total += w.weight
	}
	n := v.rng.IntN(total)
	for _, w := range activeMix {
		if n < w.weight {
			return w.name, v.single(ctx, w.name)
		}
		n -= w.weight
	}
	return "mixed", errors.New("mix: no workload")
}

// single runs one operation of a single workload, for the blend.
func (v *vu) single(ctx context.Context, name string) error {
	switch name {
	case "cc":
		return v.clientCredentials(ctx)
	case "code":
		return v.codeFlow(ctx)
	case "login":
		return v.login(ctx)
	case "refresh":
		return v.refreshToken(ctx)
	case "introspect":
		return v.introspect(ctx)
	case "userinfo":
		return v.userinfo(ctx)
	}
	return fmt.Errorf("mix: unknown workload %q", name)
}

// setup gets the virtual user's tokens with one code flow (offline_access).
func (v *vu) setup(ctx context.Context) error {
	tok, err := v.authorize(ctx, scopeOffline)
	if err != nil {
		return err
	}
	if tok.RefreshToken == "" {
		return failf("token_response", errors.New("no refresh token with offline_access"))
	}
	v.access, v.refresh, v.stale = tok.AccessToken, tok.RefreshToken, false
	return nil
}

// authorize runs the code flow in the signed-in browser.
func (v *vu) authorize(ctx context.Context, scope string) (*tokenResponse, error) {
	ar := v.p.newAuthRequest(scope, v.user)
	pg, err := v.b.get(ctx, ar.url)
	if err != nil {
		return nil, err
	}
	code, err := callback(pg, v.p.st.RedirectURI, ar.state, v.p.disco.Issuer)
	if err != nil {
		return nil, err
	}
	return v.p.exchange(ctx, v.back, ar, code)
}

func (v *vu) codeFlow(ctx context.Context) error {
	_, err := v.authorize(ctx, scopeApp)
	return err
}

// errStarved is returned, uncounted, when no user may sign in right now.
var errStarved = errors.New("no user with an unused TOTP step")

func (v *vu) login(ctx context.Context) error {
	u, step, ok := v.pool.acquire(time.Now())
	if !ok {
		return errStarved
	}
	b := newBrowser(v.ct, v.p.st.RedirectURI)
	ar := v.p.newAuthRequest(scopeApp, u)
	pg, err := v.p.signIn(ctx, b, ar, u, step)
	if err != nil {
		return err
	}
	code, err := callback(pg, v.p.st.RedirectURI, ar.state, v.p.disco.Issuer)
	if err != nil {
		return err
	}
	_, err = v.p.exchange(ctx, v.back, ar, code)
	return err
}

func (v *vu) clientCredentials(ctx context.Context) error {
	var tok tokenResponse
	if err := postForm(ctx, v.back, v.p.disco.Token, url.Values{"grant_type": {"client_credentials"}},
		v.p.st.ClientID, v.p.st.ClientSecret, &tok); err != nil {
		return err
	}
	if tok.AccessToken == "" {
		return failf("token_response", errors.New("no access token"))
	}
	return nil
}

func (v *vu) refreshToken(ctx context.Context) error {
	var tok tokenResponse
	err := postForm(ctx, v.back, v.p.disco.Token, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v.refresh}},
		v.p.st.ClientID, v.p.st.ClientSecret, &tok)
	if err != nil {
		// A lost answer leaves a rotated-away token; start a new grant.
		v.stale = true
		return err
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		v.stale = true
		return failf("token_response", errors.New("no access or refresh token"))
	}
	v.access, v.refresh = tok.AccessToken, tok.RefreshToken
	return nil
}

func (v *vu) introspect(ctx context.Context) error {
	id, secret := "", ""
	if v.p.st.IntrospectAuth {
		id, secret = v.p.st.ClientID, v.p.st.ClientSecret
	}
	var out struct {
		Active bool `json:"active"`
	}
	if err := postForm(ctx, v.back, v.p.disco.Introspection, url.Values{"token": {v.access}}, id, secret, &out); err != nil {
		return err
	}
	if !out.Active {
		v.stale = true
		return failf("inactive", errors.New("introspection: token not active"))
	}
	return nil
}

func (v *vu) userinfo(ctx context.Context) error {
	var out struct {
		Sub string `json:"sub"`
	}
	if err := getJSON(ctx, v.back, v.p.disco.Userinfo, v.access, &out); err != nil {
		return err
	}
	if out.Sub == "" {
		return failf("bad_json", errors.New("userinfo without sub"))
	}
	return nil
}
