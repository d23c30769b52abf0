// Package account is My Account: the profile, Security info (the methods,
// the default, adding and deleting), security questions and the password
// change, behind Gatehouse's own sign-in and a fresh proof for changes.
package account

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/websession"
	"github.com/gatehouse/gatehouse/internal/web/wording"
)

// Users changes a person's password.
type Users interface {
	ChangePassword(ctx context.Context, id, current, password string) error
}

// MFA is what My Account needs of the methods service.
type MFA interface {
	Methods(ctx context.Context, userID string) ([]mfa.Method, error)
	AccessCodePending(ctx context.Context, userID string) (bool, error)
	SetDefault(ctx context.Context, userID, methodID string) error
	Delete(ctx context.Context, userID, methodID, actor, ip string) error
	Notify(ctx context.Context, userID, email string, methods []mfa.Method, skip, text string)
	RecoveryCodes(ctx context.Context, userID string) (mfa.RecoveryStatus, error)
	NewRecoveryCodes(ctx context.Context, userID, actor, ip string) ([]string, error)
}

// Questions keeps security questions; nil when the district has none.
type Questions interface {
	Catalog() questions.Catalog
	Register(ctx context.Context, userID, username string, choices []questions.Choice, required int) error
	Registered(ctx context.Context, userID string) ([]questions.Answer, error)
	Remove(ctx context.Context, userID string) error
}

// Deps are what My Account needs beyond the runner.
type Deps struct {
	Users     Users
	MFA       MFA
	Questions Questions
	// Freshness is how recent a proof must be to change security info.
	Freshness         time.Duration
	MinPasswordLength int
}

// Handler serves My Account.
type Handler struct {
	*steps.Runner
	Deps
	pages *httpx.Pages
}

// New parses the pages and returns the handler.
func New(run *steps.Runner, d Deps) (*Handler, error) {
	pages, err := httpx.ParsePages("account", "account_password", "questions", "recovery_codes")
	if err != nil {
		return nil, err
	}
	return &Handler{Runner: run, Deps: d, pages: pages}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /account", h.accountPage)
	mux.HandleFunc("POST /account/default", h.setDefault)
	mux.HandleFunc("POST /account/delete", h.delete)
	mux.HandleFunc("GET /account/add", h.addPage)
	mux.HandleFunc("POST /account/add", h.add)
	mux.HandleFunc("GET /account/password", h.passwordPage)
	mux.HandleFunc("POST /account/password", h.passwordChange)
	mux.HandleFunc("GET /account/questions", h.questionsPage)
	mux.HandleFunc("POST /account/questions", h.questionsSubmit)
	mux.HandleFunc("POST /account/recovery-codes", h.newRecoveryCodes)
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, msg string, err error) {
	h.Busy(w, r, "Security info unavailable", msg, err)
}

const msgNotLoaded = "We couldn't load your security info. Try again in a moment."

// signedIn returns the signed-in person, or starts a sign-in that comes
// back to returnTo. The session must meet what the person's policy asks of
// a sign-in now: a second factor where the policy requires one (unless
// registration was put off within its grace), and no password change
// pending.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, returnTo string) (*websession.Session, *identity.User, bool) {
	bs, u, err := h.Sessions.SignedIn(w, r)
	var needsMFA bool
	if err == nil && bs != nil {
		needsMFA, err = h.NeedsMFA(r.Context(), bs, u)
	}
	switch {
	case err != nil:
		h.Busy(w, r, "My Account unavailable", "We couldn't check your sign-in. Try again in a moment.", err)
		return nil, nil, false
	case bs == nil || u.MustChangePassword:
		h.StartLocal(w, r, flow.SignIn(returnTo, ""))
		return nil, nil, false
	case needsMFA:
		h.StartLocal(w, r, flow.StepUp(returnTo, u.Username, bs.Proof))
		return nil, nil, false
	}
	return bs, u, true
}

