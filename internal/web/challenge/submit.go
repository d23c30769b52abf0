package challenge

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/wording"
)

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadFormAt(w, r, flow.StepMFA)
	if !ok {
		return
	}
	q, ok := h.load(w, r, f)
	if !ok {
		return
	}
	if m, _ := q.method(); m == nil {
		h.Deny(w, r, f, steps.ErrNoMethods)
		return
	}
	switch r.PostFormValue("action") {
	case "other":
		f.Challenge.Choosing = true
		h.SaveAndRedirect(w, r, f)
	case "cancel":
		f.Challenge.Choosing = false
		h.SaveAndRedirect(w, r, f)
	case "use":
		h.use(w, r, q)
	case "resend":
		h.resend(w, r, q)
	case "verify":
		h.verify(w, r, q)
	default:
		h.retry(w, r, q, msgNotAvailable)
	}
}

const msgNotAvailable = "That step is not available now. Continue from this page."

// retry saves the flow (a method chosen, a code sent) and shows the
// challenge again with msg.
func (h *Handler) retry(w http.ResponseWriter, r *http.Request, q *request, msg string) {
	if h.Save(w, r, q.f) {
		h.render(w, q, http.StatusUnprocessableEntity, msg, "")
	}
}

// use switches to a way chosen under "Sign in another way" and, unless it
// is the app, sends it a code.
func (h *Handler) use(w http.ResponseWriter, r *http.Request, q *request) {
	id, factor, _ := strings.Cut(r.PostFormValue("option"), ":")
	valid := false
	for _, o := range q.options() {
		valid = valid || o.Value == id+":"+factor
	}
	if !valid {
		h.retry(w, r, q, "Choose one of the ways listed.")
		return
	}
	q.f.Challenge = &flow.Challenge{MethodID: id, Factor: factor}
	if m, f := q.method(); sends(f) {
		if msg := h.send(r, q, m, f); msg != "" {
			h.retry(w, r, q, msg)
			return
		}
		q.f.Challenge.Sent = true
	}
	h.SaveAndRedirect(w, r, q.f)
}

func (h *Handler) resend(w http.ResponseWriter, r *http.Request, q *request) {
	m, factor := q.method()
	switch factor {
	case mfa.FactorApp:
		h.retry(w, r, q, "Open your authenticator app to see the current code.")
		return
	case mfa.FactorRecoveryCode, mfa.FactorAccessCode:
		h.retry(w, r, q, msgNotAvailable)
		return
	}
	if msg := h.send(r, q, m, factor); msg != "" {
		h.retry(w, r, q, msg)
		return
	}
	if h.Save(w, r, q.f) {
		h.render(w, q, http.StatusOK, "", "We sent a new code.")
	}
}

// verify checks the code and, when it is right, credits the sign-in with
// the second factor and remembers the device if asked.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, q *request) {
	f := q.f
	m, factor := q.method()
	if err := h.check(r, q, m, factor); err != nil {
		h.codeFailed(w, r, q, err, factor)
		return
	}
	h.Audit.Record(r.Context(), audit.Event{Type: "mfa.challenge", SubjectID: f.UserID, ActorID: f.UserID, ClientID: f.ClientID,
		IP: httpx.ClientIP(r), UserAgent: r.UserAgent(), Details: map[string]string{"factor": string(factor)}})
	f.CreditMFA(factor.AMR(), time.Now().UTC())
	if factor == mfa.FactorRecoveryCode {
		// Told everywhere: a code used by someone else is an account
		// taken over, and to the owner it is a lost phone to deal with.
		wording.Tell(r.Context(), h.mfa, h.Logger, q.u, "", wording.NoticeCodeUsed(q.codesLeft))
	}
	// A recovery code is for a day the usual methods are lost: the device
	// it was typed on is not remembered in their place.
	f.Remember = r.PostFormValue("remember") == "yes" && q.pol.RememberDeviceDays > 0 && factor != mfa.FactorRecoveryCode
	if f.Remember {
		if err := h.devices.Remember(w, r, q.u, q.pol.RememberDeviceDays); err != nil {
			h.Logger.Error("remembering a device", "err", err)
		}
	}
	h.SaveAndAdvance(w, r, f)
}

func (h *Handler) check(r *http.Request, q *request, m *mfa.Method, factor mfa.Factor) error {
	ctx, code, ip := r.Context(), r.PostFormValue("code"), httpx.ClientIP(r)
	switch factor {
	case mfa.FactorAccessCode:
		return h.mfa.CheckAccessCode(ctx, q.f.UserID, code, ip, q.pol.Limits)
	case mfa.FactorApp:
		return h.mfa.CheckTOTP(ctx, m.Secret, code, q.f.UserID, ip, q.pol.Limits)
	case mfa.FactorRecoveryCode:
		left, err := h.mfa.UseRecoveryCode(ctx, q.f.UserID, code, ip, q.pol.Limits)
		if err == nil {
			q.codesLeft = left
		}
		return err
	}
	return h.mfa.CheckCode(ctx, codeScope(q.f, destination(m, factor)), code, q.f.UserID, ip, q.pol.Limits)
}

// codeFailed tells the person why a code was refused.
func (h *Handler) codeFailed(w http.ResponseWriter, r *http.Request, q *request, err error, factor mfa.Factor) {
	if msg, ok := h.CodeRefused(w, r, q.f, err, "challenge", factor); ok {
		h.retry(w, r, q, msg)
	}
}
