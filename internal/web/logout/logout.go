// Package logout signs a browser out at an application's request (OpenID
// Connect RP-Initiated Logout) or its owner's.
package logout

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/url"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/websession"
)

// Keys finds the public key an ID token was signed with.
type Keys interface {
	PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// Clients looks applications up.
type Clients interface {
	GetClient(ctx context.Context, id string) (*clients.Client, error)
}

// Deps are what logout needs.
type Deps struct {
	Issuer   string
	Keys     Keys
	Clients  Clients
	Sessions *websession.Sessions
	Audit    *audit.Recorder
}

// Handler serves logout.
type Handler struct {
	*httpx.Base
	Deps
	pages *httpx.Pages
}

// New parses the pages and returns the handler.
func New(base *httpx.Base, d Deps) (*Handler, error) {
	pages, err := httpx.ParsePages("logout", "signed_out")
	if err != nil {
		return nil, err
	}
	return &Handler{Base: base, Deps: d, pages: pages}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+oauth.PathLogout, h.logout)
	mux.HandleFunc("POST "+oauth.PathLogout, h.logout)
}

// confirmPage asks a signed-in person whether to sign out.
type confirmPage struct {
	httpx.Layout
	PostLogoutRedirectURI, State, ClientID string
}

// idTokenHint is what logout needs from an ID token we issued.
type idTokenHint struct {
	Subject  string
	Audience []string
}

// verifyHint checks the signature of an ID token we issued. Expiry is not
// checked: an app commonly logs out with an ID token that has expired.
func (h *Handler) verifyHint(ctx context.Context, raw string) (*idTokenHint, bool) {
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		return nil, false
	}
	pub, err := h.Keys.PublicKey(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, false
	}
	var c josejwt.Claims
	if err := tok.Claims(pub, &c); err != nil || c.Issuer != h.Issuer {
		return nil, false
	}
	return &idTokenHint{Subject: c.Subject, Audience: c.Audience}, true
}

// logout implements OpenID Connect RP-Initiated Logout. A valid
// id_token_hint signs out at once; without one the user confirms first, so
// a link on another site cannot sign people out. The post-logout redirect
// must exactly match one the client registered.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		h.Fail(w, r, http.StatusBadRequest, "Sign-out request not valid", "The sign-out request could not be read.", nil)
		return
	}
	redirect, state, clientID := r.Form.Get("post_logout_redirect_uri"), r.Form.Get("state"), r.Form.Get("client_id")
	var hint *idTokenHint
	if raw := r.Form.Get("id_token_hint"); raw != "" {
		var ok bool
		if hint, ok = h.verifyHint(ctx, raw); !ok {
			h.Fail(w, r, http.StatusBadRequest, "Sign-out request not valid", "The application's sign-out request carried an ID token Gatehouse did not issue.", nil)
			return
		}
		if clientID == "" && len(hint.Audience) > 0 {
			clientID = hint.Audience[0]
		} else if clientID != "" && !slices.Contains(hint.Audience, clientID) {
			h.Fail(w, r, http.StatusBadRequest, "Sign-out request not valid", "The application's sign-out request names a different application than its ID token.", nil)
			return
		}
	}
	if redirect != "" {
		var c *clients.Client
		var err error
		if clientID != "" {
			c, err = h.Clients.GetClient(ctx, clientID)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			// Only a real answer may say the address is not registered.
			h.Fail(w, r, http.StatusServiceUnavailable, "Sign-out unavailable", "We couldn't check the application's sign-out request. Try again in a moment.", err)
			return
		}
		if clientID == "" || err != nil || !slices.Contains(c.PostLogoutRedirectURIs, redirect) {
			h.Fail(w, r, http.StatusBadRequest, "Sign-out request not valid", "The address to return to after signing out is not registered for this application.", nil)
			return
		}
	}

	bs, err := h.Sessions.Current(r)
	if err != nil {
		h.Fail(w, r, http.StatusServiceUnavailable, "Sign-out unavailable", "We couldn't sign you out. Try again in a moment.", err)
		return
	}
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "yes" && h.CSRF.Valid(r)
	hinted := hint != nil && (bs == nil || bs.UserID == hint.Subject)
	if bs != nil && !confirmed && !hinted {
		p := confirmPage{Layout: h.FormLayout(w, r, "Sign out"), PostLogoutRedirectURI: redirect, State: state, ClientID: clientID}
		httpx.AllowFormTarget(w, redirect)
		h.pages.Render(w, http.StatusOK, "logout", p)
		return
	}
	if bs != nil {
		h.Sessions.End(w, r)
		h.Audit.Record(ctx, audit.Event{Type: "signout", SubjectID: bs.UserID, ActorID: bs.UserID, ClientID: clientID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent()})
	}
	if redirect == "" {
		h.pages.Render(w, http.StatusOK, "signed_out", h.Layout("Signed out"))
		return
	}
	u, _ := url.Parse(redirect)
	if state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}
