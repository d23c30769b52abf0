// Package signin serves the start of every sign-in: the authorization
// endpoint, the username and password pages, and the password change a
// sign-in may require. What comes after the password (registration, the
// challenge, consent) is the flow's to decide and other packages' to show.
package signin

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/websession"
)

// Users checks and changes passwords.
type Users interface {
	Authenticate(ctx context.Context, username, password string) (*identity.User, error)
	SetPassword(ctx context.Context, id, password string, mustChange bool) error
}

// Lockout counts failed passwords per person and source.
type Lockout interface {
	Attempt(ctx context.Context, userID, device, addr string) (lockout.Attempt, error)
	AddressBlocked(ctx context.Context, a lockout.Attempt) (bool, error)
	AddressFailed(ctx context.Context, a lockout.Attempt) error
	SignInLocked(ctx context.Context, userID string, src lockout.Source) (time.Time, error)
	SignInFailed(ctx context.Context, userID string, src lockout.Source) (time.Time, error)
	SignInSucceeded(ctx context.Context, userID string, src lockout.Source) error
	SignedIn(ctx context.Context, userID, device string) error
}

// Deps are what the sign-in pages need beyond the runner.
type Deps struct {
	Users             Users
	Lockout           Lockout
	Devices           *websession.Devices
	Metrics           *metrics.Metrics
	MinPasswordLength int
}

// Handler serves the sign-in's first pages.
type Handler struct {
	*steps.Runner
	Deps
	pages *httpx.Pages
}

// New parses the pages and returns the handler.
func New(run *steps.Runner, d Deps) (*Handler, error) {
	pages, err := httpx.ParsePages("home", "username", "password", "change_password")
	if err != nil {
		return nil, err
	}
	return &Handler{Runner: run, Deps: d, pages: pages}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.home)
	mux.HandleFunc("GET "+oauth.PathAuthorize, h.authorize)
	mux.HandleFunc("POST "+oauth.PathAuthorize, h.authorize)
	mux.HandleFunc("GET "+steps.PathUsername, h.usernamePage)
	mux.HandleFunc("POST "+steps.PathUsername, h.usernameSubmit)
	mux.HandleFunc("GET "+steps.PathPassword, h.passwordPage)
	mux.HandleFunc("POST "+steps.PathPassword, h.passwordSubmit)
	mux.HandleFunc("GET "+steps.PathChangePassword, h.changePasswordPage)
	mux.HandleFunc("POST "+steps.PathChangePassword, h.changePasswordSubmit)
}

type homePage struct {
	httpx.Layout
	Username string // who is signed in here, if anyone
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	p := homePage{Layout: h.FormLayout(w, r, "Sign in")}
	if _, u, err := h.Sessions.SignedIn(w, r); err == nil && u != nil {
		p.Username = u.Username
	}
	h.pages.Render(w, http.StatusOK, "home", p)
}
