package signin

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/wording"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

const (
	msgBadCredentials = "Your username or password is incorrect."
	msgAddressBlocked = "Too many failed sign-in attempts from your network. Wait a few minutes and try again."
)

func (h *Handler) usernamePage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadAt(w, r, flow.StepAuthenticate)
	if ok {
		h.pages.Render(w, http.StatusOK, "username", h.Page(w, f, "Sign in"))
	}
}

// usernameSubmit only remembers what was typed: whether the account exists
// is never revealed before the password is checked.
func (h *Handler) usernameSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadFormAt(w, r, flow.StepAuthenticate)
	if !ok {
		return
	}
	name, err := identity.NormalizeUsername(r.PostFormValue("username"), h.Site.Domain)
	if err != nil {
		p := h.Page(w, f, "Sign in")
		p.Username = r.PostFormValue("username")
		p.Error = "Enter a valid username, like name@" + h.Site.Domain + "."
		h.pages.Render(w, http.StatusUnprocessableEntity, "username", p)
		return
	}
	f.Username = name
	if h.Save(w, r, f) {
		h.RedirectToPassword(w, r, f)
	}
}

// withUsername sends a flow that has no username yet to the username page.
func (h *Handler) withUsername(w http.ResponseWriter, r *http.Request, f *flow.Flow) bool {
	if f.Username == "" {
		http.Redirect(w, r, steps.PathUsername+"?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
		return false
	}
	return true
}

func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadAt(w, r, flow.StepAuthenticate)
	if ok && h.withUsername(w, r, f) {
		h.pages.Render(w, http.StatusOK, "password", h.Page(w, f, "Enter password"))
	}
}

// passwordTry is one POSTed password.
type passwordTry struct {
	f   *flow.Flow
	try lockout.Attempt
	ip  string
}

func (h *Handler) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadFormAt(w, r, flow.StepAuthenticate)
	if !ok || !h.withUsername(w, r, f) {
		return
	}
	pt := &passwordTry{f: f, ip: httpx.ClientIP(r)}
	pt.try = h.Attempt(w, r, h.Lockout, f.Username)
	if h.refusedBeforeChecking(w, r, pt) {
		return
	}
	u, err := h.Users.Authenticate(r.Context(), f.Username, r.PostFormValue("password"))
	switch {
	case errors.Is(err, identity.ErrInvalidCredentials):
		h.wrongPassword(w, r, pt, u, err)
	case err != nil:
		h.Unavailable(w, r, "We couldn't check your password. Try again in a moment.", err)
	default:
		h.passwordProved(w, r, pt, u)
	}
}

func (h *Handler) retryPassword(w http.ResponseWriter, f *flow.Flow, status int, msg string) {
	p := h.Page(w, f, "Enter password")
	p.Error = msg
	h.pages.Render(w, status, "password", p)
}

// refusedBeforeChecking answers a password that is not even checked: too
// many failures from the address, or the account locked for this source.
// Locks are kept by username, so an unknown name locks like a real one and
// the lock message tells nothing about who exists.
func (h *Handler) refusedBeforeChecking(w http.ResponseWriter, r *http.Request, pt *passwordTry) bool {
	ctx := r.Context()
	reason, msg := "", ""
	if blocked, err := h.Lockout.AddressBlocked(ctx, pt.try); err == nil && blocked {
		reason, msg = "too many failures from this address", msgAddressBlocked
	} else if until, err := h.Lockout.SignInLocked(ctx, pt.f.Username, pt.try.Source); err == nil && !until.IsZero() {
		reason, msg = "account locked", lockout.MsgSignInLocked
	}
	if msg == "" {
		return false
	}
	h.Audit.Record(ctx, audit.Event{Type: "signin.failure", Outcome: "failure", ClientID: pt.f.ClientID, IP: pt.ip, UserAgent: r.UserAgent(),
		Details: map[string]string{"username": pt.f.Username, "reason": reason}})
	h.retryPassword(w, pt.f, http.StatusTooManyRequests, msg)
	return true
}

