// Package rp is the relying-party side of Gatehouse for district Go apps:
// it starts an OpenID Connect sign-in (authorization code with PKCE S256,
// state, nonce, and the assurance level and sign-in age the app needs) and
// finishes it, refusing every callback a careful app must refuse: a state
// from another browser, a response from another issuer (RFC 9207), a
// provider error, an ID token that fails go-oidc's checks, carries another
// nonce, proves less than the acr asked for, or comes from a sign-in older
// than max_age. It also refreshes tokens.
//
// What a sign-in must remember between the redirect and the callback is a
// small value, Login, which the app keeps where it wishes: server-side
// under a cookie that binds it to the browser, or in the browser itself,
// sealed with SealLogin. Package rp/resource is the other side: checking
// Gatehouse access tokens in an API.
//
// It imports nothing of Gatehouse's internals, only pkg/assurance.
package rp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Config configures a relying party.
type Config struct {
	Issuer       string // Gatehouse's issuer URL, as its discovery document says
	ClientID     string
	ClientSecret string // empty for a public client, which proves itself by PKCE alone
	// ClientSecretPost sends the secret in the token request's body, for a
	// client registered for client_secret_post; HTTP Basic otherwise.
	ClientSecretPost bool
	RedirectURL      string
	Scopes           []string // "openid" is always asked for
	// HTTPClient talks to discovery, the keys and the token endpoint;
	// http.DefaultClient when nil.
	HTTPClient *http.Client
	// LoginLifetime is how long a started sign-in may take; ten minutes
	// when zero.
	LoginLifetime time.Duration
	// ClockSkew is allowed when auth_time is held against max_age; a minute
	// when zero.
	ClockSkew time.Duration
}

// Client is a relying party of one Gatehouse issuer. It is safe for
// concurrent use.
type Client struct {
	cfg        Config
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	client     *http.Client
	endSession string
	// issParam: the provider promises the RFC 9207 iss parameter, so a
	// response without one did not come from it.
	issParam bool
}

