package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// My Account: profile and Security info, behind Gatehouse's own sign-in.

type methodView struct {
	ID, Type, Detail, Added string
	IsDefault               bool
}

type accountView struct {
	Name, Username, Email string
	Methods               []methodView
	Questions             int // registered security questions
	AddKinds              []choice
	Adding                bool // "+ Add method" chosen: show the chooser
}

const noticeAdded = "A security method was added to your account. If this wasn't you, contact the Help Desk."
const noticeRemoved = "A security method was removed from your account. If this wasn't you, contact the Help Desk."
const noticePassword = "The password for your account was changed. If this wasn't you, contact the Help Desk."

// accountUser returns the signed-in person, or starts a sign-in that comes
// back to returnTo. The session must meet what the person's policy asks of
// a sign-in now: a second factor where the policy requires one (unless
// registration was put off within its grace), and no password change
// pending.
func (h *Handler) accountUser(w http.ResponseWriter, r *http.Request, returnTo string) (*browserSession, *identity.User, bool) {
	bs, u, err := h.signedIn(w, r)
	var needsMFA bool
	if err == nil && bs != nil {
		needsMFA, err = h.needsMFA(r.Context(), bs, u)
	}
	switch {
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, "My Account unavailable", "We couldn't check your sign-in. Try again in a moment.", err)
		return nil, nil, false
	case bs == nil || u.MustChangePassword:
		h.startLocalFlow(w, r, &flow.Flow{ReturnTo: returnTo})
		return nil, nil, false
	case needsMFA:
		h.startLocalFlow(w, r, stepUp(returnTo, bs, u))
		return nil, nil, false
	}
	return bs, u, true
}

// stepUp is the sign-in that brings session bs up to MFA: the challenge,
// or with nothing registered to challenge, the password again and then
// registration.
func stepUp(returnTo string, bs *browserSession, u *identity.User) *flow.Flow {
	if !bs.HasMethods {
		return &flow.Flow{ReturnTo: returnTo, Username: u.Username}
	}
	return &flow.Flow{
		ReturnTo: returnTo, UserID: u.ID, Username: u.Username, AuthTime: bs.AuthTime, AMR: bs.AMR,
		ACR: bs.ACR, RequiredACR: assurance.MFA, HasMethods: true, PolicyMFA: true,
	}
}

// needsMFA reports whether the person's policy requires a second factor the
// session has not proved. Registration put off within the grace waives it
// only while the person has nothing registered: once they have a method
// (registered elsewhere, perhaps by the real owner), it must be proved.
func (h *Handler) needsMFA(ctx context.Context, bs *browserSession, u *identity.User) (bool, error) {
	if assurance.Rank(bs.ACR) >= assurance.Rank(assurance.MFA) || !h.policy.For(ctx, u).RequireMFA {
		return false, nil
	}
	if !bs.Deferred {
		return true, nil
	}
	methods, err := h.mfa.Methods(ctx, u.ID)
	return len(methods) > 0, err
}

// startLocalFlow runs the sign-in steps for a Gatehouse page of its own.
func (h *Handler) startLocalFlow(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	f.Browser, f.ClientName, f.CreatedAt = h.csrf.browserID(w, r), "My Account", time.Now().UTC()
	if err := h.flows.Create(r.Context(), f); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't start your sign-in. Try again in a moment.", err)
		return
	}
	if f.Username != "" && f.UserID == "" {
		h.redirectToPassword(w, r, f)
		return
	}
	h.advance(w, r, f)
}

