package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/demorp"
)

// DemoAddr is where `serve --demo` runs the demo relying party.
const DemoAddr = "localhost:9090"

const demoClientName = "Gatehouse demo app"

// startDemo registers the demo app as a public client (once) and serves it.
func (a *App) startDemo(ctx context.Context) (func(), error) {
	base := "http://" + DemoAddr
	var clientID string
	all, err := a.Clients.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.Name == demoClientName {
			clientID = c.ID
		}
	}
	if clientID == "" {
		c, _, err := a.Clients.Create(ctx, clients.Registration{
			Name: demoClientName, Public: true, RedirectURIs: []string{base + "/callback"},
			PostLogoutRedirectURIs: []string{base + "/"}, Scopes: []string{"openid", "profile", "email"},
			GrantTypes: []string{"authorization_code"},
		})
		if err != nil {
			return nil, fmt.Errorf("registering the demo app: %w", err)
		}
		clientID = c.ID
	}
	ln, err := net.Listen("tcp", DemoAddr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	go func() {
		// The demo app discovers Gatehouse, which starts listening just after this.
		var h http.Handler
		for h == nil && ctx.Err() == nil {
			h, err = demorp.New(ctx, demorp.Options{Issuer: a.Config.Issuer, ClientID: clientID, RedirectURL: base + "/callback", PostLogoutURL: base + "/"})
			if err != nil {
				time.Sleep(200 * time.Millisecond)
			}
		}
		srv.Handler = h
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Logger.Error("demo app", "err", err)
		}
	}()
	a.Logger.Info("demo app running; open it to sign in", "url", base, "client_id", clientID)
	return func() { srv.Close() }, nil
}
