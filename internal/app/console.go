package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/admin/console"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// consoleClientName finds the console's registration again at each start.
const consoleClientName = "Gatehouse admin console"

// mountConsole serves the admin console at /admin. It signs people in as a
// confidential client of this very issuer, registered (or brought up to
// date) here.
func (a *App) mountConsole(mux *http.ServeMux, svc *admin.Service, kv store.KV) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	secret := base64.RawURLEncoding.EncodeToString(secrets.Derive(a.masterKey, "admin-console"))
	id, err := a.ensureConsoleClient(ctx, secret)
	if err != nil {
		return fmt.Errorf("registering the admin console: %w", err)
	}
	con, err := console.New(console.Options{
		Issuer: a.Config.Issuer, ClientID: id, ClientSecret: secret, District: a.Config.District.Name,
		CSRFKey: secrets.Derive(a.masterKey, "admin-csrf"),
	}, svc, kv, a.Logger)
	if err != nil {
		return err
	}
	con.Mount(mux)
	return nil
}

// ensureConsoleClient registers the console's client or corrects the one
// registered before, and returns its ID.
//
// Its secret is derived from the master key rather than stored or rotated
// at each start: every replica computes the same one, so a replica starting
// never invalidates the secret the others hold. The clients service only
// issues random secrets (it never accepts a chosen one from an admin), so
// the hash is written to the stored record directly; a derived secret has
// the same 256 bits as a generated one.
func (a *App) ensureConsoleClient(ctx context.Context, secret string) (string, error) {
	want := clients.Registration{
		Name:                    consoleClientName,
		Description:             "Signs people in to the admin console at /admin. Managed by Gatehouse.",
		RedirectURIs:            []string{a.Config.Issuer + console.Prefix + "/callback"},
		PostLogoutRedirectURIs:  []string{a.Config.Issuer + console.Prefix + "/"},
		GrantTypes:              []string{"authorization_code"},
		Scopes:                  []string{"openid", "profile"},
		TokenEndpointAuthMethod: clients.AuthSecretBasic,
		// Only MFA sign-ins get tokens: the token endpoint re-checks this
		// on every code, whatever the authorization request asked for.
		RequiredACR: assurance.MFA,
	}
	all, err := a.Clients.List(ctx)
	if err != nil {
		return "", err
	}
	var c *clients.Client
	for i := range all {
		// The oldest, should two replicas have raced to register it.
		if all[i].Name == consoleClientName && (c == nil || all[i].CreatedAt.Before(c.CreatedAt)) {
			c = &all[i]
		}
	}
	switch {
	case c == nil:
		c, _, err = a.Clients.Create(ctx, want)
	case !reflect.DeepEqual(c.Registration(), want): // e.g. the issuer moved
		c, _, err = a.Clients.Update(ctx, c.ID, want)
	}
	if err != nil {
		return "", err
	}
	if !clients.SecretMatches(c.SecretHash, secret) {
		c.SecretHash = clients.HashSecret(secret)
		if err := a.DB.UpdateClient(ctx, c); err != nil {
			return "", err
		}
	}
	return c.ID, nil
}
