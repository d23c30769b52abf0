package systemtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// TestBusyDatabaseAnswers503: with every database connection taken,
// requests wait no longer than request_timeout and are answered 503 with
// temporarily_unavailable (never a hang, a 500, an "inactive" token or a
// revocation reported done); once a connection frees, they succeed.
func TestBusyDatabaseAnswers503(t *testing.T) {
	c := newCluster(t)
	c.configure = func(cfg *config.Config) {
		cfg.RequestTimeout = config.Duration{Duration: 300 * time.Millisecond}
		cfg.Database.MaxOpenConns, cfg.Database.MaxIdleConns = 1, 1
	}
	gh := c.start()
	client, secret := gh.createClient(t, clients.Registration{Name: "SIS sync", GrantTypes: []string{"client_credentials"}})
	cc := clientcredentials.Config{ClientID: client.ID, ClientSecret: secret, TokenURL: gh.Issuer + oauth.PathToken}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	// Hold the pool's only connection.
	held, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		gh.App.DB.InTransaction(context.Background(), func(oauth.GrantStore) error {
			close(held)
			<-release
			return nil
		})
	})
	<-held

	form := func(path string, v url.Values) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, gh.Issuer+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(client.ID, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for name, resp := range map[string]*http.Response{
		"token":      form(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}),
		"introspect": form(oauth.PathIntrospect, url.Values{"token": {tok.AccessToken}}),
		"revoke":     form(oauth.PathRevoke, url.Values{"token": {tok.AccessToken}}),
	} {
		var body struct {
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || body.Error != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s with the database busy: %d %q Retry-After %q", name, resp.StatusCode, body.Error, resp.Header.Get("Retry-After"))
		}
	}
	authorize := (&oauth2.Config{ClientID: client.ID, RedirectURL: rpRedirect, Endpoint: oauth2.Endpoint{AuthURL: gh.Issuer + oauth.PathAuthorize}}).
		AuthCodeURL("state-0001", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	if p := newBrowser(t, rpRedirect).get(authorize); p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "busy") {
		t.Errorf("authorize with the database busy: %d %q", p.Status, p.Location)
	}

	close(release)
	wg.Wait()
	if _, err := cc.Token(t.Context()); err != nil {
		t.Fatalf("token once the database is free: %v", err)
	}
}