// New discovers the issuer and returns its relying party.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("rp: the issuer, client ID and redirect URL are required")
	}
	if cfg.LoginLifetime == 0 {
		cfg.LoginLifetime = 10 * time.Minute
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = time.Minute
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("rp: discovering %s: %w", cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
		IssParam   bool   `json:"authorization_response_iss_parameter_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("rp: reading the discovery document: %w", err)
	}
	endpoint := provider.Endpoint()
	// Pinned rather than detected: oauth2 would retry a refused secret the
	// other way. A public client sends only its client_id.
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if cfg.ClientSecret == "" || cfg.ClientSecretPost {
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range cfg.Scopes {
		if s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	return &Client{
		cfg: cfg,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: endpoint, Scopes: scopes},
		verifier:   provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		client:     client,
		endSession: meta.EndSession,
		issParam:   meta.IssParam,
	}, nil
}

// LoginOptions say what a sign-in must prove.
type LoginOptions struct {
	// ACR is the assurance level asked for (acr_values) and required of the
	// ID token, e.g. assurance.MFA; empty asks for none.
	ACR string
	// MaxAge asks for a sign-in no older than this (max_age) and refuses an
	// older auth_time; zero asks for none.
	MaxAge   time.Duration
	Prompt   string // "login", "none" or "consent"; empty for none
	ReturnTo string // kept for the app: where to go after the callback
}

// Login is one sign-in in progress: what the callback is checked against.
// The app keeps it until the callback, bound to the browser that started
// it, and uses it once.
type Login struct {
	State    string        `json:"state"`
	Nonce    string        `json:"nonce"`
	Verifier string        `json:"verifier"` // the PKCE code verifier
	ACR      string        `json:"acr,omitempty"`
	MaxAge   time.Duration `json:"max_age,omitempty"`
	ReturnTo string        `json:"return_to,omitempty"`
	Started  time.Time     `json:"started"`
}

// AuthCodeURL starts a sign-in: it returns the authorization request to
// send the browser to and the Login to keep for the callback.
func (c *Client) AuthCodeURL(o LoginOptions) (string, Login) {
	l := Login{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(),
		ACR: o.ACR, MaxAge: o.MaxAge, ReturnTo: o.ReturnTo, Started: time.Now()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(l.Verifier), oidc.Nonce(l.Nonce)}
	if o.ACR != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", o.ACR))
	}
	if o.MaxAge > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.Itoa(int(o.MaxAge/time.Second))))
	}
	if o.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", o.Prompt))
	}
	return c.oauth.AuthCodeURL(l.State, opts...), l
}

// Result is a completed sign-in.
type Result struct {
	Subject  string
	ACR      string
	AMR      []string
	AuthTime time.Time
	// Claims are all of the ID token's claims.
	Claims     map[string]any
	IDToken    *oidc.IDToken
	RawIDToken string
	Token      *oauth2.Token // access, refresh and ID tokens as the token endpoint sent them
	ReturnTo   string
}

// Callback finishes the sign-in l started, from the parameters of the
// authorization response (the callback's query, or its form for
// form_post). Each refusal is one of this package's errors.
func (c *Client) Callback(ctx context.Context, params url.Values, l Login) (*Result, error) {
	if l.State == "" || subtle.ConstantTimeCompare([]byte(params.Get("state")), []byte(l.State)) != 1 {
		return nil, ErrStateMismatch
	}
	if time.Since(l.Started) > c.cfg.LoginLifetime {
		return nil, ErrLoginExpired
	}
	// RFC 9207, before anything else in the response is believed: a
	// response from another issuer (a mix-up) must not be redeemed here.
	switch iss, has := params.Get("iss"), params.Has("iss"); {
	case has && iss != c.cfg.Issuer:
		return nil, &IssuerError{Got: iss, Want: c.cfg.Issuer}
	case !has && c.issParam:
		return nil, &IssuerError{Want: c.cfg.Issuer}
	}
	if code := params.Get("error"); code != "" {
		return nil, &ResponseError{Code: code, Description: params.Get("error_description"), URI: params.Get("error_uri")}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.client)
	tok, err := c.oauth.Exchange(ctx, params.Get("code"), oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return nil, tokenEndpointError("redeeming the code", err)
	}
	res, err := c.verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(res.IDToken.Nonce), []byte(l.Nonce)) != 1 {
		return nil, ErrNonceMismatch
	}
	if l.ACR != "" && !assurance.AtLeast(res.ACR, l.ACR) {
		return nil, &AssuranceError{ACR: res.ACR, Required: l.ACR}
	}
	if l.MaxAge > 0 && (res.AuthTime.IsZero() || time.Since(res.AuthTime) > l.MaxAge+c.cfg.ClockSkew) {
		return nil, &StaleSignInError{AuthTime: res.AuthTime, MaxAge: l.MaxAge}
	}
	res.ReturnTo = l.ReturnTo
	return res, nil
}

// Refresh redeems a refresh token of subject's. When the response carries
// an ID token (a grant with openid), it is verified and must be subject's;
// the Result then has its claims, otherwise only Subject and Token.
func (c *Client) Refresh(ctx context.Context, refreshToken, subject string) (*Result, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.client)
	tok, err := c.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, tokenEndpointError("refreshing", err)
	}
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		return &Result{Subject: subject, Token: tok}, nil
	}
	res, err := c.verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	// OpenID Connect Core 12.2: a refreshed ID token is about the same person.
	if res.Subject != subject {
		return nil, fmt.Errorf("rp: the refreshed ID token is for subject %q, not %q", res.Subject, subject)
	}
	return res, nil
}

// verify checks the ID token in tok (signature, issuer, audience, expiry,
// at_hash) and reads its claims.
func (c *Client) verify(ctx context.Context, tok *oauth2.Token) (*Result, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("rp: the token response has no ID token")
	}
	idt, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("rp: the ID token is not valid: %w", err)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("rp: the access token does not match the ID token's at_hash: %w", err)
		}
	}
	var std struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
	}
	var claims map[string]any
	if err := idt.Claims(&std); err != nil {
		return nil, fmt.Errorf("rp: reading the ID token's claims: %w", err)
	}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("rp: reading the ID token's claims: %w", err)
	}
	res := &Result{Subject: idt.Subject, ACR: std.ACR, AMR: std.AMR, Claims: claims,
		IDToken: idt, RawIDToken: raw, Token: tok}
	if std.AuthTime > 0 {
		res.AuthTime = time.Unix(std.AuthTime, 0)
	}
	return res, nil
}

// EndSessionURL is where to send the browser to sign out of Gatehouse too
// (RP-initiated logout), returning to postLogoutRedirect; false when the
// provider offers no end_session_endpoint.
func (c *Client) EndSessionURL(idTokenHint, postLogoutRedirect string) (string, bool) {
	if c.endSession == "" {
		return "", false
	}
	u, err := url.Parse(c.endSession)
	if err != nil {
		return "", false
	}
	q := u.Query()
	q.Set("id_token_hint", idTokenHint)
	q.Set("post_logout_redirect_uri", postLogoutRedirect)
	q.Set("client_id", c.cfg.ClientID)
	u.RawQuery = q.Encode()
	return u.String(), true
}
