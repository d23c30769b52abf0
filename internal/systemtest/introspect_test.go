package systemtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/clients"
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
	api := &adminClient{t: t, base: gh.Issuer, token: adminToken(t, gh, assurance.ScopeClients)}
	var created map[string]any
	if status := api.json(http.MethodPost, "/clients", map[string]any{"name": "Grades API", "grant_types": []string{"client_credentials"},
		"scopes": []string{"profile"}, "may_introspect": true}, &created); status != http.StatusCreated || created["may_introspect"] != true {
		t.Fatalf("create: %d %v", status, created)
	}
	var updated map[string]any
	if status := api.json(http.MethodPatch, "/clients/"+created["client_id"].(string), map[string]any{"may_introspect": false}, &updated); status != http.StatusOK ||
		updated["may_introspect"] != false || updated["name"] != "Grades API" {
		t.Fatalf("update: %d %v", status, updated)
	}
}
