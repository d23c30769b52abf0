package enroll

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/wording"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

const msgNotAvailable = "That step is not available now. Continue from this page."

// button is one of the wizard's buttons: the action it posts, the stages
// that show it, and what it does.
type button struct {
	action string
	stages []string
	press  func(h *Handler, w http.ResponseWriter, r *http.Request, q *request)
}

// buttons are the wizard's buttons in the order the guide walks through
// them. "Skip" is offered on any stage while the grace allows it.
var buttons = []button{
	{"skip", nil, (*Handler).skip},
	{"next", []string{flow.StageIntro}, (*Handler).next},
	{"choose", []string{flow.StageSetup, flow.StageCode}, (*Handler).otherMethods},
	{"chose", []string{flow.StageChoose}, (*Handler).chose},
	{"back", []string{flow.StageChoose, flow.StageCode}, (*Handler).back},
	{"verify", []string{flow.StageSetup}, (*Handler).verifyApp},
	{"send", []string{flow.StageSetup}, (*Handler).sendCode},
	{"resend", []string{flow.StageCode}, (*Handler).resendCode},
	{"verify", []string{flow.StageCode}, (*Handler).verifyCode},
	{"continue", []string{flow.StageVerified}, (*Handler).continueSetup},
	{"done", []string{flow.StageComplete}, (*Handler).done},
	{"codes", []string{flow.StageComplete}, (*Handler).recoveryCodes},
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadFormAt(w, r, flow.StepEnroll)
	if !ok {
		return
	}
	q, ok := h.load(w, r, f)
	if !ok {
		return
	}
	action := r.PostFormValue("action")
	for _, b := range buttons {
		if b.action == action && (b.stages == nil || slices.Contains(b.stages, q.e.Stage)) {
			b.press(h, w, r, q)
			return
		}
	}
	h.retry(w, q, msgNotAvailable)
}

func (h *Handler) retry(w http.ResponseWriter, q *request, msg string) {
	h.render(w, q, http.StatusUnprocessableEntity, msg, "")
}

// skip lets a person put registration off while the grace allows it.
func (h *Handler) skip(w http.ResponseWriter, r *http.Request, q *request) {
	f := q.f
	if !mayPutOff(f) || !q.pol.CanSkip(q.st, time.Now()).Allowed {
		h.retry(w, q, "Your organization requires you to set up these methods now.")
		return
	}
	q.st.Skips++
	if err := h.mfa.SaveState(r.Context(), q.st); err != nil {
		h.Unavailable(w, r, "We couldn't continue your sign-in. Try again in a moment.", err)
		return
	}
	h.Audit.Record(r.Context(), audit.Event{Type: "mfa.enroll_skipped", SubjectID: f.UserID, ActorID: f.UserID, IP: httpx.ClientIP(r),
		Details: map[string]string{"skips": strconv.Itoa(q.st.Skips)}})
	f.Enroll.Finished, f.Deferred = true, true
	if !f.HasMethods && f.ACR != assurance.MFA {
		f.PolicyMFA = false // the grace waives the policy's MFA for this sign-in
	}
	h.SaveAndAdvance(w, r, f)
}

// next leaves "Keep your account secure" for the first method's setup.
func (h *Handler) next(w http.ResponseWriter, r *http.Request, q *request) {
	q.e.Stage = flow.StageSetup
	h.SaveAndRedirect(w, r, q.f)
}

// otherMethods is "I want to set up a different method".
func (h *Handler) otherMethods(w http.ResponseWriter, r *http.Request, q *request) {
	q.e.Stage = flow.StageChoose
	h.SaveAndRedirect(w, r, q.f)
}

// chose puts the method chosen from the list first.
func (h *Handler) chose(w http.ResponseWriter, r *http.Request, q *request) {
	e, k := q.e, mfa.Kind(r.PostFormValue("kind"))
	if !slices.Contains(q.pol.AllowedKinds(), k) || wording.Registered(q.have, k) || slices.Contains(e.Done, string(k)) {
		h.retry(w, q, "Choose one of the methods listed.")
		return
	}
	rest := slices.DeleteFunc(slices.Clone(e.Plan[1:]), func(p string) bool { return p == string(k) })
	e.Plan = append([]string{string(k)}, rest...)
	clearPending(e)
	e.Stage = flow.StageSetup
	h.SaveAndRedirect(w, r, q.f)
}

