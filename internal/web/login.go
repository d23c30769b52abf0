package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

const msgBadCredentials = "Your username or password is incorrect."

// formFlow checks the CSRF token and loads the flow of a POSTed step.
func (h *Handler) formFlow(w http.ResponseWriter, r *http.Request) (*flow.Flow, bool) {
	if !h.csrf.valid(r) {
		h.fail(w, r, http.StatusForbidden, "Sign-in expired", "This page was open too long or came from somewhere else. Go back to the application and sign in again.", nil)
		return nil, false
	}
	return h.loadFlow(w, r)
}

// onStep checks the flow is at this step (a bookmarked or replayed step
// URL is sent to the right one).
func (h *Handler) onStep(w http.ResponseWriter, r *http.Request, f *flow.Flow, step flow.Step) bool {
	if f.Next() != step {
		h.advance(w, r, f)
		return false
	}
	return true
}

func (h *Handler) stepPage(w http.ResponseWriter, r *http.Request, f *flow.Flow, title string) page {
	p := h.page(title)
	p.FlowID, p.ClientName, p.Username = f.ID, f.ClientName, f.Username
	p.CSRF = h.csrf.token(f.Browser)
	allowFormTarget(w, f.RedirectURI)
	return p
}

func (h *Handler) usernamePage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.loadFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepAuthenticate) {
		return
	}
	h.pages.render(w, http.StatusOK, "username", h.stepPage(w, r, f, "Sign in"))
}

// usernameSubmit only remembers what was typed: whether the account exists
// is never revealed before the password is checked.
func (h *Handler) usernameSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.formFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepAuthenticate) {
		return
	}
	name, err := identity.NormalizeUsername(r.PostFormValue("username"), h.opt.Domain)
	if err != nil {
		p := h.stepPage(w, r, f, "Sign in")
		p.Username = r.PostFormValue("username")
		p.Error = "Enter a valid username, like name@" + h.opt.Domain + "."
		h.pages.render(w, http.StatusUnprocessableEntity, "username", p)
		return
	}
	f.Username = name
	if !h.saveFlow(w, r, f) {
		return
	}
	h.redirectToPassword(w, r, f)
}

func (h *Handler) redirectToPassword(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	http.Redirect(w, r, "/login/password?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
}

func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.loadFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepAuthenticate) {
		return
	}
	if f.Username == "" {
		http.Redirect(w, r, "/login/username?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return
	}
	h.pages.render(w, http.StatusOK, "password", h.stepPage(w, r, f, "Enter password"))
}

func (h *Handler) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.formFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepAuthenticate) {
		return
	}
	if f.Username == "" {
		http.Redirect(w, r, "/login/username?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	ip := clientIP(r)
	retry := func(status int, msg string) {
		p := h.stepPage(w, r, f, "Enter password")
		p.Error = msg
		h.pages.render(w, status, "password", p)
	}
	refuse := func(status int, reason, msg string) {
		h.audit.Record(ctx, audit.Event{Type: "signin.failure", Outcome: "failure", ClientID: f.ClientID, IP: ip, UserAgent: r.UserAgent(),
			Details: map[string]string{"username": f.Username, "reason": reason}})
		retry(status, msg)
	}
	try := h.attempt(w, r, f.Username)
	if blocked, err := h.lockout.AddressBlocked(ctx, try); err == nil && blocked {
		refuse(http.StatusTooManyRequests, "too many failures from this address", "Too many failed sign-in attempts from your network. Wait a few minutes and try again.")
		return
	}
	// Locks are kept by username, so an unknown name locks like a real one
	// and the lock message tells nothing about who exists.
	if until, err := h.lockout.SignInLocked(ctx, f.Username, try.Source); err == nil && !until.IsZero() {
		refuse(http.StatusTooManyRequests, "account locked", lockout.MsgSignInLocked)
		return
	}
	u, err := h.users.Authenticate(ctx, f.Username, r.PostFormValue("password"))
	if err != nil {
		if !errors.Is(err, identity.ErrInvalidCredentials) {
			h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't check your password. Try again in a moment.", err)
			return
		}
		if err := h.lockout.AddressFailed(ctx, try); err != nil {
			h.logger.Warn("counting a failed password", "err", err)
		}
		h.metrics.SignIns.WithLabelValues("failure").Inc()
		var subject string
		if u != nil {
			subject = u.ID
		}
		h.audit.Record(ctx, audit.Event{Type: "signin.failure", Outcome: "failure", SubjectID: subject, ClientID: f.ClientID, IP: ip, UserAgent: r.UserAgent(),
			Details: map[string]string{"username": f.Username, "reason": err.Error()}})
		if until, lerr := h.lockout.SignInFailed(ctx, f.Username, try.Source); lerr == nil && !until.IsZero() {
			h.audit.Record(ctx, audit.Event{Type: "signin.locked", Outcome: "failure", SubjectID: subject, IP: ip,
				Details: map[string]string{"username": f.Username, "until": until.UTC().Format(time.RFC3339)}})
			retry(http.StatusTooManyRequests, lockout.MsgSignInLocked)
			return
		}
		retry(http.StatusUnauthorized, msgBadCredentials)
		return
	}
	if err := h.lockout.SignInSucceeded(ctx, f.Username, try.Source); err != nil {
		h.logger.Warn("clearing sign-in failures", "err", err)
	}
	if err := h.lockout.SignedIn(ctx, f.Username, h.device(w, r)); err != nil {
		h.logger.Warn("remembering the device", "err", err)
	}
	now := time.Now().UTC()
	f.UserID, f.Username, f.AuthTime, f.PasswordAt = u.ID, u.Username, now, now
	f.AMR, f.ACR = []string{assurance.AMRPassword}, assurance.Password
	f.MustChangePassword = u.MustChangePassword
	if err := h.startEnrollment(r, f, u); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't load your security info. Try again in a moment.", err)
		return
	}
	if f.HasMethods && f.Enroll == nil && h.policy.For(ctx, u).RememberDeviceDays > 0 && h.remembered(r, u) {
		f.ACR, f.AMR = assurance.MFA, []string{assurance.AMRPassword, assurance.AMRMFA}
	}
	h.metrics.SignIns.WithLabelValues("success").Inc()
	h.audit.Record(ctx, audit.Event{Type: "signin.success", SubjectID: u.ID, ActorID: u.ID, ClientID: f.ClientID, IP: ip, UserAgent: r.UserAgent(),
		Details: map[string]string{"amr": "pwd"}})
	h.saveAndAdvance(w, r, f)
}

