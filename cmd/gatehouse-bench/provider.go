package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discovery is the part of the discovery document the generator uses.
type discovery struct {
	Issuer        string   `json:"issuer"`
	Authorization string   `json:"authorization_endpoint"`
	Token         string   `json:"token_endpoint"`
	Userinfo      string   `json:"userinfo_endpoint"`
	Introspection string   `json:"introspection_endpoint"`
	JWKS          string   `json:"jwks_uri"`
	IDTokenAlgs   []string `json:"id_token_signing_alg_values_supported"`
}

// provider is everything a virtual user needs to talk to the OpenID
// provider, shared by all of them.
type provider struct {
	st        *State
	disco     discovery
	issuerURL *url.URL
	verifier  *oidc.IDTokenVerifier
	rt        http.RoundTripper
	back      *http.Client // back channel: token, userinfo, introspection
}

// newProvider reads the discovery document at issuer and prepares ID token
// verification (go-oidc, keys from the provider's JWKS).
func newProvider(ctx context.Context, st *State, rt http.RoundTripper, timeout time.Duration) (*provider, error) {
	back := &http.Client{Transport: rt, Timeout: timeout}
	var d discovery
	if err := getJSON(ctx, back, strings.TrimSuffix(st.Issuer, "/")+"/.well-known/openid-configuration", "", &d); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	// The document's issuer is the one tokens carry (Hydra may add a slash).
	// go-oidc checks that the document names the issuer it was fetched from.
	if _, err := oidc.NewProvider(oidc.ClientContext(ctx, back), d.Issuer); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	iu, err := url.Parse(d.Authorization)
	if err != nil {
		return nil, err
	}
	if st.IntrospectURL != "" {
		d.Introspection = st.IntrospectURL
	}
	p := &provider{st: st, disco: d, issuerURL: iu, rt: rt, back: back}
	// The verifier fetches the JWKS with the context of its first use, so
	// give it a client of its own rather than a request's context.
	keySet := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), back), d.JWKS)
	p.verifier = oidc.NewVerifier(d.Issuer, keySet, &oidc.Config{ClientID: st.ClientID, SupportedSigningAlgs: d.IDTokenAlgs})
	return p, nil
}

// authRequest is one authorization request's secrets.
type authRequest struct {
	state, nonce, verifier string
	url                    string
}

func (p *provider) newAuthRequest(scope string, u *User) authRequest {
	ar := authRequest{state: rand.Text(), nonce: rand.Text(), verifier: rand.Text() + rand.Text()}
	sum := sha256.Sum256([]byte(ar.verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {p.st.ClientID},
		"redirect_uri":          {p.st.RedirectURI},
		"scope":                 {scope},
		"state":                 {ar.state},
		"nonce":                 {ar.nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if p.st.Kind == kindHydra && u != nil {
		// The auto-accept app signs in whoever the hint names.
		q.Set("login_hint", u.Username)
	}
	ar.url = p.disco.Authorization + "?" + q.Encode()
	return ar
}

// exchange redeems a code (client_secret_basic, PKCE) on the back channel
// and verifies the ID token it returns.
func (p *provider) exchange(ctx context.Context, back *http.Client, ar authRequest, code string) (*tokenResponse, error) {
	var tok tokenResponse
	err := postForm(ctx, back, p.disco.Token, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {p.st.RedirectURI}, "code_verifier": {ar.verifier},
	}, p.st.ClientID, p.st.ClientSecret, &tok)
	if err != nil {
		return nil, err
	}
	if tok.AccessToken == "" || tok.IDToken == "" {
		return nil, failf("token_response", errors.New("no access or ID token"))
	}
	idt, err := p.verifier.Verify(ctx, tok.IDToken)
	if err != nil {
		return nil, failf("id_token", err)
	}
	if idt.Nonce != ar.nonce {
		return nil, failf("id_token", fmt.Errorf("nonce %q, want %q", idt.Nonce, ar.nonce))
	}
	return &tok, nil
}

// signIn walks a fresh browser from the authorization request to the
// redirect back to the application. Gatehouse shows its sign-in pages:
// username, password, and the authenticator app code for step (or, for a
// user who has none yet, registration of one, whose secret is stored in u);
// Hydra sends the browser through the auto-accept login and consent app.
func (p *provider) signIn(ctx context.Context, b *browser, ar authRequest, u *User, step int64) (*page, error) {
	pg, err := b.get(ctx, ar.url)
	if err != nil || p.st.Kind != kindGatehouse {
		return pg, err
	}
	for range 12 {
		if strings.HasPrefix(pg.Location, p.st.RedirectURI) {
			return pg, nil
		}
		if pg.Status >= 500 {
			return nil, failf(fmt.Sprintf("http_%d", pg.Status), fmt.Errorf("%s: %.200q", pg.URL.Path, pg.Body))
		}
		if m := errorRe.FindStringSubmatch(pg.Body); m != nil {
			return nil, failf("refused_"+strings.TrimPrefix(pg.URL.Path, "/login/"), fmt.Errorf("%d: %s", pg.Status, html.UnescapeString(m[1])))
		}
		action := formRe.FindStringSubmatch(pg.Body)
		if action == nil {
			return nil, failf("page", fmt.Errorf("no form at %s (status %d): %.300q", pg.URL.Path, pg.Status, pg.Body))
		}
		var fields url.Values
		switch path := action[1]; {
		case strings.HasPrefix(path, "/login/username"):
			fields = url.Values{"username": {u.Username}}
		case strings.HasPrefix(path, "/login/password"):
			fields = url.Values{"password": {u.Password}}
		case strings.HasPrefix(path, "/login/mfa"):
			if u.TOTPSecret == "" {
				return nil, failf("page", errors.New("MFA challenge for a user without an authenticator secret"))
			}
			code, err := totpCode(u.TOTPSecret, step)
			if err != nil {
				return nil, err
			}
			fields = url.Values{"action": {"verify"}, "code": {code}}
		case strings.HasPrefix(path, "/login/enroll"):
			switch {
			case secretRe.MatchString(pg.Body):
				u.TOTPSecret = strings.ReplaceAll(secretRe.FindStringSubmatch(pg.Body)[1], " ", "")
				s := totpStep(time.Now())
				code, err := totpCode(u.TOTPSecret, s)
				if err != nil {
					return nil, err
				}
				u.LastStep = max(u.LastStep, s)
				fields = url.Values{"action": {"verify"}, "code": {code}}
			case strings.Contains(pg.Body, `value="done"`):
				fields = url.Values{"action": {"done"}}
			case strings.Contains(pg.Body, `value="continue"`):
				fields = url.Values{"action": {"continue"}}
			case strings.Contains(pg.Body, `value="next"`):
				fields = url.Values{"action": {"next"}}
			default:
				return nil, failf("page", fmt.Errorf("unknown registration step: %.300q", pg.Body))
			}
		default:
			return nil, failf("page", fmt.Errorf("unexpected form %s at %s", path, pg.URL.Path))
		}
		if pg, err = b.submit(ctx, pg, fields); err != nil {
			return nil, err
		}
	}
	return nil, failf("page", errors.New("sign-in did not finish in 12 steps"))
}

var (
	errorRe  = regexp.MustCompile(`<p class="error"[^>]*>([^<]*)</p>`)
	secretRe = regexp.MustCompile(`<p class="secret">([A-Z2-7 ]+)</p>`)
)
