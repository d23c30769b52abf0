package signin

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/websession"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// authorize starts (or, for a browser already signed in, completes) an
// authorization request. fosite validates it; a flow carries it through the
// sign-in steps; the runner replays it to fosite to issue the code.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(oauth.WithRequestCache(r.Context()))
	if err := r.ParseForm(); err != nil {
		h.AuthorizeError(w, r, nil, fosite.ErrInvalidRequest.WithHint("The request is not a valid form.").WithWrap(err))
		return
	}
	if r.Method == http.MethodPost {
		r = httpx.WithRetryURL(r, oauth.PathAuthorize+"?"+r.Form.Encode())
	}
	ar, ok := h.validRequest(w, r)
	if !ok {
		return
	}
	form := ar.GetRequestForm()
	bs, u, err := h.Sessions.SignedIn(w, r)
	// A session that has not proved the second factor the person's policy
	// now requires (the policy changed, or registration was put off and a
	// method has been registered since) is no sign-in under that policy:
	// sign in again, which ends in the challenge or registration.
	var needsMFA bool
	if err == nil && bs != nil {
		needsMFA, err = h.NeedsMFA(r.Context(), bs, u)
	}
	if err != nil {
		h.Unavailable(w, r, "We couldn't check your sign-in. Try again in a moment.", err)
		return
	}
	client := ar.GetClient().(*oauth.Client)
	f := &flow.Flow{
		Browser: h.CSRF.BrowserID(w, r), Query: form.Encode(), RedirectURI: ar.GetRedirectURI().String(), ClientID: client.ID, ClientName: client.Name,
		RequiredACR: requiredACR(client, form), RequireConsent: client.RequireConsent, CreatedAt: time.Now().UTC(),
	}
	if bs != nil && !needsMFA && reusable(form, bs, f.CreatedAt) {
		f.Continue(bs.Proof, u.Username, u.MustChangePassword)
	}
	// The common case, a second app for a signed-in browser, needs no flow.
	if f.Next() == flow.StepIssue {
		h.Issue(w, r, ar, f, u)
		return
	}
	if slices.Contains(strings.Fields(form.Get("prompt")), "none") {
		h.AuthorizeError(w, r, ar, withoutPrompt(f))
		return
	}
	if err := h.Flows.Create(r.Context(), f); err != nil {
		h.Unavailable(w, r, "We couldn't start your sign-in. Try again in a moment.", err)
		return
	}
	h.Advance(w, r, f)
}

// validRequest has fosite check the parsed request. A repeated parameter
// makes the whole request, redirect_uri included, untrustworthy: it gets
// the error page, never a redirect.
func (h *Handler) validRequest(w http.ResponseWriter, r *http.Request) (fosite.AuthorizeRequester, bool) {
	if err := oauth.RepeatedParameter(r.Form); err != nil {
		h.AuthorizeError(w, r, nil, err)
		return nil, false
	}
	ar, err := h.Provider.NewAuthorizeRequest(r.Context(), r)
	if err == nil {
		// fosite checks PKCE only when issuing the code; refuse a request
		// that cannot succeed before the user types a password.
		err = checkPKCE(ar.GetClient().(*oauth.Client), ar.GetRequestForm())
	}
	if err != nil {
		h.AuthorizeError(w, r, ar, err)
		return nil, false
	}
	return ar, true
}

// requiredACR is the higher of the client's own requirement and the
// request's acr_values.
func requiredACR(client *oauth.Client, form url.Values) string {
	required := client.RequiredACR
	for _, v := range strings.Fields(form.Get("acr_values")) {
		if assurance.Rank(v) > assurance.Rank(required) {
			required = v
		}
	}
	return required
}

// reusable reports whether session bs may answer this request without a
// new sign-in: no prompt=login, and within max_age.
func reusable(form url.Values, bs *websession.Session, now time.Time) bool {
	return !slices.Contains(strings.Fields(form.Get("prompt")), "login") && withinMaxAge(form.Get("max_age"), bs.AuthTime, now)
}

// withoutPrompt is why a prompt=none request cannot be answered without a
// page: whatever step the sign-in would show first.
func withoutPrompt(f *flow.Flow) error {
	switch f.Next() {
	case flow.StepAuthenticate:
		return fosite.ErrLoginRequired.WithHint("The user is not signed in.")
	case flow.StepConsent:
		return fosite.ErrConsentRequired.WithHint("The user must approve this application.")
	case flow.StepMFA, flow.StepEnroll, flow.StepRefuse:
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
