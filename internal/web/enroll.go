package web

import (
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Enrollment stages, in the order the wizard shows them.
const (
	stageIntro    = "intro"
	stageSetup    = "setup"
	stageCode     = "code"
	stageVerified = "verified"
	stageChoose   = "choose"
	stageComplete = "complete"
)

var kindNames = map[string]string{"app": "App", "phone": "Phone", "email": "Email", "alt_phone": "Alternate phone"}

type choice struct{ Value, Label string }

type stepView struct {
	Name          string
	Current, Done bool
}

type enrollView struct {
	Stage, Kind, KindName string
	IsPhone, Adding       bool
	Step, Total           int
	Steps                 []stepView
	QRCode                template.URL
	Secret                string
	Countries             []mfa.Country
	Country, Number       string
	Factor                string
	SMS, Voice            bool
	Email, MaskedTo       string
	Verified              string
	Others                []choice
	Methods               []string
	Default               string
	Skip                  policy.SkipAllowance
}

// startEnrollment decides, after the password, whether this person must
// register methods, and what the policy asks of the sign-in.
func (h *Handler) startEnrollment(r *http.Request, f *flow.Flow, u *identity.User) error {
	ctx := r.Context()
	pol := h.policy.For(ctx, u)
	methods, err := h.mfa.Methods(ctx, u.ID)
	if err != nil {
		return err
	}
	f.HasMethods = len(methods) > 0
	f.PolicyMFA = pol.RequireMFA
	missing := pol.Missing(methods)
	if len(missing) == 0 {
		return nil
	}
	st, err := h.mfa.State(ctx, u.ID)
	if err != nil {
		return err
	}
	if st.FirstPromptedAt == nil {
		now := time.Now().UTC()
		st.FirstPromptedAt = &now
		if err := h.mfa.SaveState(ctx, st); err != nil {
			return err
		}
	}
	if len(methods) == 0 {
		if f.AccessCode, err = h.mfa.AccessCodePending(ctx, u.ID); err != nil {
			return err
		}
	}
	plan := make([]string, len(missing))
	for i, k := range missing {
		plan[i] = string(k)
	}
	f.Enroll = &flow.Enrollment{Stage: stageIntro, Plan: plan, Existing: len(methods)}
	return nil
}

// enrollContext is what every enrollment request needs.
type enrollContext struct {
	f    *flow.Flow
	u    *identity.User
	pol  policy.Policy
	st   *mfa.State
	have []mfa.Method
}

// loadEnroll loads what an enrollment step needs. What guards
// registration is decided again on every step, not once at the password: a
// sign-in parked here must prove one of the owner's methods once the owner
// has registered one, and the access code once the Help Desk has issued
// one.
func (h *Handler) loadEnroll(w http.ResponseWriter, r *http.Request, f *flow.Flow) (*enrollContext, bool) {
	ctx := r.Context()
	u, ok := h.flowUser(w, r, f)
	if !ok {
		return nil, false
	}
	ec := enrollContext{f: f, u: u, pol: h.policy.For(ctx, u)}
	var err error
	if ec.st, err = h.mfa.State(ctx, u.ID); err == nil {
		if ec.have, err = h.mfa.Methods(ctx, u.ID); err == nil {
			var moved bool
			if moved, err = h.guardChanged(w, r, &ec); err == nil {
				return &ec, !moved
			}
		}
	}
	h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't load your security info. Try again in a moment.", err)
	return nil, false
}

// guardChanged sends a flow that has proved no second factor to the
// challenge when the person now has methods it did not know of (dropping
// from its plan the kinds registered meanwhile), or an access code is now
// pending. It reports whether it answered the request.
func (h *Handler) guardChanged(w http.ResponseWriter, r *http.Request, ec *enrollContext) (bool, error) {
	f := ec.f
	if f.ACR == assurance.MFA {
		return false, nil
	}
	if len(ec.have) == 0 {
		if f.AccessCode {
			return false, nil
		}
		pending, err := h.mfa.AccessCodePending(r.Context(), f.UserID)
		if err != nil || !pending {
			return false, err
		}
		f.AccessCode = true
		h.saveAndAdvance(w, r, f)
		return true, nil
	}
	f.HasMethods = true
	f.Enroll.Existing = len(ec.have)
	f.Enroll.Plan = slices.DeleteFunc(f.Enroll.Plan, func(k string) bool { return registered(ec.have, mfa.Kind(k)) })
	clearPending(f.Enroll)
	f.Enroll.Stage = stageSetup
	if len(f.Enroll.Plan) == 0 {
		f.Enroll.Finished = true
	}
	h.saveAndAdvance(w, r, f)
	return true, nil
}

func (h *Handler) enrollPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.loadFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepEnroll) {
		return
	}
	ec, ok := h.loadEnroll(w, r, f)
	if !ok {
		return
	}
	e := f.Enroll
	if e.Stage == stageSetup && e.Current() == string(mfa.App) && e.Secret == nil {
		enr, err := mfa.NewTOTP(h.opt.District, ec.u.Username)
		if err != nil {
			h.fail(w, r, http.StatusInternalServerError, "Sign-in unavailable", "We couldn't set up the authenticator app. Try again.", err)
			return
		}
		e.Secret = h.mfa.SealSecret(enr.Secret)
		if !h.saveFlow(w, r, f) {
			return
		}
	}
	h.renderEnroll(w, r, ec, http.StatusOK, "", "")
}

