package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/demorp"
)

// DemoAddr is where `serve --demo` runs the demo relying party unless
// told otherwise (--demo-listen).
const DemoAddr = "localhost:9090"

const demoClientName = "Gatehouse demo app"

// startDemo registers the demo app as a public client (once, and again for
// a new address) and serves it on ln.
func (a *App) startDemo(ctx context.Context, ln net.Listener) (func(), error) {
	base := demoBase(ln.Addr().(*net.TCPAddr))
	reg := clients.Registration{
		Name: demoClientName, Public: true, RedirectURIs: []string{base + "/callback"},
		PostLogoutRedirectURIs: []string{base + "/"}, Scopes: []string{"openid", "profile", "email"},
		GrantTypes: []string{"authorization_code"},
	}
	all, err := a.Clients.List(ctx)
	if err != nil {
		return nil, err
	}
	var demo *clients.Client
	for i := range all {
		if all[i].Name == demoClientName {
			demo = &all[i]
		}
	}
	switch {
	case demo == nil:
		if demo, _, err = a.Clients.Create(ctx, reg); err != nil {
			return nil, fmt.Errorf("registering the demo app: %w", err)
		}
	case !slices.Contains(demo.RedirectURIs, base+"/callback"):
		if demo, _, err = a.Clients.Update(ctx, demo.ID, reg); err != nil {
			return nil, fmt.Errorf("registering the demo app's new address: %w", err)
		}
	}
	clientID := demo.ID
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

// demoBase is the demo app's URL: on localhost, the one host a public
// client may redirect to over http.
func demoBase(addr *net.TCPAddr) string {
	return "http://" + net.JoinHostPort("localhost", strconv.Itoa(addr.Port))
}
