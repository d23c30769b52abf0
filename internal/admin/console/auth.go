package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// pendingLogin is a sign-in in progress, kept server-side (any replica may
// receive the callback) under a hash of its state.
type pendingLogin struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Return   string `json:"return"`
}

func loginKey(state string) string { return "admin-login:" + digest(state) }

// oidcClient is the console as a relying party of its own issuer.
type oidcClient struct {
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
}

// relyingParty discovers the issuer on first use and keeps the result.
func (c *Console) relyingParty(ctx context.Context) (*oidcClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.oidc != nil {
		return c.oidc, nil
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, c.client), c.opt.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", c.opt.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, err
	}
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader // the client is registered for client_secret_basic
	c.oidc = &oidcClient{
		oauth: oauth2.Config{ClientID: c.opt.ClientID, ClientSecret: c.opt.ClientSecret, Endpoint: endpoint,
			RedirectURL: c.opt.Issuer + Prefix + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile"}},
		verifier:   provider.Verifier(&oidc.Config{ClientID: c.opt.ClientID}),
		endSession: meta.EndSession,
	}
	return c.oidc, nil
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s, token, err := c.current(r)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	if s == nil {
		c.render(w, http.StatusOK, "landing", view{Title: "Admin console", District: c.opt.District})
		return
	}
	q, ok := c.signedIn(w, r, s, token)
	if !ok {
		return
	}
	c.render(w, http.StatusOK, "dashboard", c.view(q, "Admin console", nil))
}

// safeReturn keeps the post-sign-in redirect inside the console.
func safeReturn(p string) string {
	if !strings.HasPrefix(p, Prefix+"/") || strings.Contains(p, "//") || strings.ContainsAny(p, `\?#`) {
		return Prefix + "/"
	}
	return p
}

// login starts the code flow with PKCE, state and nonce, asking for MFA
// (the client's registration requires it too, so the token endpoint refuses
// a code from any weaker sign-in) no older than the console's idle timeout.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	rp, err := c.relyingParty(r.Context())
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "The console couldn't reach Gatehouse's sign-in. Try again in a moment.", err)
		return
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	p := pendingLogin{Nonce: nonce, Verifier: verifier, Return: safeReturn(r.URL.Query().Get("return"))}
	if err := c.putJSON(r.Context(), loginKey(state), p, loginLifetime); err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't start your sign-in. Try again in a moment.", err)
		return
	}
	// The cookie binds the state to this browser: a callback carrying a
	// state started elsewhere (login CSRF) is refused.
	c.setCookie(w, loginCookie, state, loginLifetime)
	http.Redirect(w, r, rp.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("acr_values", assurance.MFA),
		oauth2.SetAuthURLParam("max_age", strconv.Itoa(int(sessionIdle/time.Second)))), http.StatusFound)
}

func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	ck, err := r.Cookie(loginCookie)
	c.setCookie(w, loginCookie, "", -1)
	if state == "" || err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(state)) != 1 {
		c.fail(w, r, http.StatusBadRequest, "Sign-in not valid", "This sign-in was not started in this browser, or it took too long. Start again.", nil)
		return
	}
	var p pendingLogin
	raw, err := c.kv.Take(ctx, loginKey(state))
	if err == nil {
		err = json.Unmarshal(raw, &p)
	}
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in has expired or was already used. Start again.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		c.fail(w, r, http.StatusForbidden, "Sign-in didn't complete", "Gatehouse did not sign you in ("+e+"). Start again.", nil)
		return
	}
	// RFC 9207: a response from another issuer must not be redeemed here.
	if q.Has("iss") && q.Get("iss") != c.opt.Issuer {
		c.fail(w, r, http.StatusBadRequest, "Sign-in not valid", "The sign-in response came from another issuer.", nil)
		return
	}
	rp, err := c.relyingParty(ctx)
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "The console couldn't reach Gatehouse's sign-in. Try again in a moment.", err)
		return
	}
	sub, idToken, err := c.redeem(ctx, rp, q.Get("code"), p)
	var weak *weakSignIn
	switch {
	case errors.As(err, &weak):
		c.fail(w, r, http.StatusForbidden, "Stronger sign-in required", "The admin console needs a sign-in with a second factor (multi-factor authentication). Sign out of Gatehouse and sign in again.", nil)
		return
	case err != nil:
		c.fail(w, r, http.StatusBadGateway, "Sign-in failed", "The console couldn't complete your sign-in. Start again.", err)
		return
	}
	_, _, err = c.svc.ConsoleActor(ctx, sub, clientIP(r))
	switch {
	case errors.Is(err, admin.ErrForbidden) || errors.Is(err, store.ErrNotFound):
		c.noAccess(w, r)
		return
	case err != nil:
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't load your account. Try again in a moment.", err)
		return
	}
	if err := c.startSession(w, r, session{UserID: sub, IDToken: idToken}); err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't start your console session. Try again in a moment.", err)
		return
	}
	http.Redirect(w, r, p.Return, http.StatusSeeOther)
}

// weakSignIn is an ID token without the MFA assurance level.
type weakSignIn struct{ acr string }

func (e *weakSignIn) Error() string {
	return "the sign-in's acr is " + e.acr + ", not " + assurance.MFA
}

// redeem exchanges the code and verifies the ID token: signature, issuer,
// audience, expiry, nonce, and acr=mfa. It returns the subject and the raw
// token.
func (c *Console) redeem(ctx context.Context, rp *oidcClient, code string, p pendingLogin) (string, string, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.client)
	tok, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		return "", "", fmt.Errorf("redeeming the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", "", errors.New("the token response has no ID token")
	}
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return "", "", fmt.Errorf("verifying the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return "", "", errors.New("the ID token's nonce does not match this sign-in")
	}
	var claims struct {
		ACR      string `json:"acr"`
		AuthTime int64  `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		return "", "", err
	}
	if claims.ACR != assurance.MFA {
		return "", "", &weakSignIn{acr: claims.ACR}
	}
	// The max_age the sign-in asked for, with a minute for clock skew.
	if time.Since(time.Unix(claims.AuthTime, 0)) > sessionIdle+time.Minute {
		return "", "", errors.New("the ID token's auth_time is older than the max_age asked for")
	}
	return idt.Subject, raw, nil
}

// logout ends the console session and, with the ID token as a hint, the
// Gatehouse sign-in behind it, returning to the console's front page.
func (c *Console) logout(q *request) {
	s, _, _ := c.current(q.r)
	c.endSession(q.w, q.r)
	rp, err := c.relyingParty(q.r.Context())
	if err != nil || rp.endSession == "" || s == nil {
		http.Redirect(q.w, q.r, Prefix+"/", http.StatusSeeOther)
		return
	}
	u, err := url.Parse(rp.endSession)
	if err != nil {
		http.Redirect(q.w, q.r, Prefix+"/", http.StatusSeeOther)
		return
	}
	v := u.Query()
	v.Set("id_token_hint", s.IDToken)
	v.Set("post_logout_redirect_uri", c.opt.Issuer+Prefix+"/")
	v.Set("client_id", c.opt.ClientID)
	u.RawQuery = v.Encode()
	http.Redirect(q.w, q.r, u.String(), http.StatusSeeOther)
}
