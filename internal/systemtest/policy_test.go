package systemtest

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// TestPolicyByGroupAcrossReplicas: a policy for K-2 students saved through
// one replica's API governs sign-in on another replica within seconds,
// without a restart; staff keep the default.
func TestPolicyByGroupAcrossReplicas(t *testing.T) {
	c := newCluster(t)
	c.configure = func(cfg *config.Config) {
		cfg.MFA = config.Default().MFA // the district's default: MFA for everyone
		cfg.MFA.PolicyRefresh = config.Duration{Duration: 50 * time.Millisecond}
	}
	one, two := c.start(), c.start()
	one.createUser(t, "kinder")
	one.createUser(t, "teacher")
	api := &adminClient{t: t, base: one.Issuer, token: adminToken(t, one, assurance.AdminScopes...)}
	apiTwo := &adminClient{t: t, base: two.Issuer, token: api.token}

	if status := api.json("PUT", "/users/kinder/groups", map[string]any{"groups": []string{"Students-K2"}}, nil); status != http.StatusOK {
		t.Fatalf("set groups: %d", status)
	}
	var defaults struct {
		Items []struct {
			Name     string          `json:"name"`
			Settings json.RawMessage `json:"settings"`
		} `json:"items"`
	}
	api.json("GET", "/policies", nil, &defaults)
	if len(defaults.Items) != 1 || defaults.Items[0].Name != "default" {
		t.Fatalf("seeded policies: %+v", defaults)
	}
	var k2 map[string]any
	json.Unmarshal(defaults.Items[0].Settings, &k2)
	k2["require_mfa"], k2["required_methods"] = false, 0

	var bad struct {
		Error struct{ Problems []string } `json:"error"`
	}
	if status := api.json("PUT", "/policies/k2", map[string]any{"priority": 10, "settings": k2}, &bad); status != http.StatusUnprocessableEntity || len(bad.Error.Problems) == 0 {
		t.Fatalf("a group policy without groups: %d %+v", status, bad)
	}
	if status := api.json("PUT", "/policies/k2", map[string]any{"priority": 10, "groups": []string{"students-k2"}, "settings": k2}, nil); status != http.StatusOK {
		t.Fatalf("save policy: %d", status)
	}
	var history struct {
		Items []struct {
			Version int64 `json:"version"`
			Deleted bool  `json:"deleted"`
			Changes []struct {
				Field, Before, After string
			} `json:"changes"`
		} `json:"items"`
	}
	if status := api.json("GET", "/policies/k2/versions", nil, &history); status != http.StatusOK || len(history.Items) != 1 || history.Items[0].Changes == nil || len(history.Items[0].Changes) != 0 {
		t.Fatalf("k2's history: %d %+v", status, history)
	}
	if status := api.json("GET", "/policies/k3/versions", nil, nil); status != http.StatusNotFound {
		t.Fatalf("the history of a policy never saved: %d", status)
	}

	// The other replica picks it up by itself.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var eff struct {
			Policy string `json:"policy"`
		}
		apiTwo.json("GET", "/users/kinder/policy", nil, &eff)
		if eff.Policy == "k2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica two still resolves %q", eff.Policy)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Signing in through replica two: the K-2 student goes straight to the
	// app; the teacher is asked to register methods.
	client, secret := one.createClient(t, clients.Registration{Name: "Reading", RedirectURIs: []string{rpRedirect}})
	provider, err := oidc.NewProvider(t.Context(), two.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect, Scopes: []string{"openid"}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t, rpRedirect)
	codeFrom(t, b.signIn(b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "kinder", testPassword), rpRedirect, "state-0001", two.Issuer)
	tb := newBrowser(t, rpRedirect)
	mustSee(t, tb.signIn(tb.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(pkce))), "teacher", testPassword), "More information required")

	// The registration report, per group.
	var report struct {
		Items []struct {
			Group      string `json:"group"`
			Policy     string `json:"policy"`
			Users      int    `json:"users"`
			Registered int    `json:"registered"`
			Pending    int    `json:"pending"`
		} `json:"items"`
	}
	api.json("GET", "/reports/registration", nil, &report)
	if len(report.Items) != 2 || report.Items[1].Group != "students-k2" || report.Items[1].Policy != "k2" || report.Items[1].Registered != 1 ||
		report.Items[0].Group != "" || report.Items[0].Pending != 1 {
		t.Fatalf("registration report: %+v", report.Items)
	}

	var events struct {
		Items []json.RawMessage `json:"items"`
	}
	api.json("GET", "/audit?type=policy.saved", nil, &events)
	if len(events.Items) != 1 {
		t.Fatalf("policy.saved events: %d", len(events.Items))
	}
}
