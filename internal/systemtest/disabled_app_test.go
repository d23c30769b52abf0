package systemtest

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
)

// TestDisabledAppAtAuthorize: a sign-in through a disabled app says the
// app is turned off and whom to contact, not that it does not exist.
func TestDisabledAppAtAuthorize(t *testing.T) {
	c := newCluster(t)
	c.configure = func(cfg *config.Config) { cfg.District.HelpDeskURL = "https://help.district.example/" }
	gh := c.start()
	client, _ := gh.createClient(t, clients.Registration{Name: "Gradebook", RedirectURIs: []string{rpRedirect}})
	if err := gh.App.Admin.SetClientDisabled(t.Context(), admin.CLI, client.ID, true); err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: client.ID, Endpoint: oauth2.Endpoint{AuthURL: gh.Issuer + "/oauth2/authorize"}, RedirectURL: rpRedirect, Scopes: []string{"openid"}}
	b := newBrowser(t, rpRedirect)
	p := b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if p.Status != http.StatusForbidden {
		t.Fatalf("status %d", p.Status)
	}
	mustSee(t, p, "Gradebook is turned off", "contact the Help Desk at https://help.district.example/")
	if strings.Contains(p.Body, "does not exist") {
		t.Fatalf("the page says the app does not exist:\n%s", p.Body)
	}
	// An app that was never registered is still just not valid.
	rp.ClientID = "no-such-app"
	if p := b.get(rp.AuthCodeURL("state-0001")); strings.Contains(p.Body, "turned off") {
		t.Fatal("an unknown app is called disabled")
	}
}
