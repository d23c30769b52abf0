// Package steps carries a sign-in from one page to the next. The flow
// (internal/flow) decides which step comes next; the runner loads and saves
// it, sends the browser to that step's page, and at the end starts the
// session and hands the application its code. Every sign-in page package
// (signin, enroll, challenge, consent) and My Account stand on it.
package steps

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/websession"
	"github.com/gatehouse/gatehouse/internal/web/wording"
)

// The pages of the sign-in steps.
const (
	PathUsername       = "/login/username"
	PathPassword       = "/login/password"
	PathChangePassword = "/login/change-password"
	PathEnroll         = "/login/enroll"
	PathMFA            = "/login/mfa"
	PathConsent        = "/login/consent"
)

var stepPaths = map[flow.Step]string{
	flow.StepAuthenticate:   PathUsername,
	flow.StepChangePassword: PathChangePassword,
	flow.StepEnroll:         PathEnroll,
	flow.StepMFA:            PathMFA,
	flow.StepConsent:        PathConsent,
}

// Users loads the person a flow signs in.
type Users interface {
	Get(ctx context.Context, id string) (*identity.User, error)
}

// Clients looks applications up.
type Clients interface {
	GetClient(ctx context.Context, id string) (*clients.Client, error)
}

// MFA is what deciding a sign-in's requirements reads and records.
type MFA interface {
	Methods(ctx context.Context, userID string) ([]mfa.Method, error)
	State(ctx context.Context, userID string) (*mfa.State, error)
	SaveState(ctx context.Context, st *mfa.State) error
	AccessCodePending(ctx context.Context, userID string) (bool, error)
	RecoveryCodes(ctx context.Context, userID string) (mfa.RecoveryStatus, error)
}

// Deps are what the runner needs.
type Deps struct {
	Issuer   string
	Provider fosite.OAuth2Provider
	Flows    *flow.Store
	Sessions *websession.Sessions
	Users    Users
	Clients  Clients
	Policy   policy.Resolver
	MFA      MFA
	Audit    *audit.Recorder
}

// Runner moves flows between the sign-in pages.
type Runner struct {
	*httpx.Base
	Deps
}

// New returns the runner over base.
func New(base *httpx.Base, d Deps) *Runner { return &Runner{Base: base, Deps: d} }

// Page is the part of a view model every sign-in step page shares.
type Page struct {
	httpx.Layout
	FlowID, ClientName, Username string
}

// Page is the view of step f's page under title. Its forms may end at the
// application, so the content security policy lets them.
func (s *Runner) Page(w http.ResponseWriter, f *flow.Flow, title string) Page {
	p := Page{Layout: s.Layout(title), FlowID: f.ID, ClientName: f.ClientName, Username: f.Username}
	p.CSRF = s.CSRF.Token(f.Browser)
	httpx.AllowFormTarget(w, f.RedirectURI)
	return p
}

// Unavailable answers a sign-in step storage could not serve.
func (s *Runner) Unavailable(w http.ResponseWriter, r *http.Request, msg string, err error) {
	s.Busy(w, r, "Sign-in unavailable", msg, err)
}

func (s *Runner) expired(w http.ResponseWriter, r *http.Request) {
	s.Fail(w, r, http.StatusBadRequest, "Sign-in expired", flow.ErrNotFound.Error(), nil)
}

// Load reads the flow named in the URL; a missing or foreign flow gets the
// "expired" page.
func (s *Runner) Load(w http.ResponseWriter, r *http.Request) (*flow.Flow, bool) {
	f, err := s.Flows.Load(r.Context(), r.URL.Query().Get("flow"), s.CSRF.BrowserID(w, r))
	switch {
	case errors.Is(err, flow.ErrNotFound):
		s.expired(w, r)
	case err != nil:
		s.Unavailable(w, r, "We couldn't continue your sign-in. Try again in a moment.", err)
	}
	return f, err == nil
}