// saveFlow stores the flow; a flow past its lifetime gets the "expired"
// page, one Redis would not store the "try again" page.
func (h *Handler) saveFlow(w http.ResponseWriter, r *http.Request, f *flow.Flow) bool {
	err := h.flows.Save(r.Context(), f)
	switch {
	case errors.Is(err, flow.ErrNotFound):
		h.fail(w, r, http.StatusBadRequest, "Sign-in expired", flow.ErrNotFound.Error(), nil)
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't save your sign-in. Try again in a moment.", err)
	}
	return err == nil
}

func (h *Handler) saveAndAdvance(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	if f.Next() != flow.StepIssue && !h.saveFlow(w, r, f) {
		return
	}
	h.advance(w, r, f)
}

func (h *Handler) changePasswordPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.loadFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepChangePassword) {
		return
	}
	h.pages.render(w, http.StatusOK, "change_password", h.stepPage(w, r, f, "Update your password"))
}

// setNewPassword sets the password typed twice in the form ("new_password",
// "confirm_password"); a mismatch or a policy problem goes to retry, any
// other failure to the error page. It reports whether the password was set.
func (h *Handler) setNewPassword(w http.ResponseWriter, r *http.Request, userID string, retry func(string)) bool {
	pw := r.PostFormValue("new_password")
	if pw != r.PostFormValue("confirm_password") {
		retry("The passwords don't match.")
		return false
	}
	err := h.users.SetPassword(r.Context(), userID, pw, false)
	var pe *identity.PolicyError
	switch {
	case errors.As(err, &pe):
		retry("Choose a different password: " + pe.Msg + ".")
		return false
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, "Password not changed", "We couldn't set your new password. Try again in a moment.", err)
		return false
	}
	return true
}

func (h *Handler) changePasswordSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.formFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepChangePassword) {
		return
	}
	// A sign-in begun before the Help Desk reset the password again must
	// not overwrite the new temporary one.
	if _, ok := h.flowUser(w, r, f); !ok {
		return
	}
	retry := func(msg string) {
		p := h.stepPage(w, r, f, "Update your password")
		p.Error = msg
		h.pages.render(w, http.StatusUnprocessableEntity, "change_password", p)
	}
	if !h.setNewPassword(w, r, f.UserID, retry) {
		return
	}
	h.audit.Record(r.Context(), audit.Event{Type: "user.password_changed", SubjectID: f.UserID, ActorID: f.UserID, IP: clientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"reason": "required at sign-in"}})
	f.MustChangePassword = false
	h.saveAndAdvance(w, r, f)
}

var scopeText = map[string]string{
	"openid":         "Sign you in",
	"profile":        "See your name and username",
	"email":          "See your email address",
	"offline_access": "Keep access to what you allowed when you are not using it",
}

func (h *Handler) consentPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.loadFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepConsent) {
		return
	}
	p := h.stepPage(w, r, f, "Permissions requested")
	q, _ := url.ParseQuery(f.Query)
	for _, s := range strings.Fields(q.Get("scope")) {
		if t, ok := scopeText[s]; ok {
			p.Scopes = append(p.Scopes, t)
		}
	}
	h.pages.render(w, http.StatusOK, "consent", p)
}

func (h *Handler) consentSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.formFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepConsent) {
		return
	}
	allowed := r.PostFormValue("decision") == "allow"
	h.audit.Record(r.Context(), audit.Event{Type: "consent." + map[bool]string{true: "granted", false: "denied"}[allowed],
		SubjectID: f.UserID, ActorID: f.UserID, ClientID: f.ClientID, IP: clientIP(r), UserAgent: r.UserAgent()})
	if !allowed {
		h.deny(w, r, f, fosite.ErrAccessDenied.WithHint("The user declined."))
		return
	}
	f.Consented = true
	h.saveAndAdvance(w, r, f)
}