func (h *Handler) renderEnroll(w http.ResponseWriter, r *http.Request, ec *enrollContext, status int, errMsg, notice string) {
	f, e := ec.f, ec.f.Enroll
	v := &enrollView{Stage: e.Stage, Kind: e.Current(), KindName: kindNames[e.Current()], IsPhone: mfa.Kind(e.Current()).IsPhone(),
		Adding: e.Adding, Skip: ec.pol.CanSkip(ec.st, time.Now())}
	if !h.mayPutOff(f) {
		v.Skip = policy.SkipAllowance{}
	}
	v.Total = e.Existing + len(e.Done) + len(e.Plan)
	v.Step = e.Existing + len(e.Done) + 1
	for _, m := range ec.have[:min(e.Existing, len(ec.have))] {
		v.Steps = append(v.Steps, stepView{Name: kindNames[string(m.Kind)], Done: true})
	}
	for _, k := range e.Done {
		v.Steps = append(v.Steps, stepView{Name: kindNames[k], Done: true})
	}
	for i, k := range e.Plan {
		v.Steps = append(v.Steps, stepView{Name: kindNames[k], Current: i == 0 && e.Stage != stageComplete})
	}
	for _, k := range ec.pol.AllowedKinds() {
		if string(k) != e.Current() && !registered(ec.have, k) && !slices.Contains(e.Done, string(k)) {
			v.Others = append(v.Others, choice{Value: string(k), Label: methodLabel(k)})
		}
	}
	switch {
	case e.Stage == stageComplete:
		for _, m := range ec.have {
			v.Methods = append(v.Methods, describe(m))
			if m.IsDefault {
				v.Default = describe(m)
			}
		}
	case e.Current() == string(mfa.App) && e.Secret != nil:
		if secret, err := h.mfa.OpenSecret(e.Secret); err == nil {
			if enr, err := mfa.TOTPFromSecret(h.opt.District, ec.u.Username, secret); err == nil {
				v.QRCode, v.Secret = template.URL(enr.QRCode), mfa.GroupSecret(secret)
			}
		}
	case v.IsPhone:
		v.Countries, v.Country, v.Factor = mfa.Countries(ec.pol.AllowedCountries), e.Country, e.Factor
		v.SMS, v.Voice = ec.pol.Allows(mfa.FactorSMS), ec.pol.Allows(mfa.FactorVoice)
		if e.Phone != "" {
			v.MaskedTo = mfa.MaskPhone(e.Phone)
		}
		if v.Country == "" && len(v.Countries) > 0 {
			v.Country = v.Countries[0].Region
		}
	case e.Current() == string(mfa.Email):
		v.Email, v.Factor = e.Email, string(mfa.FactorEmail)
		if e.Email != "" {
			v.MaskedTo = mfa.MaskEmail(e.Email)
		}
	}
	if e.Stage == stageVerified {
		v.Verified = verifiedText(e)
	}
	p := h.stepPage(w, r, f, "Keep your account secure")
	p.Error, p.Notice, p.Enroll = errMsg, notice, v
	h.pages.render(w, status, "enroll", p)
}

func registered(have []mfa.Method, k mfa.Kind) bool {
	return slices.ContainsFunc(have, func(m mfa.Method) bool { return m.Kind == k })
}

func methodLabel(k mfa.Kind) string {
	return map[mfa.Kind]string{mfa.App: "Authenticator app", mfa.Phone: "Phone", mfa.AltPhone: "Alternate phone", mfa.Email: "Email"}[k]
}

func describe(m mfa.Method) string {
	switch m.Kind {
	case mfa.App:
		return "Authenticator app"
	case mfa.Phone, mfa.AltPhone:
		how := " - text "
		if m.Factor == mfa.FactorVoice {
			how = " - call "
		}
		return methodLabel(m.Kind) + how + mfa.MaskPhone(m.Phone)
	}
	return "Email " + mfa.MaskEmail(m.Email)
}

