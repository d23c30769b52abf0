package systemtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// postToken posts form to the token endpoint, with HTTP Basic when id is set.
func postToken(t *testing.T, issuer, id, secret string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(body, &out)
	return resp, out
}

// TestProtocolStrictness checks the refusals RFC 6749 §3.1 and §5.2 prescribe.
func TestProtocolStrictness(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	gh.createUser(t, "pstrict")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS",
		GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}, Scopes: []string{"openid", "profile"}}, "openid")
	b := newBrowser(t, rpRedirect)
	rp.codeFlow(t, b, "pstrict", "state-0001") // the browser is signed in from here on

	t.Run("repeated parameter at authorize", func(t *testing.T) {
		pkce := oauth2.GenerateVerifier()
		p := b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce)) + "&scope=openid+profile")
		if strings.Contains(p.Location, "code=") || p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "more than once") {
			t.Fatalf("got %d %q:\n%s", p.Status, p.Location, p.Body)
		}
	})
	t.Run("repeated parameter at token", func(t *testing.T) {
		resp, body := postToken(t, gh.Issuer, rp.ClientID, rp.ClientSecret, url.Values{
			"grant_type": {"client_credentials"}, "scope": {"profile", "profile"}})
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" || body["access_token"] != nil {
			t.Fatalf("got %d %v", resp.StatusCode, body)
		}
	})
	t.Run("invalid_client after Basic names the scheme", func(t *testing.T) {
		resp, body := postToken(t, gh.Issuer, rp.ClientID, "not-the-secret", url.Values{"grant_type": {"client_credentials"}})
		if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" ||
			!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm=`) {
			t.Fatalf("got %d %v %q", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("introspection with a wrong secret names the scheme", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, gh.Issuer+"/oauth2/introspect", strings.NewReader("token=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rp.ClientID, "not-the-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm=`) {
			t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("unsupported grant type", func(t *testing.T) {
		resp, body := postToken(t, gh.Issuer, rp.ClientID, rp.ClientSecret, url.Values{
			"grant_type": {"password"}, "username": {"pstrict"}, "password": {testPassword}})
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
			t.Fatalf("got %d %v", resp.StatusCode, body)
		}
	})
	t.Run("GET at the token endpoint", func(t *testing.T) {
		for _, path := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
			resp, err := http.Get(gh.Issuer + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
				t.Fatalf("%s: got %d, Allow %q", path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	})
}

// TestExpiredClientAssertion: an expired private_key_jwt assertion is the
// client's failure to authenticate (401 invalid_client), not a server error.
func TestExpiredClientAssertion(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	client, signer := assertingClient(t, gh)
	tokenURL := gh.Issuer + "/oauth2/token"
	assertion, err := josejwt.Signed(signer).Claims(josejwt.Claims{
		Issuer: client.ID, Subject: client.ID, Audience: josejwt.Audience{tokenURL}, ID: "expired-1",
		IssuedAt: josejwt.NewNumericDate(time.Now().Add(-time.Hour)), Expiry: josejwt.NewNumericDate(time.Now().Add(-30 * time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	resp, body := postToken(t, gh.Issuer, "", "", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {client.ID}, "scope": {"profile"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
	})
	if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Fatalf("got %d %v", resp.StatusCode, body)
	}
}
