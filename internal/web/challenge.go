package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
)

type challengeView struct {
	Factor, MaskedTo string
	Options          []choice
	Choosing         bool
	RememberDays     int
}

// challengeContext is what every challenge request needs.
type challengeContext struct {
	f       *flow.Flow
	u       *identity.User
	pol     policy.Policy
	methods []mfa.Method
}

func (h *Handler) loadChallenge(w http.ResponseWriter, r *http.Request, f *flow.Flow) (*challengeContext, bool) {
	ctx := r.Context()
	u, ok := h.flowUser(w, r, f)
	if !ok {
		return nil, false
	}
	cc := &challengeContext{f: f, u: u, pol: h.policy.For(ctx, u)}
	var err error
	if cc.methods, err = h.mfa.Methods(ctx, u.ID); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't load your security info. Try again in a moment.", err)
		return nil, false
	}
	if len(cc.methods) == 0 && !f.AccessCode {
		h.deny(w, r, f, errNoMethods)
		return nil, false
	}
	return cc, true
}

// options are the ways this person can answer the challenge.
func (cc *challengeContext) options() []choice {
	var out []choice
	for _, m := range cc.methods {
		for _, f := range factorsOf(m) {
			if !cc.pol.Allows(f) {
				continue
			}
			var label string
			switch f {
			case mfa.FactorApp:
				label = "Use a verification code from my authenticator app"
			case mfa.FactorSMS:
				label = "Text " + mfa.MaskPhone(m.Phone)
			case mfa.FactorVoice:
				label = "Call " + mfa.MaskPhone(m.Phone)
			case mfa.FactorEmail:
				label = "Email a code to " + mfa.MaskEmail(m.Email)
			}
			out = append(out, choice{Value: m.ID + ":" + string(f), Label: label})
		}
	}
	return out
}

func factorsOf(m mfa.Method) []mfa.Factor {
	switch {
	case m.Kind == mfa.App:
		return []mfa.Factor{mfa.FactorApp}
	case m.Kind.IsPhone():
		if m.Factor == mfa.FactorVoice {
			return []mfa.Factor{mfa.FactorVoice, mfa.FactorSMS}
		}
		return []mfa.Factor{mfa.FactorSMS, mfa.FactorVoice}
	}
	return []mfa.Factor{mfa.FactorEmail}
}

// method returns the challenge's method, choosing the default (or the first
// usable one) when none is chosen yet.
func (cc *challengeContext) method() (*mfa.Method, mfa.Factor) {
	if cc.f.AccessCode {
		if cc.f.Challenge == nil {
			cc.f.Challenge = &flow.Challenge{Factor: string(mfa.FactorAccessCode)}
		}
		return &mfa.Method{}, mfa.FactorAccessCode
	}
	c := cc.f.Challenge
	if c != nil {
		for i := range cc.methods {
			if cc.methods[i].ID == c.MethodID {
				return &cc.methods[i], mfa.Factor(c.Factor)
			}
		}
	}
	opts := cc.options()
	for _, m := range cc.methods {
		if m.IsDefault {
			for _, f := range factorsOf(m) {
				if cc.pol.Allows(f) {
					cc.f.Challenge = &flow.Challenge{MethodID: m.ID, Factor: string(f)}
					return cc.method()
				}
			}
		}
	}
	if len(opts) == 0 {
		return nil, ""
	}
	id, f, _ := strings.Cut(opts[0].Value, ":")
	cc.f.Challenge = &flow.Challenge{MethodID: id, Factor: f}
	return cc.method()
}

func destination(m *mfa.Method, f mfa.Factor) string {
	if f == mfa.FactorEmail {
		return m.Email
	}
	return m.Phone
}

func mfaScope(f *flow.Flow, to string) string { return "mfa:" + f.ID + ":" + to }

func (h *Handler) mfaPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.loadFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepMFA) {
		return
	}
	cc, ok := h.loadChallenge(w, r, f)
	if !ok {
		return
	}
	m, factor := cc.method()
	if m == nil {
		h.deny(w, r, f, errNoMethods)
		return
	}
	// The code goes out when the challenge is first shown; "Sent" keeps a
	// reload from sending another (the resend cooldown backs this up).
	errMsg := ""
	if factor != mfa.FactorApp && factor != mfa.FactorAccessCode && !f.Challenge.Sent {
		errMsg = h.challengeSend(r, cc, m, factor)
		f.Challenge.Sent = errMsg == ""
	}
	if !h.saveFlow(w, r, f) {
		return
	}
	status := http.StatusOK
	if errMsg != "" {
		status = http.StatusTooManyRequests
	}
	h.renderChallenge(w, r, cc, status, errMsg, "")
}

func (h *Handler) renderChallenge(w http.ResponseWriter, r *http.Request, cc *challengeContext, status int, errMsg, notice string) {
	m, factor := cc.method()
	v := &challengeView{Factor: string(factor), Options: cc.options(), Choosing: cc.f.Challenge.Choosing, RememberDays: cc.pol.RememberDeviceDays}
	if m != nil && factor != mfa.FactorApp {
		v.MaskedTo = map[bool]string{true: mfa.MaskEmail(m.Email), false: mfa.MaskPhone(m.Phone)}[factor == mfa.FactorEmail]
	}
	p := h.stepPage(w, r, cc.f, "Enter code")
	p.Error, p.Notice, p.Challenge = errMsg, notice, v
	p.Username = cc.u.Username // a step-up flow starts from the session, without one
	h.pages.render(w, status, "mfa", p)
}

