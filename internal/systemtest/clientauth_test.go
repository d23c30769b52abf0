package systemtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// assertingClient registers a client_credentials client that
// authenticates with private_key_jwt, and returns it with its signer.
func assertingClient(t *testing.T, gh *instance) (*clients.Client, jose.Signer) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	client, _ := gh.createClient(t, clients.Registration{
		Name: "SIS sync", GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile"},
		TokenEndpointAuthMethod: clients.AuthPrivateKeyJWT, JWKS: string(jwks),
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return client, signer
}

// TestPrivateKeyJWT authenticates a client with a signed assertion
// (RFC 7523) and refuses a replayed one.
func TestPrivateKeyJWT(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	client, signer := assertingClient(t, gh)
	tokenURL := gh.Issuer + "/oauth2/token"
	assertion, err := josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: client.ID, Subject: client.ID, Audience: josejwt.Audience{tokenURL}, ID: "assertion-1",
		IssuedAt: josejwt.NewNumericDate(time.Now()), Expiry: josejwt.NewNumericDate(time.Now().Add(time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	post := func() (int, map[string]any) {
		resp, out := postToken(t, gh.Issuer, "", "", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {client.ID}, "scope": {"profile"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
		})
		return resp.StatusCode, out
	}
	if status, body := post(); status != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("assertion refused: %d %v", status, body)
	}
	if status, body := post(); status != http.StatusBadRequest || body["error"] != "jti_known" {
		t.Fatalf("replayed assertion: %d %v", status, body)
	}

	// The token counts in the metrics, by grant type.
	metricsSrv := httptest.NewServer(gh.App.MetricsHandler())
	defer metricsSrv.Close()
	resp, err := http.Get(metricsSrv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(metrics), `gatehouse_tokens_issued_total{grant_type="client_credentials"} 1`) {
		t.Fatalf("metrics:\n%s", metrics)
	}
}
