package app_test

import (
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// TestIDTokenAlgorithmPerClient: an app registered for ES256 gets ES256 ID
// tokens (code exchange and refresh, at_hash included) that a relying party
// accepting only ES256 verifies, and they serve as a logout hint; an app
// that did not choose gets RS256, the OpenID Connect default.
func TestIDTokenAlgorithmPerClient(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	ctx := t.Context()
	gh.createUser(t, "jdoe")
	provider, err := oidc.NewProvider(ctx, gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	var disco struct {
		Algs       []string `json:"id_token_signing_alg_values_supported"`
		EndSession string   `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&disco); err != nil || len(disco.Algs) != 2 {
		t.Fatalf("discovery: %+v %v", disco, err)
	}
	b := newBrowser(t, rpRedirect)
	signedIn := false
	for _, alg := range []string{"ES256", ""} {
		want := alg
		if want == "" {
			want = "RS256"
		}
		client, secret := gh.createClient(t, clients.Registration{
			Name: "App " + want, RedirectURIs: []string{rpRedirect}, PostLogoutRedirectURIs: []string{"http://127.0.0.1:9999/"},
			Scopes: []string{"openid", "offline_access"}, IDTokenSigningAlg: alg,
		})
		rp := oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()),
			RedirectURL: rpRedirect, Scopes: []string{oidc.ScopeOpenID, "offline_access"}}
		verifier := provider.Verifier(&oidc.Config{ClientID: client.ID, SupportedSigningAlgs: []string{want}})

		pkce := oauth2.GenerateVerifier()
		p := b.get(rp.AuthCodeURL("state-"+want, oauth2.S256ChallengeOption(pkce)))
		if !signedIn {
			p, signedIn = b.signIn(p, "jdoe", testPassword), true
		}
		tok, err := rp.Exchange(ctx, codeFrom(t, p, rpRedirect, "state-"+want, gh.Issuer), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatal(err)
		}
		for step, tok := range map[string]*oauth2.Token{"code": tok, "refresh": refreshed(t, rp, tok)} {
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("%s: %s ID token: %v", want, step, err)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("%s: %s at_hash: %v", want, step, err)
			}
		}
		if want == "ES256" {
			raw, _ := tok.Extra("id_token").(string)
			hint := disco.EndSession + "?" + url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {"http://127.0.0.1:9999/"}}.Encode()
			lb := newBrowser(t, "http://127.0.0.1:9999/")
			if p := lb.get(hint); p.Location != "http://127.0.0.1:9999/" {
				t.Fatalf("logout with an ES256 hint: %d %q\n%s", p.Status, p.Location, p.Body)
			}
		}
	}
}

func refreshed(t *testing.T, rp oauth2.Config, tok *oauth2.Token) *oauth2.Token {
	t.Helper()
	next, err := rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	return next
}
