// Package enroll is the "Keep your account secure" interstitial: the
// registration of the security methods a person's policy requires, step
// by step as the district's guide shows it, and the same steps for a
// method added from My Account.
package enroll

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/wording"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// MFA is what registration needs of the methods service.
type MFA interface {
	Methods(ctx context.Context, userID string) ([]mfa.Method, error)
	State(ctx context.Context, userID string) (*mfa.State, error)
	SaveState(ctx context.Context, st *mfa.State) error
	AccessCodePending(ctx context.Context, userID string) (bool, error)
	SealSecret(secret string) []byte
	OpenSecret(sealed []byte) (string, error)
	CheckTOTP(ctx context.Context, sealed []byte, code, userID, ip string, lim mfa.Limits) error
	SendCode(ctx context.Context, r mfa.CodeRequest, lim mfa.Limits) error
	CheckCode(ctx context.Context, scope, code, userID, ip string, lim mfa.Limits) error
	Register(ctx context.Context, m *mfa.Method, actor, ip string) error
	Notify(ctx context.Context, userID, email string, methods []mfa.Method, skip, text string)
	RecoveryCodes(ctx context.Context, userID string) (mfa.RecoveryStatus, error)
	NewRecoveryCodes(ctx context.Context, userID, actor, ip string) ([]string, error)
}

// Handler serves the registration steps.
type Handler struct {
	*steps.Runner
	mfa   MFA
	pages *httpx.Pages
}

// New parses the page and returns the handler.
func New(run *steps.Runner, methods MFA) (*Handler, error) {
	pages, err := httpx.ParsePages("enroll", "recovery_codes")
	if err != nil {
		return nil, err
	}
	return &Handler{Runner: run, mfa: methods, pages: pages}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+steps.PathEnroll, h.page)
	mux.HandleFunc("POST "+steps.PathEnroll, h.submit)
}

// request is what every registration request needs.
type request struct {
	f    *flow.Flow
	e    *flow.Enrollment
	u    *identity.User
	pol  policy.Policy
	st   *mfa.State
	have []mfa.Method
	// offerCodes is set at "Setup is now complete" for someone without
	// recovery codes.
	offerCodes bool
}

// load loads what a registration step needs. What guards registration is
// decided again on every step, not once at the password: a sign-in parked
// here must prove one of the owner's methods once the owner has registered
// one, and the access code once the Help Desk has issued one.
func (h *Handler) load(w http.ResponseWriter, r *http.Request, f *flow.Flow) (*request, bool) {
	ctx := r.Context()
	u, ok := h.User(w, r, f)
	if !ok {
		return nil, false
	}
	q := request{f: f, e: f.Enroll, u: u, pol: h.Policy.For(ctx, u)}
	var err error
	if q.st, err = h.mfa.State(ctx, u.ID); err == nil {
		if q.have, err = h.mfa.Methods(ctx, u.ID); err == nil {
			err = h.loadCodes(ctx, &q)
		}
	}
	if err == nil {
		var moved bool
		if moved, err = h.guardChanged(w, r, &q); err == nil {
			return &q, !moved
		}
	}
	h.Unavailable(w, r, "We couldn't load your security info. Try again in a moment.", err)
	return nil, false
}

// loadCodes decides whether "Setup is now complete" offers recovery codes:
// the wizard's end, once a first method is there to be the codes' backup
// and the person has just proved it, rather than between the "Method N of
// M" steps the guide walks through.
func (h *Handler) loadCodes(ctx context.Context, q *request) error {
	if q.e.Stage != flow.StageComplete || len(q.have) == 0 {
		return nil
	}
	codes, err := h.mfa.RecoveryCodes(ctx, q.u.ID)
	q.offerCodes = err == nil && codes.Left == 0
	return err
}

// guardChanged sends a flow that has proved no second factor to the
// challenge when the person now has methods it did not know of (dropping
// from its plan the kinds registered meanwhile), or an access code is now
// pending. It reports whether it answered the request.
func (h *Handler) guardChanged(w http.ResponseWriter, r *http.Request, q *request) (bool, error) {
	f := q.f
	if f.ACR == assurance.MFA {
		return false, nil
	}
	if len(q.have) == 0 {
		if f.AccessCode {
			return false, nil
		}
		pending, err := h.mfa.AccessCodePending(r.Context(), f.UserID)
		if err != nil || !pending {
			return false, err
		}
		f.AccessCode = true
		h.SaveAndAdvance(w, r, f)
		return true, nil
	}
	f.HasMethods = true
	q.e.Existing = len(q.have)
	q.e.Plan = slices.DeleteFunc(q.e.Plan, func(k string) bool { return wording.Registered(q.have, mfa.Kind(k)) })
	clearPending(q.e)
	q.e.Stage = flow.StageSetup
	if len(q.e.Plan) == 0 {
		q.e.Finished = true
	}
	h.SaveAndAdvance(w, r, f)
	return true, nil
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadAt(w, r, flow.StepEnroll)
	if !ok {
		return
	}
	q, ok := h.load(w, r, f)
	if !ok {
		return
	}
	if q.e.Stage == flow.StageSetup && q.e.Current() == string(mfa.App) && q.e.Secret == nil {
		enr, err := mfa.NewTOTP(h.Site.District, q.u.Username)
		if err != nil {
			h.Fail(w, r, http.StatusInternalServerError, "Sign-in unavailable", "We couldn't set up the authenticator app. Try again.", err)
			return
		}
		q.e.Secret = h.mfa.SealSecret(enr.Secret)
		if !h.Save(w, r, f) {
			return
		}
	}
	h.render(w, q, http.StatusOK, "", "")
}

