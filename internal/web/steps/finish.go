package steps

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/websession"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// ErrNoMethods ends a sign-in that requires MFA of someone with nothing
// registered to challenge.
var ErrNoMethods = errors.New("no usable MFA method")

// finish ends a completed sign-in: only now does the browser get a
// session, and then the code goes to the application (or the person back to
// the Gatehouse page that asked).
func (s *Runner) finish(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	ctx := r.Context()
	u, ok := s.User(w, r, f)
	if !ok {
		return
	}
	if err := s.Sessions.Start(w, r, websession.Session{Proof: f.Proved()}); err != nil {
		s.Unavailable(w, r, "We couldn't sign you in. Try again in a moment.", err)
		return
	}
	if f.ReturnTo != "" {
		s.Flows.Delete(ctx, f.ID)
		http.Redirect(w, r, f.ReturnTo, http.StatusSeeOther)
		return
	}
	ar, err := s.replay(ctx, f)
	s.Flows.Delete(ctx, f.ID)
	if err != nil {
		s.AuthorizeError(w, r, ar, err)
		return
	}
	s.Issue(w, r, ar, f, u)
}

// replay rebuilds the original authorization request for fosite.
func (s *Runner) replay(ctx context.Context, f *flow.Flow) (fosite.AuthorizeRequester, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Issuer+oauth.PathAuthorize+"?"+f.Query, nil)
	if err != nil {
		return nil, err
	}
	return s.Provider.NewAuthorizeRequest(ctx, req)
}

// Deny ends a flow by sending an error to the application.
func (s *Runner) Deny(w http.ResponseWriter, r *http.Request, f *flow.Flow, cause error) {
	if f.ReturnTo != "" {
		s.Flows.Delete(r.Context(), f.ID)
		s.Fail(w, r, http.StatusForbidden, "Verification needed", "To change your security info, first verify your identity with a registered method. If you can't, contact the Help Desk.", nil)
		return
	}
	ar, err := s.replay(r.Context(), f)
	s.Flows.Delete(r.Context(), f.ID)
	if err == nil {
		err = cause
		if errors.Is(cause, ErrNoMethods) {
			err = fosite.ErrAccessDenied.WithHint("This application requires multi-factor authentication, and no security method is registered for this account.")
		}
	}
	s.AuthorizeError(w, r, ar, err)
}

// Issue grants the requested scopes to u, whose sign-in f completed, and
// redirects with the code and `iss`.
func (s *Runner) Issue(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, f *flow.Flow, u *identity.User) {
	ctx := r.Context()
	for _, scope := range ar.GetRequestedScopes() {
		// Admin scopes are the client's own rights, never a person's.
		if !assurance.IsAdminScope(scope) {
			ar.GrantScope(scope)
		}
	}
	session := oauth.SessionFor(oauth.Authentication{
		Subject: u.ID, Username: u.Username, AuthTime: f.AuthTime, AMR: f.AMR, ACR: f.ACR,
		Claims: oauth.ProfileClaims(u, ar.GetGrantedScopes()),
	}, s.Issuer, f.ValidFrom())
	resp, err := s.Provider.NewAuthorizeResponse(ctx, ar, session)
	if err != nil {
		s.AuthorizeError(w, r, ar, err)
		return
	}
	resp.AddParameter("iss", s.Issuer)
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		w.Header().Set("Content-Security-Policy", oauth.FormPostCSP(ar.GetRedirectURI()))
	}
	s.Provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// AuthorizeError redirects the error to the application only when fosite
// has verified its redirect URI; otherwise the user gets an error page, so
// Gatehouse never redirects to an unregistered address.
func (s *Runner) AuthorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	// fosite reports a client it could not read as an unknown one: only a
	// real answer from storage may say the request is not valid.
	if store.Unavailable(err) || oauth.StorageOutage(r.Context()) != nil {
		s.Unavailable(w, r, "Gatehouse is busy right now. Try again in a moment.", err)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		s.Logger.Error("authorization request", "err", err, "debug", rfc.DebugField, "request_id", httpx.RequestID(r.Context()))
	}
	switch {
	case ar == nil || !ar.IsRedirectURIValid():
		s.refused(w, r, ar, rfc)
	case ar.GetResponseMode() == fosite.ResponseModeFormPost:
		s.formPostError(w, ar, rfc)
	default:
		s.Provider.WriteAuthorizeError(r.Context(), &issWriter{ResponseWriter: w, iss: s.Issuer}, ar, err)
	}
}

// refused shows the person, not the application, a request Gatehouse
// cannot answer with a redirect.
func (s *Runner) refused(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, rfc *fosite.RFC6749Error) {
	var clientID string
	if ar != nil && ar.GetClient() != nil {
		clientID = ar.GetClient().GetID()
	}
	s.Audit.Record(r.Context(), audit.Event{
		Type: "authorize.refused", Outcome: "failure", ClientID: clientID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"error": rfc.ErrorField, "description": rfc.GetDescription()},
	})
	if s.disabledApp(w, r, rfc) {
		return
	}
	v := s.ErrorView("Sign-in request not valid", "The application sent a sign-in request Gatehouse cannot accept.")
	v.Detail = rfc.GetDescription()
	s.ShowError(w, rfc.CodeField, v)
}

// formPostError posts the error to the application itself: fosite's
// form_post error page would leave out iss (RFC 9207).
func (s *Runner) formPostError(w http.ResponseWriter, ar fosite.AuthorizeRequester, rfc *fosite.RFC6749Error) {
	params := rfc.ToValues()
	params.Set("state", ar.GetState())
	params.Set("iss", s.Issuer)
	redirect := ar.GetRedirectURI()
	redirect.Fragment = ""
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", oauth.FormPostCSP(redirect))
	fosite.WriteAuthorizeFormPostResponse(redirect.String(), params, oauth.FormPostTemplate, w)
}

// issWriter adds `iss` (RFC 9207) to the error redirect fosite writes.
type issWriter struct {
	http.ResponseWriter
	iss string
}

func (w *issWriter) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); loc != "" {
		if u, err := url.Parse(loc); err == nil {
			q := u.Query()
			q.Set("iss", w.iss)
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// disabledApp answers a sign-in request from an application the district
// has disabled. The protocol hides a disabled client (fosite says it "does
// not exist"), which would send people and app owners after the wrong
// problem; the person is told the app is off and whom to ask. True when it
// wrote the page.
func (s *Runner) disabledApp(w http.ResponseWriter, r *http.Request, rfc *fosite.RFC6749Error) bool {
	id := r.FormValue("client_id")
	if rfc.ErrorField != fosite.ErrInvalidClient.ErrorField || id == "" {
		return false
	}
	c, err := s.Clients.GetClient(r.Context(), id)
	if err != nil || !c.Disabled {
		return false
	}
	v := s.ErrorView("App disabled", c.Name+" is turned off, so nobody can sign in to it right now. This isn't a problem with your account or password.")
	v.Detail = "To ask when it will be back, contact the Help Desk"
	if s.Site.HelpDeskURL != "" {
		v.Detail += " at " + s.Site.HelpDeskURL
	}
	v.Detail += "."
	s.ShowError(w, http.StatusForbidden, v)
	return true
}