// fresh lets a change to security info through only after a recent proof
// (see flow.Recent). Without it the person proves it first and comes back
// to returnTo.
func (h *Handler) fresh(w http.ResponseWriter, r *http.Request, bs *websession.Session, u *identity.User, returnTo string) bool {
	ctx := r.Context()
	methods, err := h.MFA.Methods(ctx, u.ID)
	var pending bool
	if err == nil && len(methods) == 0 {
		pending, err = h.MFA.AccessCodePending(ctx, u.ID)
	}
	if err != nil {
		h.unavailable(w, r, msgNotLoaded, err)
		return false
	}
	f := flow.Recent(returnTo, u.Username, bs.Proof, len(methods) > 0, pending, time.Now().Add(-h.Freshness))
	if f != nil {
		h.StartLocal(w, r, f)
	}
	return f == nil
}

// form checks CSRF and a fresh proof for a POSTed change.
func (h *Handler) form(w http.ResponseWriter, r *http.Request) (*websession.Session, *identity.User, bool) {
	if !h.CSRF.Valid(r) {
		h.expired(w, r)
		return nil, nil, false
	}
	bs, u, ok := h.signedIn(w, r, "/account")
	if !ok || !h.fresh(w, r, bs, u, "/account") {
		return nil, nil, false
	}
	return bs, u, true
}

func (h *Handler) expired(w http.ResponseWriter, r *http.Request) {
	h.FormExpired(w, r, "Page expired", "This page was open too long or came from somewhere else. Open My Account and try again.")
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.signedIn(w, r, "/account")
	if ok {
		h.render(w, r, u, http.StatusOK, "", r.URL.Query().Get("notice"), false)
	}
}

var notices = map[string]string{
	"added":    "Your security info was updated.",
	"password": "Your password was changed. You were signed out everywhere else.",
	"codes":    "Your recovery codes were updated.",
}

type methodView struct {
	ID, Type, Detail, Added string
	IsDefault               bool
}

type accountView struct {
	Name, Username, Email string
	Methods               []methodView
	Questions             int // registered security questions
	AddKinds              []httpx.Choice
	Adding                bool // "+ Add method" chosen: show the chooser
	Recovery              *recoveryView
}

type accountPage struct {
	httpx.Layout
	Account *accountView
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, u *identity.User, status int, errMsg, notice string, adding bool) {
	ctx := r.Context()
	methods, err := h.MFA.Methods(ctx, u.ID)
	var registered int
	var codes mfa.RecoveryStatus
	if err == nil {
		registered, err = h.questionCount(ctx, u.ID)
	}
	if err == nil {
		codes, err = h.MFA.RecoveryCodes(ctx, u.ID)
	}
	if err != nil {
		h.unavailable(w, r, msgNotLoaded, err)
		return
	}
	v := &accountView{Name: u.DisplayName, Username: u.Username, Email: u.Email, Questions: registered, Adding: adding,
		Recovery: recoveryOf(codes, len(methods) > 0)}
	for _, m := range methods {
		v.Methods = append(v.Methods, methodView{ID: m.ID, Type: wording.Label(m.Kind), Detail: wording.Detail(m),
			Added: m.CreatedAt.Format("January 2, 2006"), IsDefault: m.IsDefault})
	}
	v.AddKinds = h.addable(ctx, u, methods, registered)
	p := accountPage{Layout: h.FormLayout(w, r, "My Account"), Account: v}
	// Only the fixed notices: text from the URL is never shown as Gatehouse's.
	p.Error, p.Notice = errMsg, notices[notice]
	h.pages.Render(w, status, "account", p)
}

// addable are the methods "+ Add method" offers: any kind the policy
// allows not yet registered (another app is always welcome), and security
// questions while none are registered.
func (h *Handler) addable(ctx context.Context, u *identity.User, methods []mfa.Method, questions int) []httpx.Choice {
	pol := h.Policy.For(ctx, u)
	var out []httpx.Choice
	for _, k := range append(pol.AllowedKinds(), mfa.AltPhone) {
		if k == mfa.App || !wording.Registered(methods, k) {
			out = append(out, httpx.Choice{Value: string(k), Label: wording.Label(k)})
		}
	}
	if h.Questions != nil && pol.SSPR.Enabled && questions == 0 {
		out = append(out, httpx.Choice{Value: "questions", Label: "Security questions"})
	}
	return out
}

