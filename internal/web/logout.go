package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/store"
)

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
	pub, err := h.keys.PublicKey(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, false
	}
	var c josejwt.Claims
	if err := tok.Claims(pub, &c); err != nil || c.Issuer != h.opt.Issuer {
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
		h.fail(w, r, http.StatusBadRequest, "Sign-out request not valid", "The sign-out request could not be read.", nil)
		return
	}
	redirect, state, clientID := r.Form.Get("post_logout_redirect_uri"), r.Form.Get("state"), r.Form.Get("client_id")
	var hint *idTokenHint
	if raw := r.Form.Get("id_token_hint"); raw != "" {
		var ok bool
		if hint, ok = h.verifyHint(ctx, raw); !ok {
			h.fail(w, r, http.StatusBadRequest, "Sign-out request not valid", "The application's sign-out request carried an ID token Gatehouse did not issue.", nil)
			return
		}
		if clientID == "" && len(hint.Audience) > 0 {
			clientID = hint.Audience[0]
		} else if clientID != "" && !slices.Contains(hint.Audience, clientID) {
			h.fail(w, r, http.StatusBadRequest, "Sign-out request not valid", "The application's sign-out request names a different application than its ID token.", nil)
			return
		}
	}
	if redirect != "" {
		var c *clients.Client
		var err error
		if clientID != "" {
			c, err = h.clients.GetClient(ctx, clientID)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			// Only a real answer may say the address is not registered.
			h.fail(w, r, http.StatusServiceUnavailable, "Sign-out unavailable", "We couldn't check the application's sign-out request. Try again in a moment.", err)
			return
		}
		if clientID == "" || err != nil || !slices.Contains(c.PostLogoutRedirectURIs, redirect) {
			h.fail(w, r, http.StatusBadRequest, "Sign-out request not valid", "The address to return to after signing out is not registered for this application.", nil)
			return
		}
	}

	bs, err := h.sessions.current(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-out unavailable", "We couldn't sign you out. Try again in a moment.", err)
		return
	}
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "yes" && h.csrf.valid(r)
	hinted := hint != nil && (bs == nil || bs.UserID == hint.Subject)
	if bs != nil && !confirmed && !hinted {
		p := h.page("Sign out")
		p.CSRF = h.csrf.token(h.csrf.browserID(w, r))
		p.PostLogoutRedirectURI, p.State, p.ClientID = redirect, state, clientID
		allowFormTarget(w, redirect)
		h.pages.render(w, http.StatusOK, "logout", p)
		return
	}
	if bs != nil {
		h.sessions.end(w, r)
		h.audit.Record(ctx, audit.Event{Type: "signout", SubjectID: bs.UserID, ActorID: bs.UserID, ClientID: clientID, IP: clientIP(r), UserAgent: r.UserAgent()})
	}
	if redirect == "" {
		h.pages.render(w, http.StatusOK, "signed_out", h.page("Signed out"))
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