// LoadForm checks the CSRF token and loads the flow of a POSTed step.
func (s *Runner) LoadForm(w http.ResponseWriter, r *http.Request) (*flow.Flow, bool) {
	if !s.CSRF.Valid(r) {
		s.FormExpired(w, r, "Sign-in expired", "This page was open too long or came from somewhere else. Go back to the application and sign in again.")
		return nil, false
	}
	return s.Load(w, r)
}

// LoadAt loads the flow and checks it is at step: a bookmarked or replayed
// step URL is sent to the right one.
func (s *Runner) LoadAt(w http.ResponseWriter, r *http.Request, step flow.Step) (*flow.Flow, bool) {
	f, ok := s.Load(w, r)
	return f, ok && s.at(w, r, f, step)
}

// LoadFormAt is LoadAt for a POSTed step.
func (s *Runner) LoadFormAt(w http.ResponseWriter, r *http.Request, step flow.Step) (*flow.Flow, bool) {
	f, ok := s.LoadForm(w, r)
	return f, ok && s.at(w, r, f, step)
}

func (s *Runner) at(w http.ResponseWriter, r *http.Request, f *flow.Flow, step flow.Step) bool {
	if f.Next() != step {
		s.Advance(w, r, f)
		return false
	}
	return true
}

// Save stores the flow; a flow past its lifetime gets the "expired" page,
// one Redis would not store the "try again" page.
func (s *Runner) Save(w http.ResponseWriter, r *http.Request, f *flow.Flow) bool {
	err := s.Flows.Save(r.Context(), f)
	switch {
	case errors.Is(err, flow.ErrNotFound):
		s.expired(w, r)
	case err != nil:
		s.Unavailable(w, r, "We couldn't save your sign-in. Try again in a moment.", err)
	}
	return err == nil
}

// SaveAndAdvance stores the flow, unless it is complete, and goes on.
func (s *Runner) SaveAndAdvance(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	if f.Next() != flow.StepIssue && !s.Save(w, r, f) {
		return
	}
	s.Advance(w, r, f)
}

// SaveAndRedirect stores the flow and shows its current step again.
func (s *Runner) SaveAndRedirect(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	if s.Save(w, r, f) {
		s.Redirect(w, r, f)
	}
}

// Advance sends the browser to the flow's next step, or finishes it.
func (s *Runner) Advance(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	switch f.Next() {
	case flow.StepIssue:
		s.finish(w, r, f)
	case flow.StepRefuse:
		s.Deny(w, r, f, ErrNoMethods)
	default:
		s.Redirect(w, r, f)
	}
}