func (h *Handler) setDefault(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.form(w, r)
	if !ok {
		return
	}
	if err := h.MFA.SetDefault(r.Context(), u.ID, r.PostFormValue("method")); err != nil {
		h.changeFailed(w, r, u, err)
		return
	}
	h.Audit.Record(r.Context(), audit.Event{Type: "mfa.default_changed", ActorID: u.ID, SubjectID: u.ID, IP: httpx.ClientIP(r),
		Details: map[string]string{"method_id": r.PostFormValue("method")}})
	http.Redirect(w, r, "/account?notice=added", http.StatusSeeOther)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.form(w, r)
	if !ok {
		return
	}
	methods, err := h.MFA.Methods(r.Context(), u.ID)
	if err != nil {
		h.unavailable(w, r, msgNotLoaded, err)
		return
	}
	if id := r.PostFormValue("method"); id == "questions" {
		h.deleteQuestions(w, r, u, methods)
	} else {
		h.deleteMethod(w, r, u, methods, id)
	}
}

func (h *Handler) deleteQuestions(w http.ResponseWriter, r *http.Request, u *identity.User, methods []mfa.Method) {
	ctx := r.Context()
	if h.Questions == nil {
		h.render(w, r, u, http.StatusUnprocessableEntity, "Choose one of your registered methods.", "", false)
		return
	}
	if err := h.Questions.Remove(ctx, u.ID); err != nil {
		h.unavailable(w, r, "We couldn't update your security info. Try again in a moment.", err)
		return
	}
	h.Audit.Record(ctx, audit.Event{Type: "questions.removed", ActorID: u.ID, SubjectID: u.ID, IP: httpx.ClientIP(r)})
	h.MFA.Notify(ctx, u.ID, u.Email, methods, "", wording.NoticeRemoved)
	http.Redirect(w, r, "/account?notice=added", http.StatusSeeOther)
}

func (h *Handler) deleteMethod(w http.ResponseWriter, r *http.Request, u *identity.User, methods []mfa.Method, id string) {
	ctx := r.Context()
	var found bool
	for _, m := range methods {
		found = found || m.ID == id
	}
	switch {
	case !found:
		h.render(w, r, u, http.StatusUnprocessableEntity, "Choose one of your registered methods.", "", false)
		return
	case len(methods) == 1 && h.Policy.For(ctx, u).RequireMFA:
		h.render(w, r, u, http.StatusUnprocessableEntity, "You can't delete your only sign-in method. Add another method first.", "", false)
		return
	}
	if err := h.MFA.Delete(ctx, u.ID, id, u.ID, httpx.ClientIP(r)); err != nil {
		h.changeFailed(w, r, u, err)
		return
	}
	// Told on every channel, the removed one included: it may be the
	// person's only way to hear that someone else removed it.
	h.MFA.Notify(ctx, u.ID, u.Email, methods, "", wording.NoticeRemoved)
	http.Redirect(w, r, "/account?notice=added", http.StatusSeeOther)
}

// changeFailed answers a change to a method that did not happen: the
// method is not one of the person's, or storage did not answer.
func (h *Handler) changeFailed(w http.ResponseWriter, r *http.Request, u *identity.User, err error) {
	if errors.Is(err, store.ErrNotFound) {
		h.render(w, r, u, http.StatusUnprocessableEntity, "Choose one of your registered methods.", "", false)
		return
	}
	h.unavailable(w, r, "We couldn't update your security info. Try again in a moment.", err)
}

func (h *Handler) addPage(w http.ResponseWriter, r *http.Request) {
	bs, u, ok := h.signedIn(w, r, "/account/add")
	if ok && h.fresh(w, r, bs, u, "/account/add") {
		h.render(w, r, u, http.StatusOK, "", "", true)
	}
}

