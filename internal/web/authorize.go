package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// authorize starts (or, for a browser already signed in, completes) an
// authorization request. fosite validates it; a flow carries it through the
// sign-in steps; finish replays it to fosite to issue the code.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(oauth.WithRequestCache(r.Context()))
	ctx := r.Context()
	// A repeated parameter makes the whole request, redirect_uri included,
	// untrustworthy: it gets the error page, never a redirect.
	if err := r.ParseForm(); err != nil {
		h.authorizeError(w, r, nil, fosite.ErrInvalidRequest.WithHint("The request is not a valid form.").WithWrap(err))
		return
	}
	if err := oauth.RepeatedParameter(r.Form); err != nil {
		h.authorizeError(w, r, nil, err)
		return
	}
	ar, err := h.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	client := ar.GetClient().(*oauth.Client)
	form := ar.GetRequestForm()
	// fosite checks PKCE only when issuing the code; refuse a request that
	// cannot succeed before the user types a password.
	if err := checkPKCE(client, form); err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	prompts := strings.Fields(form.Get("prompt"))
	required := client.RequiredACR
	for _, v := range strings.Fields(form.Get("acr_values")) {
		if assurance.Rank(v) > assurance.Rank(required) {
			required = v
		}
	}

	now := time.Now()
	bs, u, err := h.signedIn(w, r)
	// A session that has not proved the second factor the person's policy
	// now requires (the policy changed, or registration was put off and a
	// method has been registered since) is no sign-in under that policy:
	// sign in again, which ends in the challenge or registration.
	var needsMFA bool
	if err == nil && bs != nil {
		needsMFA, err = h.needsMFA(ctx, bs, u)
	}
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't check your sign-in. Try again in a moment.", err)
		return
	}
	fresh := bs != nil && !slices.Contains(prompts, "login") && withinMaxAge(form.Get("max_age"), bs.AuthTime, now) && !needsMFA
	f := &flow.Flow{
		Browser: h.csrf.browserID(w, r), Query: form.Encode(), RedirectURI: ar.GetRedirectURI().String(), ClientID: client.ID, ClientName: client.Name,
		RequiredACR: required, RequireConsent: client.RequireConsent, CreatedAt: now.UTC(),
	}
	if fresh {
		f.UserID, f.Username, f.AuthTime, f.AMR, f.ACR = bs.UserID, u.Username, bs.AuthTime, bs.AMR, bs.ACR
		f.PolicyMFA, f.HasMethods, f.MFAAt, f.Deferred = bs.PolicyMFA, bs.HasMethods, bs.MFAAt, bs.Deferred
		f.MustChangePassword = u.MustChangePassword
	}
	// The common case, a second app for a signed-in browser, needs no flow.
	if f.Next() == flow.StepIssue {
		h.issue(w, r, ar, f, u)
		return
	}
	if slices.Contains(prompts, "none") {
		h.authorizeError(w, r, ar, withoutPrompt(f))
		return
	}
	if err := h.flows.Create(ctx, f); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't start your sign-in. Try again in a moment.", err)
		return
	}
	h.advance(w, r, f)
}

// withoutPrompt is why a prompt=none request cannot be answered without a
// page: whatever step the sign-in would show first.
func withoutPrompt(f *flow.Flow) error {
	switch f.Next() {
	case flow.StepAuthenticate:
		return fosite.ErrLoginRequired.WithHint("The user is not signed in.")
	case flow.StepConsent:
		return fosite.ErrConsentRequired.WithHint("The user must approve this application.")
	case flow.StepMFA, flow.StepEnroll:
		return fosite.ErrInteractionRequired.WithHint("A stronger sign-in is required.")
	}
	return fosite.ErrInteractionRequired.WithHint("The user must finish signing in.")
}

func checkPKCE(client *oauth.Client, form url.Values) error {
	method, challenge := form.Get("code_challenge_method"), form.Get("code_challenge")
	switch {
	case challenge == "" && client.Public:
		return fosite.ErrInvalidRequest.WithHint("This application must use PKCE (code_challenge with method S256).")
	case challenge != "" && method != "S256":
		return fosite.ErrInvalidRequest.WithHint("Only the S256 code challenge method is accepted.")
	}
	return nil
}

func withinMaxAge(raw string, authTime, now time.Time) bool {
	if raw == "" {
		return true
	}
	secs, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || secs < 0 {
		return true // fosite has already refused a malformed max_age
	}
	return now.Sub(authTime) <= time.Duration(secs)*time.Second
}

var stepPaths = map[flow.Step]string{
	flow.StepAuthenticate:   "/login/username",
	flow.StepChangePassword: "/login/change-password",
	flow.StepEnroll:         "/login/enroll",
	flow.StepMFA:            "/login/mfa",
	flow.StepConsent:        "/login/consent",
}

// advance sends the browser to the flow's next step, or finishes it.
func (h *Handler) advance(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	switch step := f.Next(); {
	case step == flow.StepIssue:
		h.finish(w, r, f)
	case step == flow.StepMFA && !f.HasMethods && !f.AccessCode && (f.Enroll == nil || len(f.Enroll.Done) == 0):
		// Nothing registered to challenge, and registration was put off.
		h.deny(w, r, f, errNoMethods)
	default:
		h.redirectToStep(w, r, f)
	}
}

func (h *Handler) redirectToStep(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	http.Redirect(w, r, stepPaths[f.Next()]+"?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
}

// replay rebuilds the original authorization request for fosite.
func (h *Handler) replay(ctx context.Context, f *flow.Flow) (fosite.AuthorizeRequester, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.opt.Issuer+oauth.PathAuthorize+"?"+f.Query, nil)
	if err != nil {
		return nil, err
	}
	return h.provider.NewAuthorizeRequest(ctx, req)
}

