// Package challenge is the MFA challenge: a code from the person's default
// method, "Sign in another way", "Don't ask again", the Help Desk's access
// code, the person's own recovery codes, and the step-up an application
// or My Account asks for.
package challenge

import (
	"context"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/websession"
	"github.com/gatehouse/gatehouse/internal/web/wording"
)

// MFA is what the challenge needs of the methods service.
type MFA interface {
	Methods(ctx context.Context, userID string) ([]mfa.Method, error)
	SendCode(ctx context.Context, r mfa.CodeRequest, lim mfa.Limits) error
	CheckCode(ctx context.Context, scope, code, userID, ip string, lim mfa.Limits) error
	CheckTOTP(ctx context.Context, sealed []byte, code, userID, ip string, lim mfa.Limits) error
	CheckAccessCode(ctx context.Context, userID, code, ip string, lim mfa.Limits) error
	RecoveryCodes(ctx context.Context, userID string) (mfa.RecoveryStatus, error)
	UseRecoveryCode(ctx context.Context, userID, code, ip string, lim mfa.Limits) (int, error)
	Notify(ctx context.Context, userID, email string, methods []mfa.Method, skip, text string)
}

// Handler serves the challenge.
type Handler struct {
	*steps.Runner
	mfa     MFA
	devices *websession.Devices
	pages   *httpx.Pages
}

// New parses the page and returns the handler.
func New(run *steps.Runner, methods MFA, devices *websession.Devices) (*Handler, error) {
	pages, err := httpx.ParsePages("mfa")
	if err != nil {
		return nil, err
	}
	return &Handler{Runner: run, mfa: methods, devices: devices, pages: pages}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+steps.PathMFA, h.page)
	mux.HandleFunc("POST "+steps.PathMFA, h.submit)
}

// request is what every challenge request needs.
type request struct {
	f       *flow.Flow
	u       *identity.User
	pol     policy.Policy
	methods []mfa.Method
	// codesLeft are the person's unused recovery codes: a way through the
	// challenge even with every method lost.
	codesLeft int
}

// recoveryOption is "Use a recovery code" under "Sign in another way".
const recoveryOption = "recovery:" + string(mfa.FactorRecoveryCode)

func (h *Handler) load(w http.ResponseWriter, r *http.Request, f *flow.Flow) (*request, bool) {
	ctx := r.Context()
	u, ok := h.User(w, r, f)
	if !ok {
		return nil, false
	}
	q := &request{f: f, u: u, pol: h.Policy.For(ctx, u)}
	methods, err := h.mfa.Methods(ctx, u.ID)
	var codes mfa.RecoveryStatus
	if err == nil {
		codes, err = h.mfa.RecoveryCodes(ctx, u.ID)
	}
	if err != nil {
		h.Unavailable(w, r, "We couldn't load your security info. Try again in a moment.", err)
		return nil, false
	}
	q.methods, q.codesLeft = methods, codes.Left
	if len(q.methods) == 0 && !f.AccessCode && q.codesLeft == 0 {
		h.Deny(w, r, f, steps.ErrNoMethods)
		return nil, false
	}
	return q, true
}

// options are the ways this person can answer the challenge.
func (q *request) options() []httpx.Choice {
	var out []httpx.Choice
	for _, m := range q.methods {
		for _, f := range factorsOf(m) {
			if q.pol.Allows(f) {
				out = append(out, httpx.Choice{Value: m.ID + ":" + string(f), Label: optionLabel(m, f)})
			}
		}
	}
	if q.codesLeft > 0 {
		out = append(out, httpx.Choice{Value: recoveryOption, Label: "Use a recovery code"})
	}
	return out
}

func optionLabel(m mfa.Method, f mfa.Factor) string {
	switch f {
	case mfa.FactorApp:
		return "Use a verification code from my authenticator app"
	case mfa.FactorSMS:
		return "Text " + mfa.MaskPhone(m.Phone)
	case mfa.FactorVoice:
		return "Call " + mfa.MaskPhone(m.Phone)
	}
	return "Email a code to " + mfa.MaskEmail(m.Email)
}

// factorsOf are the ways a method can answer, the one it was registered
// with first.
func factorsOf(m mfa.Method) []mfa.Factor {
	switch {
	case m.Kind == mfa.App:
		return []mfa.Factor{mfa.FactorApp}
	case m.Kind.IsPhone() && m.Factor == mfa.FactorVoice:
		return []mfa.Factor{mfa.FactorVoice, mfa.FactorSMS}
	case m.Kind.IsPhone():
		return []mfa.Factor{mfa.FactorSMS, mfa.FactorVoice}
	}
	return []mfa.Factor{mfa.FactorEmail}
}