// add starts adding a method: security questions have a page of their
// own; other methods go through the registration steps.
func (h *Handler) add(w http.ResponseWriter, r *http.Request) {
	bs, u, ok := h.form(w, r)
	if !ok {
		return
	}
	kind := r.PostFormValue("kind")
	if kind == "questions" && h.Questions != nil {
		http.Redirect(w, r, "/account/questions", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	methods, err := h.MFA.Methods(ctx, u.ID)
	if err != nil {
		h.unavailable(w, r, msgNotLoaded, err)
		return
	}
	k := mfa.Kind(kind)
	allowed := k == mfa.AltPhone
	for _, a := range h.Policy.For(ctx, u).AllowedKinds() {
		allowed = allowed || a == k
	}
	if !allowed || (k != mfa.App && wording.Registered(methods, k)) {
		h.render(w, r, u, http.StatusUnprocessableEntity, "Choose one of the methods listed.", "", true)
		return
	}
	h.StartLocal(w, r, flow.AddMethod("/account?notice=added", u.Username, bs.Proof, kind, len(methods)))
}

type passwordPage struct {
	httpx.Layout
	PasswordRule string // what a new password must be, in words
}

func (h *Handler) renderPassword(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := passwordPage{Layout: h.FormLayout(w, r, "Change password"), PasswordRule: identity.PasswordRule(h.MinPasswordLength)}
	p.Error = msg
	h.pages.Render(w, status, "account_password", p)
}

func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.signedIn(w, r, "/account/password"); ok {
		h.renderPassword(w, r, http.StatusOK, "")
	}
}

// passwordChange changes the password and signs out every other session
// and app grant of the person.
func (h *Handler) passwordChange(w http.ResponseWriter, r *http.Request) {
	if !h.CSRF.Valid(r) {
		h.expired(w, r)
		return
	}
	bs, u, ok := h.signedIn(w, r, "/account/password")
	if !ok {
		return
	}
	ctx := r.Context()
	if r.PostFormValue("new_password") != r.PostFormValue("confirm_password") {
		h.renderPassword(w, r, http.StatusUnprocessableEntity, "The new passwords don't match.")
		return
	}
	err := h.Users.ChangePassword(ctx, u.ID, r.PostFormValue("current_password"), r.PostFormValue("new_password"))
	if problem, ok := wording.PasswordProblem(err); ok {
		h.renderPassword(w, r, http.StatusUnprocessableEntity, problem)
		return
	}
	switch {
	case errors.Is(err, identity.ErrInvalidCredentials):
		h.Audit.Record(ctx, audit.Event{Type: "user.password_change_failed", Outcome: "failure", ActorID: u.ID, SubjectID: u.ID, IP: httpx.ClientIP(r)})
		h.renderPassword(w, r, http.StatusUnprocessableEntity, "Your current password is incorrect.")
		return
	case err != nil:
		h.Busy(w, r, "Password not changed", "We couldn't change your password. Try again in a moment.", err)
		return
	}
	h.passwordChanged(w, r, bs, u)
}

// passwordChanged signs the person out everywhere but here, and tells them.
func (h *Handler) passwordChanged(w http.ResponseWriter, r *http.Request, bs *websession.Session, u *identity.User) {
	ctx := r.Context()
	if err := h.Sessions.SignOutEverywhere(ctx, u.ID); err != nil {
		h.Logger.Error("signing out other sessions", "err", err)
	}
	// This browser stays signed in, under a session begun after the stamp
	// that ended all the others.
	if err := h.Sessions.Start(w, r, *bs); err != nil {
		h.Logger.Error("keeping this browser signed in", "err", err)
	}
	h.Audit.Record(ctx, audit.Event{Type: "user.password_changed", ActorID: u.ID, SubjectID: u.ID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent()})
	wording.Tell(ctx, h.MFA, h.Logger, u, "", wording.NoticePassword)
	http.Redirect(w, r, "/account?notice=password", http.StatusSeeOther)
}