func (h *Handler) challengeSend(r *http.Request, cc *challengeContext, m *mfa.Method, factor mfa.Factor) string {
	to := destination(m, factor)
	return h.sendFailure(r, h.mfa.SendCode(r.Context(), mfa.CodeRequest{Scope: mfaScope(cc.f, to), UserID: cc.f.UserID,
		IP: clientIP(r), Factor: factor, To: to, Countries: cc.pol.AllowedCountries}, cc.pol.Limits))
}

func (h *Handler) mfaSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.formFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepMFA) {
		return
	}
	cc, ok := h.loadChallenge(w, r, f)
	if !ok {
		return
	}
	m, factor := cc.method()
	save := func() bool { return h.saveFlow(w, r, f) }
	retry := func(msg string) {
		if save() {
			h.renderChallenge(w, r, cc, http.StatusUnprocessableEntity, msg, "")
		}
	}
	switch r.PostFormValue("action") {
	case "other":
		f.Challenge.Choosing = true
	case "cancel":
		f.Challenge.Choosing = false
	case "use":
		id, fac, _ := strings.Cut(r.PostFormValue("option"), ":")
		valid := false
		for _, o := range cc.options() {
			valid = valid || o.Value == id+":"+fac
		}
		if !valid {
			retry("Choose one of the ways listed.")
			return
		}
		f.Challenge = &flow.Challenge{MethodID: id, Factor: fac}
		if m, factor = cc.method(); factor != mfa.FactorApp {
			if msg := h.challengeSend(r, cc, m, factor); msg != "" {
				retry(msg)
				return
			}
			f.Challenge.Sent = true
		}
	case "resend":
		if factor == mfa.FactorApp {
			retry("Open your authenticator app to see the current code.")
			return
		}
		if msg := h.challengeSend(r, cc, m, factor); msg != "" {
			retry(msg)
			return
		}
		if save() {
			h.renderChallenge(w, r, cc, http.StatusOK, "", "We sent a new code.")
		}
		return
	case "verify":
		var err error
		switch factor {
		case mfa.FactorAccessCode:
			err = h.mfa.CheckAccessCode(r.Context(), f.UserID, r.PostFormValue("code"), clientIP(r), cc.pol.Limits)
		case mfa.FactorApp:
			err = h.mfa.CheckTOTP(r.Context(), m.Secret, r.PostFormValue("code"), f.UserID, clientIP(r), cc.pol.Limits)
		default:
			err = h.mfa.CheckCode(r.Context(), mfaScope(f, destination(m, factor)), r.PostFormValue("code"), f.UserID, clientIP(r), cc.pol.Limits)
		}
		if err != nil {
			h.codeFailed(w, r, &enrollContext{f: f}, err, "challenge", factor, retry)
			return
		}
		h.audit.Record(r.Context(), audit.Event{Type: "mfa.challenge", SubjectID: f.UserID, ActorID: f.UserID, ClientID: f.ClientID,
			IP: clientIP(r), UserAgent: r.UserAgent(), Details: map[string]string{"factor": string(factor)}})
		h.creditMFA(f, factor)
		f.Remember = r.PostFormValue("remember") == "yes" && cc.pol.RememberDeviceDays > 0
		if f.Remember {
			h.remember(w, r, cc.u, cc.pol.RememberDeviceDays)
		}
		h.saveAndAdvance(w, r, f)
		return
	default:
		retry("That step is not available now. Continue from this page.")
		return
	}
	if save() {
		h.redirectToStep(w, r, f)
	}
}

var errNoMethods = errors.New("no usable MFA method")

// codeFailed audits a wrong or refused code and tells the person why.
func (h *Handler) codeFailed(w http.ResponseWriter, r *http.Request, ec *enrollContext, err error, stage string, factor mfa.Factor, retry func(string)) {
	msg, ok := checkFailure(err)
	if !ok {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't check the code. Try again in a moment.", err)
		return
	}
	h.audit.Record(r.Context(), audit.Event{Type: "mfa." + stage + "_failed", Outcome: "failure", SubjectID: ec.f.UserID,
		ClientID: ec.f.ClientID, IP: clientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"factor": string(factor), "reason": msg}})
	retry(msg)
}

// sendFailure turns a SendCode error into words for the person ("" when
// the code went out).
func (h *Handler) sendFailure(r *http.Request, err error) string {
	var le *mfa.LimitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &le):
		return le.Msg
	case errors.Is(err, mfa.ErrDelivery):
		h.logger.Warn("code delivery failed", "err", err, "request_id", RequestID(r.Context()))
		return mfa.ErrDelivery.Error()
	}
	h.logger.Error("sending a code", "err", err, "request_id", RequestID(r.Context()))
	return "We couldn't send the code. Try again in a moment."
}

// checkFailure words a refused code; false for an unexpected error.
func checkFailure(err error) (string, bool) {
	var le *mfa.LimitError
	switch {
	case errors.As(err, &le):
		return le.Msg, true
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrCodeReused), errors.Is(err, mfa.ErrCodeExpired), errors.Is(err, mfa.ErrTooManyAttempts):
		return err.Error(), true
	}
	return "", false
}

func itoa(n int) string { return strconv.Itoa(n) }