// requireFresh lets a change to security info through only after a recent
// proof: a second factor for people who have one, the password otherwise.
// Without it the person is challenged first and comes back to returnTo.
func (h *Handler) requireFresh(w http.ResponseWriter, r *http.Request, bs *browserSession, u *identity.User, returnTo string) bool {
	methods, err := h.mfa.Methods(r.Context(), u.ID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Security info unavailable", "We couldn't load your security info. Try again in a moment.", err)
		return false
	}
	fresh := time.Now().Add(-h.opt.SecurityInfoFreshness)
	if len(methods) == 0 {
		// After the Help Desk reset someone's methods, their password alone
		// must not register new ones: the access code comes first, here as
		// in the sign-in.
		pending, err := h.mfa.AccessCodePending(r.Context(), u.ID)
		if err != nil {
			h.fail(w, r, http.StatusServiceUnavailable, "Security info unavailable", "We couldn't load your security info. Try again in a moment.", err)
			return false
		}
		if pending {
			h.startLocalFlow(w, r, &flow.Flow{ReturnTo: returnTo, UserID: u.ID, Username: u.Username, AuthTime: bs.AuthTime,
				AMR: []string{assurance.AMRPassword}, ACR: assurance.Password, AccessCode: true, PolicyMFA: bs.PolicyMFA})
			return false
		}
		if bs.AuthTime.After(fresh) {
			return true
		}
		h.startLocalFlow(w, r, &flow.Flow{ReturnTo: returnTo, Username: u.Username})
		return false
	}
	if bs.MFAAt.After(fresh) {
		return true
	}
	h.startLocalFlow(w, r, &flow.Flow{
		ReturnTo: returnTo, UserID: u.ID, Username: u.Username, AuthTime: bs.AuthTime, AMR: bs.AMR,
		ACR: assurance.Password, RequiredACR: assurance.MFA, HasMethods: true, PolicyMFA: bs.PolicyMFA,
	})
	return false
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.accountUser(w, r, "/account")
	if !ok {
		return
	}
	h.renderAccount(w, r, u, http.StatusOK, "", r.URL.Query().Get("notice"), false)
}

var accountNotices = map[string]string{
	"added":    "Your security info was updated.",
	"password": "Your password was changed. You were signed out everywhere else.",
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, u *identity.User, status int, errMsg, notice string, adding bool) {
	ctx := r.Context()
	methods, err := h.mfa.Methods(ctx, u.ID)
	var questions int
	if err == nil {
		questions, err = h.questionCount(ctx, u.ID)
	}
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Security info unavailable", "We couldn't load your security info. Try again in a moment.", err)
		return
	}
	v := &accountView{Name: u.DisplayName, Username: u.Username, Email: u.Email, Questions: questions, Adding: adding}
	for _, m := range methods {
		v.Methods = append(v.Methods, methodView{ID: m.ID, Type: methodLabel(m.Kind), Detail: detail(m),
			Added: m.CreatedAt.Format("January 2, 2006"), IsDefault: m.IsDefault})
	}
	pol := h.policy.For(ctx, u)
	for _, k := range append(pol.AllowedKinds(), mfa.AltPhone) {
		if k == mfa.App || !registered(methods, k) {
			v.AddKinds = append(v.AddKinds, choice{Value: string(k), Label: methodLabel(k)})
		}
	}
	if h.questions != nil && pol.SSPR.Enabled && questions == 0 {
		v.AddKinds = append(v.AddKinds, choice{Value: "questions", Label: "Security questions"})
	}
	p := h.page("My Account")
	// Only the fixed notices: text from the URL is never shown as Gatehouse's.
	p.CSRF, p.Error, p.Notice, p.Account = h.csrf.token(h.csrf.browserID(w, r)), errMsg, accountNotices[notice], v
	h.pages.render(w, status, "account", p)
}

// detail is what identifies a method beside its type: the masked number
// or address (an app has nothing more to show).
func detail(m mfa.Method) string {
	switch {
	case m.Kind.IsPhone():
		return mfa.MaskPhone(m.Phone)
	case m.Kind == mfa.Email:
		return mfa.MaskEmail(m.Email)
	}
	return ""
}

// accountForm checks CSRF and a fresh proof for a POSTed change.
func (h *Handler) accountForm(w http.ResponseWriter, r *http.Request) (*browserSession, *identity.User, bool) {
	if !h.csrf.valid(r) {
		h.fail(w, r, http.StatusForbidden, "Page expired", "This page was open too long or came from somewhere else. Open My Account and try again.", nil)
		return nil, nil, false
	}
	bs, u, ok := h.accountUser(w, r, "/account")
	if !ok || !h.requireFresh(w, r, bs, u, "/account") {
		return nil, nil, false
	}
	return bs, u, true
}

