package systemtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/pkg/adminapi"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// TestIntrospectionIsLimited: a client learns only about its own tokens,
// unless it is registered to introspect others' (an API); an access token
// cannot stand in for client credentials.
func TestIntrospectionIsLimited(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	gh.createUser(t, "intro")
	app := gh.registerApp(t, clients.Registration{Name: "Gradebook"}, "openid")
	tok := app.codeFlow(t, newBrowser(t, rpRedirect), "intro", "state-0001")
	other := gh.registerApp(t, clients.Registration{Name: "Library"}, "openid")
	api := gh.registerApp(t, clients.Registration{Name: "Grades API", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"profile"}, RedirectURIs: []string{}, MayIntrospect: true})

	introspect := func(id, secret, bearer string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, gh.Issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		} else {
			req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if status, body := introspect(app.ClientID, app.ClientSecret, ""); status != http.StatusOK || body["active"] != true {
		t.Errorf("its own token: %d %v", status, body)
	}
	if status, body := introspect(other.ClientID, other.ClientSecret, ""); status != http.StatusOK || body["active"] != false || len(body) != 1 {
		t.Errorf("another app's token: %d %v", status, body)
	}
	if status, body := introspect(api.ClientID, api.ClientSecret, ""); status != http.StatusOK || body["active"] != true || body["client_id"] != app.ClientID {
		t.Errorf("an API registered to introspect: %d %v", status, body)
	}
	otherTok := other.codeFlow(t, newBrowser(t, rpRedirect), "intro", "state-0002")
	if status, body := introspect("", "", otherTok.AccessToken); status != http.StatusUnauthorized || body["active"] == true {
		t.Errorf("an access token as credentials: %d %v", status, body)
	}
}

// TestIntrospectionPermissionInAdminAPI grants and withdraws the permission
// through the admin API.
func TestIntrospectionPermissionInAdminAPI(t *testing.T) {
	gh := newCluster(t).start()
	api := adminAPI(t, gh, assurance.ScopeClients)
	created, err := api.CreateClient(t.Context(), adminapi.ApplicationInput{Name: new("Grades API"),
		GrantTypes: new([]string{"client_credentials"}), Scopes: new([]string{"profile"}), MayIntrospect: new(true)})
	if err != nil || !created.MayIntrospect {
		t.Fatalf("create: %v %+v", err, created)
	}
	updated, err := api.UpdateClient(t.Context(), created.ID, adminapi.ApplicationInput{MayIntrospect: new(false)})
	if err != nil || updated.MayIntrospect || updated.Name != "Grades API" {
		t.Fatalf("update: %v %+v", err, updated)
	}
}