func verifiedText(e *flow.Enrollment) string {
	switch e.Current() {
	case string(mfa.App):
		return "App verified. Your authenticator app was registered successfully"
	case string(mfa.Email):
		return "Email verified. Your email was registered successfully"
	}
	if e.Factor == string(mfa.FactorVoice) {
		return "Call answered. Your phone was registered successfully"
	}
	return "SMS verified. Your phone was registered successfully"
}

func (h *Handler) enrollSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.formFlow(w, r)
	if !ok || !h.onStep(w, r, f, flow.StepEnroll) {
		return
	}
	ec, ok := h.loadEnroll(w, r, f)
	if !ok {
		return
	}
	e := f.Enroll
	retry := func(msg string) { h.renderEnroll(w, r, ec, http.StatusUnprocessableEntity, msg, "") }
	switch action := r.PostFormValue("action"); {
	case action == "skip":
		if h.skip(w, r, ec) {
			return
		}
		retry("Your organization requires you to set up these methods now.")
		return
	case action == "next" && e.Stage == stageIntro:
		e.Stage = stageSetup
	case action == "choose" && (e.Stage == stageSetup || e.Stage == stageCode):
		e.Stage = stageChoose
	case action == "chose" && e.Stage == stageChoose:
		k := mfa.Kind(r.PostFormValue("kind"))
		if !slices.Contains(ec.pol.AllowedKinds(), k) || registered(ec.have, k) || slices.Contains(e.Done, string(k)) {
			retry("Choose one of the methods listed.")
			return
		}
		rest := slices.DeleteFunc(slices.Clone(e.Plan[1:]), func(p string) bool { return p == string(k) })
		e.Plan = append([]string{string(k)}, rest...)
		clearPending(e)
		e.Stage = stageSetup
	case action == "back" && (e.Stage == stageChoose || e.Stage == stageCode):
		e.Stage = stageSetup
	case action == "verify" && e.Stage == stageSetup && e.Current() == string(mfa.App):
		if err := h.mfa.CheckTOTP(r.Context(), e.Secret, r.PostFormValue("code"), f.UserID, clientIP(r), ec.pol.Limits); err != nil {
			h.codeFailed(w, r, ec, err, "enroll", mfa.FactorApp, retry)
			return
		}
		if !h.register(w, r, ec, &mfa.Method{UserID: f.UserID, Kind: mfa.App, Secret: e.Secret, Factor: mfa.FactorApp}, mfa.FactorApp) {
			return
		}
	case (action == "send" && e.Stage == stageSetup) || (action == "resend" && e.Stage == stageCode):
		if msg := h.enrollSend(r, ec, action == "resend"); msg != "" {
			retry(msg)
			return
		}
		e.Stage = stageCode
		if action == "resend" {
			if !h.saveFlow(w, r, f) {
				return
			}
			h.renderEnroll(w, r, ec, http.StatusOK, "", "We sent a new code.")
			return
		}
	case action == "verify" && e.Stage == stageCode:
		factor, to := mfa.Factor(e.Factor), e.Phone
		if e.Current() == string(mfa.Email) {
			factor, to = mfa.FactorEmail, e.Email
		}
		if err := h.mfa.CheckCode(r.Context(), enrollScope(f, to), r.PostFormValue("code"), f.UserID, clientIP(r), ec.pol.Limits); err != nil {
			h.codeFailed(w, r, ec, err, "enroll", factor, retry)
			return
		}
		m := &mfa.Method{UserID: f.UserID, Kind: mfa.Kind(e.Current()), Phone: e.Phone, Email: e.Email, Factor: factor}
		if !h.register(w, r, ec, m, factor) {
			return
		}
	case action == "continue" && e.Stage == stageVerified:
		e.Done = append(e.Done, e.Current())
		e.Plan = e.Plan[1:]
		clearPending(e)
		e.Stage = stageSetup
		if len(e.Plan) == 0 {
			e.Stage = stageComplete
			if e.Adding {
				e.Finished = true // back to My Account, which lists the methods
				h.saveAndAdvance(w, r, f)
				return
			}
		}
	case action == "done" && e.Stage == stageComplete:
		e.Finished = true
		h.saveAndAdvance(w, r, f)
		return
	default:
		retry("That step is not available now. Continue from this page.")
		return
	}
	if !h.saveFlow(w, r, f) {
		return
	}
	h.redirectToStep(w, r, f)
}

func clearPending(e *flow.Enrollment) {
	e.Secret, e.Phone, e.Email, e.Country, e.Factor = nil, "", "", "", ""
}

func enrollScope(f *flow.Flow, to string) string { return "enroll:" + f.ID + ":" + to }

