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

// request is a sign-out request once checked: where to return (a
// registered address, or ""), and the application and ID token it named.
type request struct {
	redirect, state, clientID string
	hint                      *idTokenHint
}

// problem is why a sign-out request is refused: the status and the words
// for the person.
type problem struct {
	status int
	msg    string
	err    error
}

func invalid(msg string) *problem { return &problem{status: http.StatusBadRequest, msg: msg} }

// logout implements OpenID Connect RP-Initiated Logout. A valid
// id_token_hint signs out at once; without one the user confirms first, so
// a link on another site cannot sign people out. The post-logout redirect
// must exactly match one the client registered.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	q, p := h.parse(r)
	if p != nil {
		if p.status == http.StatusServiceUnavailable {
			h.Busy(w, r, "Sign-out unavailable", p.msg, p.err)
		} else {
			h.Fail(w, r, p.status, "Sign-out request not valid", p.msg, nil)
		}
		return
	}
	bs, err := h.Sessions.Current(r)
	if err != nil {
		h.Busy(w, r, "Sign-out unavailable", "We couldn't sign you out. Try again in a moment.", err)
		return
	}
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "yes" && h.CSRF.Valid(r)
	hinted := q.hint != nil && (bs == nil || bs.UserID == q.hint.Subject)
	if bs != nil && !confirmed && !hinted {
		p := confirmPage{Layout: h.FormLayout(w, r, "Sign out"), PostLogoutRedirectURI: q.redirect, State: q.state, ClientID: q.clientID}
		httpx.AllowFormTarget(w, q.redirect)
		h.pages.Render(w, http.StatusOK, "logout", p)
		return
	}
	if bs != nil {
		h.Sessions.End(w, r)
		h.Audit.Record(r.Context(), audit.Event{Type: "signout", SubjectID: bs.UserID, ActorID: bs.UserID, ClientID: q.clientID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent()})
	}
	h.signedOut(w, r, q)
}

// parse reads and checks a sign-out request.
func (h *Handler) parse(r *http.Request) (*request, *problem) {
	if err := r.ParseForm(); err != nil {
		return nil, invalid("The sign-out request could not be read.")
	}
	q := &request{redirect: r.Form.Get("post_logout_redirect_uri"), state: r.Form.Get("state"), clientID: r.Form.Get("client_id")}
	if raw := r.Form.Get("id_token_hint"); raw != "" {
		if p := h.checkHint(r.Context(), q, raw); p != nil {
			return nil, p
		}
	}
	if q.redirect != "" {
		if p := h.checkRedirect(r.Context(), q); p != nil {
			return nil, p
		}
	}
	return q, nil
}

// checkHint verifies the ID token hint; it names the application when the
// request does not, and must agree with it when it does.
func (h *Handler) checkHint(ctx context.Context, q *request, raw string) *problem {
	hint, ok := h.verifyHint(ctx, raw)
	switch {
	case !ok:
		return invalid("The application's sign-out request carried an ID token Gatehouse did not issue.")
	case q.clientID == "" && len(hint.Audience) > 0:
		q.clientID = hint.Audience[0]
	case q.clientID != "" && !slices.Contains(hint.Audience, q.clientID):
		return invalid("The application's sign-out request names a different application than its ID token.")
	}
	q.hint = hint
	return nil
}

// checkRedirect accepts only an address the application registered. Only
// a real answer from storage may say it is not registered.
func (h *Handler) checkRedirect(ctx context.Context, q *request) *problem {
	const unregistered = "The address to return to after signing out is not registered for this application."
	if q.clientID == "" {
		return invalid(unregistered)
	}
	c, err := h.Clients.GetClient(ctx, q.clientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return invalid(unregistered)
	case err != nil:
		return &problem{status: http.StatusServiceUnavailable, msg: "We couldn't check the application's sign-out request. Try again in a moment.", err: err}
	case !slices.Contains(c.PostLogoutRedirectURIs, q.redirect):
		return invalid(unregistered)
	}
	return nil
}

// signedOut tells the person, or returns them to the application.
func (h *Handler) signedOut(w http.ResponseWriter, r *http.Request, q *request) {
	if q.redirect == "" {
		h.pages.Render(w, http.StatusOK, "signed_out", h.Layout("Signed out"))
		return
	}
	u, _ := url.Parse(q.redirect)
	if q.state != "" {
		v := u.Query()
		v.Set("state", q.state)
		u.RawQuery = v.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}