// wrongPassword counts and audits a failed password, locking the account
// for this source once it has failed too often.
func (h *Handler) wrongPassword(w http.ResponseWriter, r *http.Request, pt *passwordTry, u *identity.User, cause error) {
	ctx, f := r.Context(), pt.f
	if err := h.Lockout.AddressFailed(ctx, pt.try); err != nil {
		h.Logger.Warn("counting a failed password", "err", err)
	}
	h.Metrics.SignIns.WithLabelValues("failure").Inc()
	var subject string
	if u != nil {
		subject = u.ID
	}
	h.Audit.Record(ctx, audit.Event{Type: "signin.failure", Outcome: "failure", SubjectID: subject, ClientID: f.ClientID, IP: pt.ip, UserAgent: r.UserAgent(),
		Details: map[string]string{"username": f.Username, "reason": cause.Error()}})
	if until, err := h.Lockout.SignInFailed(ctx, f.Username, pt.try.Source); err == nil && !until.IsZero() {
		h.Audit.Record(ctx, audit.Event{Type: "signin.locked", Outcome: "failure", SubjectID: subject, IP: pt.ip,
			Details: map[string]string{"username": f.Username, "until": until.UTC().Format(time.RFC3339)}})
		h.retryPassword(w, f, http.StatusTooManyRequests, lockout.MsgSignInLocked)
		return
	}
	h.retryPassword(w, f, http.StatusUnauthorized, msgBadCredentials)
}

// passwordProved records the password on the flow, lets the policy decide
// what the sign-in still needs, and goes on to it.
func (h *Handler) passwordProved(w http.ResponseWriter, r *http.Request, pt *passwordTry, u *identity.User) {
	ctx, f := r.Context(), pt.f
	if err := h.Lockout.SignInSucceeded(ctx, f.Username, pt.try.Source); err != nil {
		h.Logger.Warn("clearing sign-in failures", "err", err)
	}
	if err := h.Lockout.SignedIn(ctx, f.Username, h.Device(w, r)); err != nil {
		h.Logger.Warn("remembering the device", "err", err)
	}
	now := time.Now().UTC()
	f.UserID, f.Username, f.AuthTime, f.PasswordAt = u.ID, u.Username, now, now
	f.AMR, f.ACR = []string{assurance.AMRPassword}, assurance.Password
	f.MustChangePassword = u.MustChangePassword
	if err := h.PlanEnrollment(ctx, f, u); err != nil {
		h.Unavailable(w, r, "We couldn't load your security info. Try again in a moment.", err)
		return
	}
	if f.HasMethods && f.Enroll == nil && h.Policy.For(ctx, u).RememberDeviceDays > 0 && h.Devices.Remembered(r, u) {
		f.ACR, f.AMR = assurance.MFA, []string{assurance.AMRPassword, assurance.AMRMFA}
	}
	h.Metrics.SignIns.WithLabelValues("success").Inc()
	h.Audit.Record(ctx, audit.Event{Type: "signin.success", SubjectID: u.ID, ActorID: u.ID, ClientID: f.ClientID, IP: pt.ip, UserAgent: r.UserAgent(),
		Details: map[string]string{"amr": "pwd"}})
	h.SaveAndAdvance(w, r, f)
}

type changePasswordPage struct {
	steps.Page
	PasswordRule string // what a new password must be, in words
}

func (h *Handler) renderChangePassword(w http.ResponseWriter, f *flow.Flow, status int, msg string) {
	p := changePasswordPage{Page: h.Page(w, f, "Update your password"), PasswordRule: identity.PasswordRule(h.MinPasswordLength)}
	p.Error = msg
	h.pages.Render(w, status, "change_password", p)
}

func (h *Handler) changePasswordPage(w http.ResponseWriter, r *http.Request) {
	if f, ok := h.LoadAt(w, r, flow.StepChangePassword); ok {
		h.renderChangePassword(w, f, http.StatusOK, "")
	}
}

func (h *Handler) changePasswordSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadFormAt(w, r, flow.StepChangePassword)
	if !ok {
		return
	}
	// A sign-in begun before the Help Desk reset the password again must
	// not overwrite the new temporary one.
	if _, ok := h.User(w, r, f); !ok {
		return
	}
	problem, err := wording.SetNewPassword(r, h.Users, f.UserID)
	switch {
	case err != nil:
		h.Busy(w, r, "Password not changed", "We couldn't set your new password. Try again in a moment.", err)
		return
	case problem != "":
		h.renderChangePassword(w, f, http.StatusUnprocessableEntity, problem)
		return
	}
	h.Audit.Record(r.Context(), audit.Event{Type: "user.password_changed", SubjectID: f.UserID, ActorID: f.UserID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"reason": "required at sign-in"}})
	f.MustChangePassword = false
	h.SaveAndAdvance(w, r, f)
}
