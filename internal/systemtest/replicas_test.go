package systemtest

import (
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// TestTwoReplicas runs two servers on one database and one Redis: a user
// signs in through one, the code is redeemed and refreshed through the
// other, and either's JWKS verifies the ID tokens.
func TestTwoReplicas(t *testing.T) {
	c := newCluster(t)
	one, two := c.start(), c.start()
	ctx := t.Context()
	one.createUser(t, "teacher")
	client, secret := one.createClient(t, clients.Registration{Name: "HR", RedirectURIs: []string{rpRedirect}})

	p1, err := oidc.NewProvider(oidc.InsecureIssuerURLContext(ctx, one.Issuer), one.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := oidc.NewProvider(oidc.InsecureIssuerURLContext(ctx, one.Issuer), two.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	scopes := []string{oidc.ScopeOpenID, "offline_access"}
	viaOne := oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(p1.Endpoint()), RedirectURL: rpRedirect, Scopes: scopes}
	viaTwo := viaOne
	viaTwo.Endpoint = inHeader(p2.Endpoint())

	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t, rpRedirect)
	code := codeFrom(t, b.signIn(b.get(viaOne.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "teacher", testPassword),
		rpRedirect, "state-0001", one.Issuer)
	tok, err := viaTwo.Exchange(ctx, code, oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("redeeming through the other replica: %v", err)
	}
	refreshed, err := viaTwo.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refreshing through the other replica: %v", err)
	}
	for _, raw := range []string{tok.Extra("id_token").(string), refreshed.Extra("id_token").(string)} {
		for _, p := range []*oidc.Provider{p1, p2} {
			if _, err := p.Verifier(&oidc.Config{ClientID: client.ID}).Verify(ctx, raw); err != nil {
				t.Fatalf("verifying against a replica's JWKS: %v", err)
			}
		}
	}
}
