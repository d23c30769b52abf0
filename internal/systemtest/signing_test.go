package systemtest

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
	gh := newCluster(t).start()
	gh.createUser(t, "jdoe")
	b := newBrowser(t, rpRedirect)
	signInAs := "jdoe" // the first app signs the browser in; the second finds it signed in
	for _, alg := range []string{"ES256", ""} {
		want := alg
		if want == "" {
			want = "RS256"
		}
		rp := gh.registerApp(t, clients.Registration{Name: "App " + want, PostLogoutRedirectURIs: []string{"http://127.0.0.1:9999/"},
			Scopes: []string{"openid", "offline_access"}, IDTokenSigningAlg: alg}, oidc.ScopeOpenID, "offline_access")
		var disco struct {
			Algs       []string `json:"id_token_signing_alg_values_supported"`
			EndSession string   `json:"end_session_endpoint"`
		}
		if err := rp.Provider.Claims(&disco); err != nil || len(disco.Algs) != 2 {
			t.Fatalf("discovery: %+v %v", disco, err)
		}
		verifier := rp.Provider.Verifier(&oidc.Config{ClientID: rp.ClientID, SupportedSigningAlgs: []string{want}})

		tok := rp.codeFlow(t, b, signInAs, "state-"+want)
		signInAs = ""
		refreshed, err := rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		for step, tok := range map[string]*oauth2.Token{"code": tok, "refresh": refreshed} {
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verifier.Verify(t.Context(), raw)
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
			if p := newBrowser(t, "http://127.0.0.1:9999/").get(hint); p.Location != "http://127.0.0.1:9999/" {
				t.Fatalf("logout with an ES256 hint: %d %q\n%s", p.Status, p.Location, p.Body)
			}
		}
	}
}
