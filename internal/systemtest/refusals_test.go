package systemtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// TestRefusals checks that bad requests get the error the specs prescribe.
func TestRefusals(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	ctx := t.Context()
	gh.createUser(t, "asmith")
	client, secret := gh.createClient(t, clients.Registration{Name: "LMS", RedirectURIs: []string{rpRedirect}})
	provider, err := oidc.NewProvider(ctx, gh.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect, Scopes: []string{"openid"}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t, rpRedirect)
	code := codeFrom(t, b.signIn(b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "asmith", testPassword),
		rpRedirect, "state-0001", gh.Issuer)

	t.Run("wrong secret", func(t *testing.T) {
		bad := rp
		bad.ClientSecret = "not-the-secret"
		_, err := bad.Exchange(ctx, code, oauth2.VerifierOption(pkce))
		var re *oauth2.RetrieveError
		if !asRetrieve(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong redirect_uri at the token endpoint", func(t *testing.T) {
		bad := rp
		bad.RedirectURL = "http://127.0.0.1:9999/other"
		if _, err := bad.Exchange(ctx, code, oauth2.VerifierOption(pkce)); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		if _, err := rp.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unregistered redirect URI shows a page, never redirects", func(t *testing.T) {
		bad := rp
		bad.RedirectURL = "https://attacker.example/cb"
		p := newBrowser(t, "https://attacker.example").get(bad.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce)))
		if p.Location != "" || p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "Sign-in request not valid") {
			t.Fatalf("got %d %q", p.Status, p.Location)
		}
	})
	t.Run("unknown client shows a page", func(t *testing.T) {
		bad := rp
		bad.ClientID = "nobody"
		p := newBrowser(t, rpRedirect).get(bad.AuthCodeURL("state-0003"))
		if p.Location != "" || p.Status < 400 || !strings.Contains(p.Body, "Sign-in request not valid") {
			t.Fatalf("got %d %q", p.Status, p.Location)
		}
	})
	t.Run("plain PKCE is refused", func(t *testing.T) {
		p := newBrowser(t, rpRedirect).get(rp.AuthCodeURL("state-0004",
			oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if u, _ := url.Parse(p.Location); u == nil || u.Query().Get("error") != "invalid_request" {
			t.Fatalf("got %d %q", p.Status, p.Location)
		}
	})
	t.Run("wrong password gives one generic message", func(t *testing.T) {
		for _, name := range []string{"asmith", "nobody-here"} {
			br := newBrowser(t, rpRedirect)
			p := br.signIn(br.get(rp.AuthCodeURL("state-0005", oauth2.S256ChallengeOption(pkce))), name, "wrong password!")
			if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "Your username or password is incorrect.") {
				t.Fatalf("%s: got %d", name, p.Status)
			}
		}
	})
	t.Run("form without CSRF token is refused", func(t *testing.T) {
		br := newBrowser(t, rpRedirect)
		p := br.get(rp.AuthCodeURL("state-0006", oauth2.S256ChallengeOption(pkce)))
		req, _ := http.NewRequest(http.MethodPost, p.URL.String(), strings.NewReader("username=asmith"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if got := br.do(req); got.Status != http.StatusForbidden {
			t.Fatalf("got %d", got.Status)
		}
	})
	t.Run("token endpoint errors are JSON", func(t *testing.T) {
		resp, err := http.PostForm(provider.Endpoint().TokenURL, url.Values{"grant_type": {"password"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if json.NewDecoder(resp.Body).Decode(&body) != nil || body["error"] == "" || resp.StatusCode < 400 {
			t.Fatalf("got %d %v", resp.StatusCode, body)
		}
	})
}