func (h *Handler) accountDefault(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.accountForm(w, r)
	if !ok {
		return
	}
	if err := h.mfa.SetDefault(r.Context(), u.ID, r.PostFormValue("method")); err != nil {
		h.methodChangeFailed(w, r, u, err)
		return
	}
	h.audit.Record(r.Context(), audit.Event{Type: "mfa.default_changed", ActorID: u.ID, SubjectID: u.ID, IP: clientIP(r),
		Details: map[string]string{"method_id": r.PostFormValue("method")}})
	http.Redirect(w, r, "/account?notice=added", http.StatusSeeOther)
}

func (h *Handler) accountDelete(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.accountForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	methods, err := h.mfa.Methods(ctx, u.ID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Security info unavailable", "We couldn't load your security info. Try again in a moment.", err)
		return
	}
	id := r.PostFormValue("method")
	if id == "questions" {
		if err := h.questions.Remove(ctx, u.ID); err != nil {
			h.fail(w, r, http.StatusServiceUnavailable, "Security info unavailable", "We couldn't update your security info. Try again in a moment.", err)
			return
		}
		h.audit.Record(ctx, audit.Event{Type: "questions.removed", ActorID: u.ID, SubjectID: u.ID, IP: clientIP(r)})
		h.mfa.Notify(ctx, u.ID, u.Email, methods, "", noticeRemoved)
		http.Redirect(w, r, "/account?notice=added", http.StatusSeeOther)
		return
	}
	var removed *mfa.Method
	for i := range methods {
		if methods[i].ID == id {
			removed = &methods[i]
		}
	}
	if removed == nil {
		h.renderAccount(w, r, u, http.StatusUnprocessableEntity, "Choose one of your registered methods.", "", false)
		return
	}
	if len(methods) == 1 && h.policy.For(ctx, u).RequireMFA {
		h.renderAccount(w, r, u, http.StatusUnprocessableEntity, "You can't delete your only sign-in method. Add another method first.", "", false)
		return
	}
	if err := h.mfa.Delete(ctx, u.ID, id, u.ID, clientIP(r)); err != nil {
		h.methodChangeFailed(w, r, u, err)
		return
	}
	// Told on every channel, the removed one included: it may be the
	// person's only way to hear that someone else removed it.
	h.mfa.Notify(ctx, u.ID, u.Email, methods, "", noticeRemoved)
	http.Redirect(w, r, "/account?notice=added", http.StatusSeeOther)
}

// methodChangeFailed answers a change to a method that did not happen:
// the method is not one of the person's, or storage did not answer.
func (h *Handler) methodChangeFailed(w http.ResponseWriter, r *http.Request, u *identity.User, err error) {
	if errors.Is(err, store.ErrNotFound) {
		h.renderAccount(w, r, u, http.StatusUnprocessableEntity, "Choose one of your registered methods.", "", false)
		return
	}
	h.fail(w, r, http.StatusServiceUnavailable, "Security info unavailable", "We couldn't update your security info. Try again in a moment.", err)
}

func (h *Handler) accountAddPage(w http.ResponseWriter, r *http.Request) {
	bs, u, ok := h.accountUser(w, r, "/account/add")
	if !ok || !h.requireFresh(w, r, bs, u, "/account/add") {
		return
	}
	h.renderAccount(w, r, u, http.StatusOK, "", "", true)
}