// Redirect sends the browser to the page of the flow's next step.
func (s *Runner) Redirect(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	http.Redirect(w, r, stepPaths[f.Next()]+"?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
}

// RedirectToPassword sends the browser to the password page of a flow
// whose username is known.
func (s *Runner) RedirectToPassword(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	http.Redirect(w, r, PathPassword+"?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
}

// User loads the person a flow signs in. A flow begun (or whose password
// was typed) before the person was signed out everywhere (a password or
// method reset) is over, like their sessions; so is one for an account
// disabled or deleted since.
func (s *Runner) User(w http.ResponseWriter, r *http.Request, f *flow.Flow) (*identity.User, bool) {
	u, err := s.Users.Get(r.Context(), f.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Unavailable(w, r, "We couldn't load your account. Try again in a moment.", err)
		return nil, false
	}
	if err != nil || !u.SessionValid(f.ValidFrom()) {
		s.Flows.Delete(r.Context(), f.ID)
		s.expired(w, r)
		return nil, false
	}
	return u, true
}

// StartLocal runs the sign-in steps for a Gatehouse page of its own (My
// Account), which f.ReturnTo names.
func (s *Runner) StartLocal(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	f.Browser, f.ClientName, f.CreatedAt = s.CSRF.BrowserID(w, r), "My Account", time.Now().UTC()
	if err := s.Flows.Create(r.Context(), f); err != nil {
		s.Unavailable(w, r, "We couldn't start your sign-in. Try again in a moment.", err)
		return
	}
	if f.Username != "" && f.UserID == "" {
		s.RedirectToPassword(w, r, f)
		return
	}
	s.Advance(w, r, f)
}

// NeedsMFA reports whether the person's policy requires a second factor
// session bs has not proved (see flow.Proof.NeedsMFA).
func (s *Runner) NeedsMFA(ctx context.Context, bs *websession.Session, u *identity.User) (bool, error) {
	policyMFA := s.Policy.For(ctx, u).RequireMFA
	// The methods are looked up only when the answer turns on them, so a
	// session that meets the policy anyway costs every request no query
	// and no outage of the methods store.
	if !bs.Deferred || !bs.Proof.NeedsMFA(policyMFA, true) {
		return bs.Proof.NeedsMFA(policyMFA, false), nil
	}
	methods, err := s.MFA.Methods(ctx, u.ID)
	if err != nil {
		return false, err
	}
	return bs.Proof.NeedsMFA(policyMFA, len(methods) > 0), nil
}

// PlanEnrollment decides, once the password is proved, what the policy
// asks of this sign-in: whether the person must register methods, and
// whether a Help Desk access code must come first.
func (s *Runner) PlanEnrollment(ctx context.Context, f *flow.Flow, u *identity.User) error {
	pol := s.Policy.For(ctx, u)
	methods, err := s.MFA.Methods(ctx, u.ID)
	if err != nil {
		return err
	}
	f.HasMethods = len(methods) > 0
	if !f.HasMethods {
		// Recovery codes are no method to register (pol.Missing does not
		// count them), but someone whose only way left is a code still
		// passes the challenge with it before registering again.
		codes, err := s.MFA.RecoveryCodes(ctx, u.ID)
		if err != nil {
			return err
		}
		f.HasMethods = codes.Left > 0
	}
	f.PolicyMFA = pol.RequireMFA
	missing := pol.Missing(methods)
	if len(missing) == 0 {
		return nil
	}
	if err := s.firstPrompt(ctx, u.ID); err != nil {
		return err
	}
	if len(methods) == 0 {
		if f.AccessCode, err = s.MFA.AccessCodePending(ctx, u.ID); err != nil {
			return err
		}
	}
	plan := make([]string, len(missing))
	for i, k := range missing {
		plan[i] = string(k)
	}
	f.Enroll = &flow.Enrollment{Stage: flow.StageIntro, Plan: plan, Existing: len(methods)}
	return nil
}

// firstPrompt records when registration was first asked of the person:
// the grace for putting it off runs from then.
func (s *Runner) firstPrompt(ctx context.Context, userID string) error {
	st, err := s.MFA.State(ctx, userID)
	if err != nil || st.FirstPromptedAt != nil {
		return err
	}
	now := time.Now().UTC()
	st.FirstPromptedAt = &now
	return s.MFA.SaveState(ctx, st)
}

// CodeRefused audits a wrong or refused code typed at stage ("enroll",
// "challenge") of flow f and returns what to tell the person. An error that
// is no refusal (storage did not answer) gets the 503 page here, and false.
func (s *Runner) CodeRefused(w http.ResponseWriter, r *http.Request, f *flow.Flow, err error, stage string, factor mfa.Factor) (string, bool) {
	msg, ok := wording.CheckFailure(err)
	if !ok {
		s.Unavailable(w, r, "We couldn't check the code. Try again in a moment.", err)
		return "", false
	}
	s.Audit.Record(r.Context(), audit.Event{Type: "mfa." + stage + "_failed", Outcome: "failure", SubjectID: f.UserID,
		ClientID: f.ClientID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"factor": string(factor), "reason": msg}})
	return msg, true
}