type stepView struct {
	Name          string
	Current, Done bool
}

// enrollView is the wizard's state as the page shows it.
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
	Others                []httpx.Choice
	Methods               []string
	Default               string
	OfferCodes            bool
	Skip                  policy.SkipAllowance
}

type enrollPage struct {
	steps.Page
	Enroll *enrollView
}

func (h *Handler) render(w http.ResponseWriter, q *request, status int, errMsg, notice string) {
	e := q.e
	v := &enrollView{Stage: e.Stage, Kind: e.Current(), KindName: wording.KindName(mfa.Kind(e.Current())),
		IsPhone: mfa.Kind(e.Current()).IsPhone(), Adding: e.Adding, Skip: q.pol.CanSkip(q.st, time.Now()), OfferCodes: q.offerCodes}
	if !mayPutOff(q.f) {
		v.Skip = policy.SkipAllowance{}
	}
	v.Total = e.Existing + len(e.Done) + len(e.Plan)
	v.Step = e.Existing + len(e.Done) + 1
	v.Steps = progress(q)
	for _, k := range q.pol.AllowedKinds() {
		if string(k) != e.Current() && !wording.Registered(q.have, k) && !slices.Contains(e.Done, string(k)) {
			v.Others = append(v.Others, httpx.Choice{Value: string(k), Label: wording.Label(k)})
		}
	}
	h.describeStage(v, q)
	p := enrollPage{Page: h.Page(w, q.f, "Keep your account secure"), Enroll: v}
	p.Error, p.Notice = errMsg, notice
	h.pages.Render(w, status, "enroll", p)
}

// progress is the row of steps above the wizard: methods registered
// before, those done in this sign-in, and those still to come.
func progress(q *request) []stepView {
	var out []stepView
	e := q.e
	for _, m := range q.have[:min(e.Existing, len(q.have))] {
		out = append(out, stepView{Name: wording.KindName(m.Kind), Done: true})
	}
	for _, k := range e.Done {
		out = append(out, stepView{Name: wording.KindName(mfa.Kind(k)), Done: true})
	}
	for i, k := range e.Plan {
		out = append(out, stepView{Name: wording.KindName(mfa.Kind(k)), Current: i == 0 && e.Stage != flow.StageComplete})
	}
	return out
}

// describeStage fills in what the current stage shows of the method being
// set up.
func (h *Handler) describeStage(v *enrollView, q *request) {
	e := q.e
	switch {
	case e.Stage == flow.StageComplete:
		for _, m := range q.have {
			v.Methods = append(v.Methods, wording.Describe(m))
			if m.IsDefault {
				v.Default = wording.Describe(m)
			}
		}
	case e.Current() == string(mfa.App) && e.Secret != nil:
		if secret, err := h.mfa.OpenSecret(e.Secret); err == nil {
			if enr, err := mfa.TOTPFromSecret(h.Site.District, q.u.Username, secret); err == nil {
				v.QRCode, v.Secret = template.URL(enr.QRCode), mfa.GroupSecret(secret)
			}
		}
	case v.IsPhone:
		v.Countries, v.Country, v.Factor = mfa.Countries(q.pol.AllowedCountries), e.Country, e.Factor
		v.SMS, v.Voice = q.pol.Allows(mfa.FactorSMS), q.pol.Allows(mfa.FactorVoice)
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
	if e.Stage == flow.StageVerified {
		v.Verified = verifiedText(e)
	}
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

// mayPutOff reports whether registration can be put off in this sign-in at
// all: grace is for people with nothing registered yet, and it cannot
// waive an application's own demand for MFA.
func mayPutOff(f *flow.Flow) bool {
	return !f.Enroll.Adding && !(f.HasMethods && f.RequiredMFA()) && assurance.Rank(f.RequiredACR) < assurance.Rank(assurance.MFA)
}

func clearPending(e *flow.Enrollment) {
	e.Secret, e.Phone, e.Email, e.Country, e.Factor = nil, "", "", "", ""
}