// accountAdd starts adding a method: security questions have a page of
// their own; other methods go through the registration steps.
func (h *Handler) accountAdd(w http.ResponseWriter, r *http.Request) {
	bs, u, ok := h.accountForm(w, r)
	if !ok {
		return
	}
	kind := r.PostFormValue("kind")
	if kind == "questions" && h.questions != nil {
		http.Redirect(w, r, "/account/questions", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	methods, err := h.mfa.Methods(ctx, u.ID)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Security info unavailable", "We couldn't load your security info. Try again in a moment.", err)
		return
	}
	k := mfa.Kind(kind)
	allowed := k == mfa.AltPhone
	for _, a := range h.policy.For(ctx, u).AllowedKinds() {
		allowed = allowed || a == k
	}
	if !allowed || (k != mfa.App && registered(methods, k)) {
		h.renderAccount(w, r, u, http.StatusUnprocessableEntity, "Choose one of the methods listed.", "", true)
		return
	}
	h.startLocalFlow(w, r, &flow.Flow{
		ReturnTo: "/account?notice=added", UserID: u.ID, Username: u.Username, AuthTime: bs.AuthTime, AMR: bs.AMR, ACR: bs.ACR,
		MFAAt: bs.MFAAt, HasMethods: len(methods) > 0, PolicyMFA: bs.PolicyMFA,
		Enroll: &flow.Enrollment{Stage: stageSetup, Plan: []string{kind}, Existing: len(methods), Adding: true},
	})
}

func (h *Handler) passwordChangePage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.accountUser(w, r, "/account/password"); !ok {
		return
	}
	p := h.page("Change password")
	p.CSRF = h.csrf.token(h.csrf.browserID(w, r))
	h.pages.render(w, http.StatusOK, "account_password", p)
}

// passwordChange changes the password and signs out every other session
// and app grant of the person.
func (h *Handler) passwordChange(w http.ResponseWriter, r *http.Request) {
	if !h.csrf.valid(r) {
		h.fail(w, r, http.StatusForbidden, "Page expired", "This page was open too long or came from somewhere else. Open My Account and try again.", nil)
		return
	}
	bs, u, ok := h.accountUser(w, r, "/account/password")
	if !ok {
		return
	}
	ctx := r.Context()
	retry := func(msg string) {
		p := h.page("Change password")
		p.CSRF, p.Error = h.csrf.token(h.csrf.browserID(w, r)), msg
		h.pages.render(w, http.StatusUnprocessableEntity, "account_password", p)
	}
	if r.PostFormValue("new_password") != r.PostFormValue("confirm_password") {
		retry("The new passwords don't match.")
		return
	}
	err := h.users.ChangePassword(ctx, u.ID, r.PostFormValue("current_password"), r.PostFormValue("new_password"))
	var pe *identity.PolicyError
	switch {
	case errors.Is(err, identity.ErrInvalidCredentials):
		h.audit.Record(ctx, audit.Event{Type: "user.password_change_failed", Outcome: "failure", ActorID: u.ID, SubjectID: u.ID, IP: clientIP(r)})
		retry("Your current password is incorrect.")
		return
	case errors.As(err, &pe):
		retry("Choose a different password: " + pe.Msg + ".")
		return
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, "Password not changed", "We couldn't change your password. Try again in a moment.", err)
		return
	}
	if err := h.signOutEverywhere(ctx, u.ID); err != nil {
		h.logger.Error("signing out other sessions", "err", err)
	}
	// This browser stays signed in, under a session begun after the stamp
	// that ended all the others.
	if err := h.sessions.start(w, r, *bs); err != nil {
		h.logger.Error("keeping this browser signed in", "err", err)
	}
	h.audit.Record(ctx, audit.Event{Type: "user.password_changed", ActorID: u.ID, SubjectID: u.ID, IP: clientIP(r), UserAgent: r.UserAgent()})
	if methods, err := h.mfa.Methods(ctx, u.ID); err == nil {
		h.mfa.Notify(ctx, u.ID, u.Email, methods, "", noticePassword)
	}
	http.Redirect(w, r, "/account?notice=password", http.StatusSeeOther)
}

// signOutEverywhere ends every browser and console session and access
// token of a person (the stamp every replica checks), frees their session
// keys and revokes every refresh token apps hold for them.
func (h *Handler) signOutEverywhere(ctx context.Context, userID string) error {
	if err := h.users.EndSessions(ctx, userID); err != nil {
		return err
	}
	if err := h.sessions.endAll(ctx, userID); err != nil {
		return err
	}
	return h.grants.RevokeSubject(ctx, userID)
}