func (h *Handler) back(w http.ResponseWriter, r *http.Request, q *request) {
	q.e.Stage = flow.StageSetup
	h.SaveAndRedirect(w, r, q.f)
}

// verifyApp checks the first code from the authenticator app just set up.
func (h *Handler) verifyApp(w http.ResponseWriter, r *http.Request, q *request) {
	f, e := q.f, q.e
	if e.Current() != string(mfa.App) {
		h.retry(w, q, msgNotAvailable)
		return
	}
	if err := h.mfa.CheckTOTP(r.Context(), e.Secret, r.PostFormValue("code"), f.UserID, httpx.ClientIP(r), q.pol.Limits); err != nil {
		h.codeFailed(w, r, q, err, mfa.FactorApp)
		return
	}
	h.register(w, r, q, &mfa.Method{UserID: f.UserID, Kind: mfa.App, Secret: e.Secret, Factor: mfa.FactorApp}, mfa.FactorApp)
}

// sendCode takes the phone number or address and sends it a code.
func (h *Handler) sendCode(w http.ResponseWriter, r *http.Request, q *request) {
	if msg := h.destination(r, q); msg != "" {
		h.retry(w, q, msg)
		return
	}
	if msg := h.send(r, q); msg != "" {
		h.retry(w, q, msg)
		return
	}
	q.e.Stage = flow.StageCode
	h.SaveAndRedirect(w, r, q.f)
}

func (h *Handler) resendCode(w http.ResponseWriter, r *http.Request, q *request) {
	if msg := h.send(r, q); msg != "" {
		h.retry(w, q, msg)
		return
	}
	if h.Save(w, r, q.f) {
		h.render(w, q, http.StatusOK, "", "We sent a new code.")
	}
}

// verifyCode checks the code sent to the phone or address being set up.
func (h *Handler) verifyCode(w http.ResponseWriter, r *http.Request, q *request) {
	f, e := q.f, q.e
	factor, to := mfa.Factor(e.Factor), e.Phone
	if e.Current() == string(mfa.Email) {
		factor, to = mfa.FactorEmail, e.Email
	}
	if err := h.mfa.CheckCode(r.Context(), codeScope(f, to), r.PostFormValue("code"), f.UserID, httpx.ClientIP(r), q.pol.Limits); err != nil {
		h.codeFailed(w, r, q, err, factor)
		return
	}
	h.register(w, r, q, &mfa.Method{UserID: f.UserID, Kind: mfa.Kind(e.Current()), Phone: e.Phone, Email: e.Email, Factor: factor}, factor)
}

// continueSetup moves from "verified" to the next method, or to "Setup is
// now complete" (for a method added from My Account, back there).
func (h *Handler) continueSetup(w http.ResponseWriter, r *http.Request, q *request) {
	e := q.e
	e.Done = append(e.Done, e.Current())
	e.Plan = e.Plan[1:]
	clearPending(e)
	e.Stage = flow.StageSetup
	if len(e.Plan) > 0 {
		h.SaveAndRedirect(w, r, q.f)
		return
	}
	e.Stage = flow.StageComplete
	if !e.Adding {
		h.SaveAndRedirect(w, r, q.f)
		return
	}
	e.Finished = true // back to My Account, which lists the methods
	h.SaveAndAdvance(w, r, q.f)
}

func (h *Handler) done(w http.ResponseWriter, r *http.Request, q *request) {
	q.e.Finished = true
	h.SaveAndAdvance(w, r, q.f)
}

type codesPage struct {
	steps.Page
	Recovery *wording.RecoveryCodes
}

// recoveryCodes makes the person's first set of recovery codes at "Setup
// is now complete" and shows them this once; their Done finishes the
// wizard as the guide's Done does.
func (h *Handler) recoveryCodes(w http.ResponseWriter, r *http.Request, q *request) {
	if !q.offerCodes {
		h.render(w, q, http.StatusUnprocessableEntity, msgNotAvailable, "")
		return
	}
	codes, err := h.mfa.NewRecoveryCodes(r.Context(), q.f.UserID, q.f.UserID, httpx.ClientIP(r))
	if err != nil {
		h.Unavailable(w, r, "We couldn't make your recovery codes. Try again in a moment.", err)
		return
	}
	view := wording.NewRecoveryCodes(codes, h.Site.District, q.u.Username)
	view.DoneAction, view.DoneField, view.DoneValue = steps.PathEnroll+"?flow="+q.f.ID, "action", "done"
	h.pages.Render(w, http.StatusOK, "recovery_codes", codesPage{Page: h.Page(w, q.f, "Recovery codes"), Recovery: view})
}

