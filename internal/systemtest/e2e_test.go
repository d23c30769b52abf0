package systemtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
)

const rpRedirect = "http://127.0.0.1:9999/callback"

type idClaims struct {
	Subject           string   `json:"sub"`
	PreferredUsername string   `json:"preferred_username"`
	Name              string   `json:"name"`
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	AuthTime          int64    `json:"auth_time"`
	ACR               string   `json:"acr"`
	AMR               []string `json:"amr"`
	Nonce             string   `json:"nonce"`
}

// TestRelyingPartyEndToEnd signs a user in with a real OIDC relying-party
// library against a real listener and exercises every endpoint.
func TestRelyingPartyEndToEnd(t *testing.T) {
	c := newCluster(t)
	// The old refresh token is replayed at once below: with no race window
	// that is a replay, not a lost concurrent refresh.
	c.configure = func(cfg *config.Config) { cfg.Tokens.RefreshRaceWindow = config.Duration{} }
	gh := c.start()
	ctx := t.Context()
	user := gh.createUser(t, "jdoe")
	client, secret := gh.createClient(t, clients.Registration{
		Name: "Gradebook", RedirectURIs: []string{rpRedirect},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1:9999/"},
		GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials"},
	})

	provider, err := oidc.NewProvider(ctx, gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	var disco struct {
		EndSession string   `json:"end_session_endpoint"`
		Introspect string   `json:"introspection_endpoint"`
		Revoke     string   `json:"revocation_endpoint"`
		ISS        bool     `json:"authorization_response_iss_parameter_supported"`
		PKCE       []string `json:"code_challenge_methods_supported"`
	}
	if err := provider.Claims(&disco); err != nil || disco.EndSession == "" || !disco.ISS || !slices.Equal(disco.PKCE, []string{"S256"}) {
		t.Fatalf("discovery: %+v %v", disco, err)
	}
	rp := oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "offline_access"}}
	verifier := provider.Verifier(&oidc.Config{ClientID: client.ID})

	// Sign in: code + PKCE with the short name.
	b := newBrowser(t, rpRedirect)
	pkce := oauth2.GenerateVerifier()
	p := b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce), oidc.Nonce("nonce-0001")))
	p = b.signIn(p, "JDoe", testPassword)
	code := codeFrom(t, p, rpRedirect, "state-0001", gh.Issuer)

	tok, err := rp.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	var claims idClaims
	idt.Claims(&claims)
	if claims.Subject != user.ID || claims.PreferredUsername != "jdoe@district.example" || claims.Name != "Test jdoe" ||
		claims.Email != "jdoe@home.example" || claims.Nonce != "nonce-0001" || claims.ACR != "pwd" ||
		!slices.Equal(claims.AMR, []string{"pwd"}) || time.Since(time.Unix(claims.AuthTime, 0)) > time.Minute {
		t.Fatalf("ID token claims: %+v", claims)
	}
	if claims.Subject == "jdoe" || strings.Contains(claims.Subject, "jdoe") {
		t.Fatal("sub must be opaque")
	}

	// Userinfo.
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != user.ID || ui.Email != "jdoe@home.example" {
		t.Fatalf("userinfo: %+v %v", ui, err)
	}

	// A second app for the signed-in browser: no sign-in screens at all.
	p = b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce)))
	codeFrom(t, p, rpRedirect, "state-0002", gh.Issuer)

	// prompt=none without a session.
	fresh := newBrowser(t, rpRedirect)
	p = fresh.get(rp.AuthCodeURL("state-0003", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none")))
	if u, _ := url.Parse(p.Location); u == nil || u.Query().Get("error") != "login_required" || u.Query().Get("iss") != gh.Issuer {
		t.Fatalf("prompt=none: %d %q", p.Status, p.Location)
	}

	// Refresh rotation: the new token works, the old is refused, and
	// replaying it revokes the whole grant.
	old := tok.RefreshToken
	tok2, err := rp.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token()
	if err != nil || tok2.RefreshToken == old || tok2.RefreshToken == "" {
		t.Fatalf("refresh: %v", err)
	}
	if id2, _ := tok2.Extra("id_token").(string); id2 != "" {
		if _, err := verifier.Verify(ctx, id2); err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
	}
	if _, err := rp.TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("old refresh token: %v", err)
	}
	if _, err := rp.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("after reuse the grant must be revoked: %v", err)
	}
	if active := introspect(t, disco.Introspect, client.ID, secret, tok2.AccessToken); active {
		t.Fatal("access token of a revoked grant is still active")
	}

	// Revocation then introspection.
	p = b.get(rp.AuthCodeURL("state-0004", oauth2.S256ChallengeOption(pkce)))
	tok3, err := rp.Exchange(ctx, codeFrom(t, p, rpRedirect, "state-0004", gh.Issuer), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	if !introspect(t, disco.Introspect, client.ID, secret, tok3.AccessToken) {
		t.Fatal("fresh access token inactive")
	}
	form := url.Values{"token": {tok3.AccessToken}}
	req, _ := http.NewRequest(http.MethodPost, disco.Revoke, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client.ID, secret)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	if introspect(t, disco.Introspect, client.ID, secret, tok3.AccessToken) {
		t.Fatal("revoked access token still active")
	}

	// client_credentials.
	cc := clientcredentials.Config{ClientID: client.ID, ClientSecret: secret, TokenURL: provider.Endpoint().TokenURL}
	ccTok, err := cc.Token(ctx)
	if err != nil || !introspect(t, disco.Introspect, client.ID, secret, ccTok.AccessToken) {
		t.Fatalf("client_credentials: %v", err)
	}

	// A code redeemed twice is refused, and the tokens it bought are revoked.
	p = b.get(rp.AuthCodeURL("state-0006", oauth2.S256ChallengeOption(pkce)))
	reused := codeFrom(t, p, rpRedirect, "state-0006", gh.Issuer)
	tok6, err := rp.Exchange(ctx, reused, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Exchange(ctx, reused, oauth2.VerifierOption(pkce)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("code reuse: %v", err)
	}
	if introspect(t, disco.Introspect, client.ID, secret, tok6.AccessToken) {
		t.Fatal("tokens bought with a replayed code are still active")
	}

	// Logout with id_token_hint returns to the registered address with state.
	logout := disco.EndSession + "?" + url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {"http://127.0.0.1:9999/"}, "state": {"bye"}}.Encode()
	lb := newBrowser(t, "http://127.0.0.1:9999/")
	lb.http.Jar = b.http.Jar
	p = lb.get(logout)
	if p.Location != "http://127.0.0.1:9999/?state=bye" {
		t.Fatalf("logout: %d %q\n%s", p.Status, p.Location, p.Body)
	}
	// Signed out: the next authorization asks for the password again.
	p = b.get(rp.AuthCodeURL("state-0005", oauth2.S256ChallengeOption(pkce)))
	if !strings.Contains(p.Body, "Sign in") {
		t.Fatalf("after logout expected sign-in, got %d %q", p.Status, p.Location)
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	if err == nil {
		return false
	}
	if ok := asRetrieve(err, &re); ok {
		return re.ErrorCode == code
	}
	return false
}

func asRetrieve(err error, target **oauth2.RetrieveError) bool {
	for err != nil {
		if re, ok := err.(*oauth2.RetrieveError); ok {
			*target = re
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func introspect(t *testing.T, endpoint, id, secret, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %d %v", resp.StatusCode, err)
	}
	return out.Active
}