// method returns the challenge's method, choosing the default (or the first
// usable one) when none is chosen yet.
func (q *request) method() (*mfa.Method, mfa.Factor) {
	if q.f.AccessCode {
		if q.f.Challenge == nil {
			q.f.Challenge = &flow.Challenge{Factor: string(mfa.FactorAccessCode)}
		}
		return &mfa.Method{}, mfa.FactorAccessCode
	}
	if c := q.f.Challenge; c != nil && c.Factor == string(mfa.FactorRecoveryCode) && q.codesLeft > 0 {
		return &mfa.Method{}, mfa.FactorRecoveryCode
	}
	if c := q.f.Challenge; c != nil {
		for i := range q.methods {
			if q.methods[i].ID == c.MethodID {
				return &q.methods[i], mfa.Factor(c.Factor)
			}
		}
	}
	id, factor, ok := q.firstChoice()
	if !ok {
		return nil, ""
	}
	q.f.Challenge = &flow.Challenge{MethodID: id, Factor: factor}
	return q.method()
}

// firstChoice is the default method's first allowed way, or else the first
// option.
func (q *request) firstChoice() (methodID, factor string, ok bool) {
	for _, m := range q.methods {
		if !m.IsDefault {
			continue
		}
		for _, f := range factorsOf(m) {
			if q.pol.Allows(f) {
				return m.ID, string(f), true
			}
		}
	}
	opts := q.options()
	if len(opts) == 0 {
		return "", "", false
	}
	methodID, factor, _ = strings.Cut(opts[0].Value, ":")
	return methodID, factor, true
}

// sends reports whether a factor's code is sent to the person (rather
// than read from an app, the Help Desk or a sheet of recovery codes).
func sends(f mfa.Factor) bool {
	return f == mfa.FactorSMS || f == mfa.FactorVoice || f == mfa.FactorEmail
}

func destination(m *mfa.Method, f mfa.Factor) string {
	if f == mfa.FactorEmail {
		return m.Email
	}
	return m.Phone
}

func codeScope(f *flow.Flow, to string) string { return "mfa:" + f.ID + ":" + to }

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadAt(w, r, flow.StepMFA)
	if !ok {
		return
	}
	q, ok := h.load(w, r, f)
	if !ok {
		return
	}
	m, factor := q.method()
	if m == nil {
		h.Deny(w, r, f, steps.ErrNoMethods)
		return
	}
	// The code goes out when the challenge is first shown; "Sent" keeps a
	// reload from sending another (the resend cooldown backs this up).
	errMsg := ""
	if sends(factor) && !f.Challenge.Sent {
		errMsg = h.send(r, q, m, factor)
		f.Challenge.Sent = errMsg == ""
	}
	if !h.Save(w, r, f) {
		return
	}
	status := http.StatusOK
	if errMsg != "" {
		status = http.StatusTooManyRequests
	}
	h.render(w, q, status, errMsg, "")
}

type challengeView struct {
	Factor, MaskedTo string
	Options          []httpx.Choice
	Choosing         bool
	RememberDays     int
}

type challengePage struct {
	steps.Page
	Challenge *challengeView
}

func (h *Handler) render(w http.ResponseWriter, q *request, status int, errMsg, notice string) {
	m, factor := q.method()
	v := &challengeView{Factor: string(factor), Options: q.options(), Choosing: q.f.Challenge.Choosing, RememberDays: q.pol.RememberDeviceDays}
	switch {
	case m == nil || !sends(factor):
	case factor == mfa.FactorEmail:
		v.MaskedTo = mfa.MaskEmail(m.Email)
	default:
		v.MaskedTo = mfa.MaskPhone(m.Phone)
	}
	p := challengePage{Page: h.Page(w, q.f, "Enter code"), Challenge: v}
	p.Error, p.Notice = errMsg, notice
	p.Username = q.u.Username // a step-up flow starts from the session, without one
	h.pages.Render(w, status, "mfa", p)
}

func (h *Handler) send(r *http.Request, q *request, m *mfa.Method, factor mfa.Factor) string {
	to := destination(m, factor)
	return wording.SendFailure(h.Logger, r, h.mfa.SendCode(r.Context(), mfa.CodeRequest{Scope: codeScope(q.f, to), UserID: q.f.UserID,
		IP: httpx.ClientIP(r), Factor: factor, To: to, Countries: q.pol.AllowedCountries}, q.pol.Limits))
}