// finish ends a completed sign-in: only now does the browser get a
// session, and then the code goes to the application (or the person back to
// the Gatehouse page that asked).
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	ctx := r.Context()
	u, ok := h.flowUser(w, r, f)
	if !ok {
		return
	}
	if err := h.sessions.start(w, r, sessionFromFlow(f)); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't sign you in. Try again in a moment.", err)
		return
	}
	if f.ReturnTo != "" {
		h.flows.Delete(ctx, f.ID)
		http.Redirect(w, r, f.ReturnTo, http.StatusSeeOther)
		return
	}
	ar, err := h.replay(ctx, f)
	h.flows.Delete(ctx, f.ID)
	if err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	h.issue(w, r, ar, f, u)
}

// deny ends a flow by sending an error to the application.
func (h *Handler) deny(w http.ResponseWriter, r *http.Request, f *flow.Flow, cause error) {
	if f.ReturnTo != "" {
		h.flows.Delete(r.Context(), f.ID)
		h.fail(w, r, http.StatusForbidden, "Verification needed", "To change your security info, first verify your identity with a registered method. If you can't, contact the Help Desk.", nil)
		return
	}
	ar, err := h.replay(r.Context(), f)
	h.flows.Delete(r.Context(), f.ID)
	if err == nil {
		err = cause
		if errors.Is(cause, errNoMethods) {
			err = fosite.ErrAccessDenied.WithHint("This application requires multi-factor authentication, and no security method is registered for this account.")
		}
	}
	h.authorizeError(w, r, ar, err)
}

// issue grants the requested scopes to u, whose sign-in f completed, and
// redirects with the code and `iss`.
func (h *Handler) issue(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, f *flow.Flow, u *identity.User) {
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
	}, h.opt.Issuer, f.ValidFrom())
	resp, err := h.provider.NewAuthorizeResponse(ctx, ar, session)
	if err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	resp.AddParameter("iss", h.opt.Issuer)
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		w.Header().Set("Content-Security-Policy", oauth.FormPostCSP(ar.GetRedirectURI()))
	}
	h.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// authorizeError redirects the error to the application only when fosite
// has verified its redirect URI; otherwise the user gets an error page, so
// Gatehouse never redirects to an unregistered address.
func (h *Handler) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	// fosite reports a client it could not read as an unknown one: only a
	// real answer from storage may say the request is not valid.
	if store.Unavailable(err) || oauth.StorageOutage(r.Context()) != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "Gatehouse is busy right now. Try again in a moment.", err)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		h.logger.Error("authorization request", "err", err, "debug", rfc.DebugField, "request_id", RequestID(r.Context()))
	}
	if ar == nil || !ar.IsRedirectURIValid() {
		var clientID string
		if ar != nil && ar.GetClient() != nil {
			clientID = ar.GetClient().GetID()
		}
		h.audit.Record(r.Context(), audit.Event{
			Type: "authorize.refused", Outcome: "failure", ClientID: clientID, IP: clientIP(r), UserAgent: r.UserAgent(),
			Details: map[string]string{"error": rfc.ErrorField, "description": rfc.GetDescription()},
		})
		if h.disabledApp(w, r, rfc) {
			return
		}
		p := h.page("Sign-in request not valid")
		p.Title, p.Message = "Sign-in request not valid", "The application sent a sign-in request Gatehouse cannot accept."
		p.Detail = rfc.GetDescription()
		h.pages.render(w, rfc.CodeField, "error", p)
		return
	}
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		// fosite's form_post error page would leave out iss (RFC 9207).
		params := rfc.ToValues()
		params.Set("state", ar.GetState())
		params.Set("iss", h.opt.Issuer)
		redirect := ar.GetRedirectURI()
		redirect.Fragment = ""
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", oauth.FormPostCSP(redirect))
		fosite.WriteAuthorizeFormPostResponse(redirect.String(), params, oauth.FormPostTemplate, w)
		return
	}
	h.provider.WriteAuthorizeError(r.Context(), &issWriter{ResponseWriter: w, iss: h.opt.Issuer}, ar, err)
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

// flowUser loads the person a flow signs in. A flow begun (or whose
// password was typed) before the person was signed out everywhere (a
// password or method reset) is over, like their sessions; so is one for an
// account disabled or deleted since.
func (h *Handler) flowUser(w http.ResponseWriter, r *http.Request, f *flow.Flow) (*identity.User, bool) {
	u, err := h.users.Get(r.Context(), f.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't load your account. Try again in a moment.", err)
		return nil, false
	}
	if err != nil || !u.SessionValid(f.ValidFrom()) {
		h.flows.Delete(r.Context(), f.ID)
		h.fail(w, r, http.StatusBadRequest, "Sign-in expired", flow.ErrNotFound.Error(), nil)
		return nil, false
	}
	return u, true
}

// loadFlow reads the flow named in the URL; a missing or foreign flow gets
// the "expired" page.
func (h *Handler) loadFlow(w http.ResponseWriter, r *http.Request) (*flow.Flow, bool) {
	f, err := h.flows.Load(r.Context(), r.URL.Query().Get("flow"), h.csrf.browserID(w, r))
	if err != nil {
		if errors.Is(err, flow.ErrNotFound) {
			h.fail(w, r, http.StatusBadRequest, "Sign-in expired", flow.ErrNotFound.Error(), nil)
		} else {
			h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't continue your sign-in. Try again in a moment.", err)
		}
		return nil, false
	}
	return f, true
}
