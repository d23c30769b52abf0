package systemtest

import (
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/clients"
)

// TestRotatedSecretOverlap: after a rotation the token endpoint takes the
// old secret as well as the new one until the overlap ends, and then only
// the new one.
func TestRotatedSecretOverlap(t *testing.T) {
	gh := newCluster(t).start()
	ctx := t.Context()
	c, old := gh.createClient(t, clients.Registration{Name: "SIS sync", GrantTypes: []string{"client_credentials"}})
	fresh, err := gh.App.Admin.RotateClientSecret(ctx, admin.CLI, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	works := func(secret string) error {
		_, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: gh.Issuer + "/oauth2/token"}).Token(ctx)
		return err
	}
	if err := works(old); err != nil {
		t.Fatalf("the old secret stopped at once: %v", err)
	}
	if err := works(fresh); err != nil {
		t.Fatalf("the new secret: %v", err)
	}
	view, err := gh.App.Admin.GetClient(ctx, admin.CLI, c.ID)
	if err != nil || view.PreviousSecretExpiresAt == nil || time.Until(*view.PreviousSecretExpiresAt) < 23*time.Hour {
		t.Fatalf("the overlap shown: %+v %v", view, err)
	}

	// The overlap ends.
	stored, err := gh.App.DB.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.PreviousSecretExpiresAt = time.Now().Add(-time.Second)
	if err := gh.App.DB.UpdateClient(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if err := works(old); !isOAuthError(err, "invalid_client") {
		t.Fatalf("the old secret after the overlap: %v", err)
	}
	if err := works(fresh); err != nil {
		t.Fatalf("the new secret after the overlap: %v", err)
	}
}