// enrollSend validates the phone number or address and sends a code; it
// returns a message for the person when it cannot.
func (h *Handler) enrollSend(r *http.Request, ec *enrollContext, resend bool) string {
	f, e := ec.f, ec.f.Enroll
	req := mfa.CodeRequest{UserID: f.UserID, IP: clientIP(r)}
	switch kind := mfa.Kind(e.Current()); {
	case kind.IsPhone():
		if !resend {
			factor := mfa.Factor(r.PostFormValue("factor"))
			if (factor != mfa.FactorSMS && factor != mfa.FactorVoice) || !ec.pol.Allows(factor) {
				return "Choose Text me a code or Call me."
			}
			e.Country, e.Factor = r.PostFormValue("country"), string(factor)
			e164, region, err := mfa.ParsePhone(e.Country, r.PostFormValue("number"), factor, ec.pol.AllowedCountries)
			if err != nil {
				return err.Error()
			}
			if slices.ContainsFunc(ec.have, func(m mfa.Method) bool { return m.Phone == e164 }) {
				return "That phone number is already registered. Enter a different one."
			}
			e.Phone, e.Country = e164, region
		}
		req.Factor, req.To = mfa.Factor(e.Factor), e.Phone
	case kind == mfa.Email:
		if !resend {
			addr, err := identity.NormalizeEmail(r.PostFormValue("email"))
			if err != nil || addr == "" {
				return "Enter a valid email address, like name@example.com."
			}
			_, domain, _ := strings.Cut(addr, "@")
			for _, blocked := range ec.pol.BlockedEmailDomains {
				if strings.EqualFold(domain, blocked) || strings.HasSuffix(strings.ToLower(domain), "."+strings.ToLower(blocked)) {
					return "Use a personal email address, not one from " + blocked + "."
				}
			}
			e.Email = addr
		}
		req.Factor, req.To = mfa.FactorEmail, e.Email
	default:
		return "That step is not available now. Continue from this page."
	}
	req.Scope, req.Countries = enrollScope(f, req.To), ec.pol.AllowedCountries
	return h.sendFailure(r, h.mfa.SendCode(r.Context(), req, ec.pol.Limits))
}

// register stores a verified method and credits the sign-in with it: the
// person has just proved a second factor.
func (h *Handler) register(w http.ResponseWriter, r *http.Request, ec *enrollContext, m *mfa.Method, factor mfa.Factor) bool {
	if err := h.mfa.Register(r.Context(), m, ec.f.UserID, clientIP(r)); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't save your security info. Try again in a moment.", err)
		return false
	}
	h.notifyChange(r.Context(), ec.u, m.Phone+m.Email, noticeAdded)
	h.creditMFA(ec.f, factor)
	ec.f.Enroll.Stage = stageVerified
	return true
}

// creditMFA records a proved factor on the flow.
func (h *Handler) creditMFA(f *flow.Flow, factor mfa.Factor) {
	f.AuthTime = time.Now().UTC()
	f.MFAAt = f.AuthTime
	f.ACR = assurance.MFA
	for _, v := range []string{factor.AMR(), assurance.AMRMFA} {
		if !slices.Contains(f.AMR, v) {
			f.AMR = append(f.AMR, v)
		}
	}
}

// mayPutOff reports whether registration can be put off in this sign-in at
// all: grace is for people with nothing registered yet, and it cannot
// waive an application's own demand for MFA.
func (h *Handler) mayPutOff(f *flow.Flow) bool {
	return !f.Enroll.Adding && !(f.HasMethods && f.RequiredMFA()) && assurance.Rank(f.RequiredACR) < assurance.Rank(assurance.MFA)
}

// skip lets a person put registration off while the grace allows it.
func (h *Handler) skip(w http.ResponseWriter, r *http.Request, ec *enrollContext) bool {
	f := ec.f
	if !h.mayPutOff(f) || !ec.pol.CanSkip(ec.st, time.Now()).Allowed {
		return false
	}
	ec.st.Skips++
	if err := h.mfa.SaveState(r.Context(), ec.st); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't continue your sign-in. Try again in a moment.", err)
		return true
	}
	h.audit.Record(r.Context(), audit.Event{Type: "mfa.enroll_skipped", SubjectID: f.UserID, ActorID: f.UserID, IP: clientIP(r),
		Details: map[string]string{"skips": itoa(ec.st.Skips)}})
	f.Enroll.Finished, f.Deferred = true, true
	if !f.HasMethods && f.ACR != assurance.MFA {
		f.PolicyMFA = false // the grace waives the policy's MFA for this sign-in
	}
	h.saveAndAdvance(w, r, f)
	return true
}