func codeScope(f *flow.Flow, to string) string { return "enroll:" + f.ID + ":" + to }

// destination reads the phone number or address typed for the method
// being set up; it returns a message for the person when it cannot.
func (h *Handler) destination(r *http.Request, q *request) string {
	switch kind := mfa.Kind(q.e.Current()); {
	case kind.IsPhone():
		return h.phone(r, q)
	case kind == mfa.Email:
		return h.email(r, q)
	}
	return msgNotAvailable
}

func (h *Handler) phone(r *http.Request, q *request) string {
	e := q.e
	factor := mfa.Factor(r.PostFormValue("factor"))
	if (factor != mfa.FactorSMS && factor != mfa.FactorVoice) || !q.pol.Allows(factor) {
		return "Choose Text me a code or Call me."
	}
	e.Country, e.Factor = r.PostFormValue("country"), string(factor)
	e164, region, err := mfa.ParsePhone(e.Country, r.PostFormValue("number"), factor, q.pol.AllowedCountries)
	if err != nil {
		return err.Error()
	}
	if slices.ContainsFunc(q.have, func(m mfa.Method) bool { return m.Phone == e164 }) {
		return "That phone number is already registered. Enter a different one."
	}
	e.Phone, e.Country = e164, region
	return ""
}

func (h *Handler) email(r *http.Request, q *request) string {
	addr, err := identity.NormalizeEmail(r.PostFormValue("email"))
	if err != nil || addr == "" {
		return "Enter a valid email address, like name@example.com."
	}
	_, domain, _ := strings.Cut(addr, "@")
	for _, blocked := range q.pol.BlockedEmailDomains {
		if strings.EqualFold(domain, blocked) || strings.HasSuffix(strings.ToLower(domain), "."+strings.ToLower(blocked)) {
			return "Use a personal email address, not one from " + blocked + "."
		}
	}
	q.e.Email = addr
	return ""
}

// send sends a code to the phone or address being set up; it returns a
// message for the person when it cannot.
func (h *Handler) send(r *http.Request, q *request) string {
	e := q.e
	req := mfa.CodeRequest{UserID: q.f.UserID, IP: httpx.ClientIP(r), Factor: mfa.Factor(e.Factor), To: e.Phone, Countries: q.pol.AllowedCountries}
	if e.Current() == string(mfa.Email) {
		req.Factor, req.To = mfa.FactorEmail, e.Email
	}
	if req.To == "" {
		return msgNotAvailable
	}
	req.Scope = codeScope(q.f, req.To)
	return wording.SendFailure(h.Logger, r, h.mfa.SendCode(r.Context(), req, q.pol.Limits))
}

// register stores a verified method and credits the sign-in with it: the
// person has just proved a second factor.
func (h *Handler) register(w http.ResponseWriter, r *http.Request, q *request, m *mfa.Method, factor mfa.Factor) {
	if err := h.mfa.Register(r.Context(), m, q.f.UserID, httpx.ClientIP(r)); err != nil {
		h.Unavailable(w, r, "We couldn't save your security info. Try again in a moment.", err)
		return
	}
	wording.Tell(r.Context(), h.mfa, h.Logger, q.u, m.Phone+m.Email, wording.NoticeAdded)
	q.f.CreditMFA(factor.AMR(), time.Now().UTC())
	q.e.Stage = flow.StageVerified
	h.SaveAndRedirect(w, r, q.f)
}

// codeFailed tells the person why a code was refused.
func (h *Handler) codeFailed(w http.ResponseWriter, r *http.Request, q *request, err error, factor mfa.Factor) {
	if msg, ok := h.CodeRefused(w, r, q.f, err, "enroll", factor); ok {
		h.retry(w, q, msg)
	}
}
