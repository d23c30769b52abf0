package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Self-service password reset: "Can't access your account?" → username →
// proofs on the number of different channels the policy requires → a new
// password. Until a first proof every username, known or not, with methods
// or without, sees the same pages and choices, and no masked number or
// address: a choice that matches nothing the person can use becomes a
// decoy that runs like a real proof and never succeeds.

const (
	resetCookie   = "gatehouse_reset"
	resetLifetime = 15 * time.Minute
)

// Reset stages.
const (
	resetChoose      = "choose"
	resetCode        = "code"
	resetApp         = "app"
	resetQuestions   = "questions"
	resetPassword    = "password"
	resetDone        = "done"
	resetUnavailable = "unavailable"
	resetLocked      = "locked"
)

// resetSession is one password reset, kept in Redis for 15 minutes.
type resetSession struct {
	Username  string    `json:"username"`
	UserID    string    `json:"user_id,omitempty"` // empty for an unknown username
	Stage     string    `json:"stage"`
	Option    string    `json:"option,omitempty"` // the method being proved: "<channel>|<factor>"
	Proved    []string  `json:"proved,omitempty"` // channels proved
	Decoy     bool      `json:"decoy,omitempty"`  // the proof under way matches nothing registered
	Drawn     []string  `json:"drawn,omitempty"`  // security questions asked
	ReturnTo  string    `json:"return,omitempty"` // the sign-in to go back to
	CreatedAt time.Time `json:"created_at"`

	// Source is who started the reset; its SSPR lock is theirs alone.
	Source lockout.Source `json:"source"`
}

type resetView struct {
	Stage      string
	FirstProof bool // nothing proved yet: the choices are everyone's
	Step, Of   int
	Options    []choice
	Factor     string
	MaskedTo   string
	Questions  []questions.Question
	SignInHref string
}

// resetOption is one way to prove identity for a reset.
type resetOption struct{ channel, factor, to, label string }

func (o resetOption) value() string { return o.channel + "|" + o.factor }

// resetAppChannel is every authenticator app a person registered.
const resetAppChannel = "app"

// firstProofOptions are the choices every username is offered before a
// first proof: the district's default methods, with no number or address.
// Their channels name the kind of a person's real channels ("phone" for
// "phone:+1704…").
func (h *Handler) firstProofOptions(ctx context.Context) []resetOption {
	pol := h.policy.For(ctx, nil)
	var opts []resetOption
	for _, o := range []resetOption{
		{channel: resetAppChannel, factor: string(mfa.FactorApp), label: "Enter a code from my authenticator app"},
		{channel: "phone", factor: string(mfa.FactorSMS), label: "Text my mobile phone"},
		{channel: "phone", factor: string(mfa.FactorVoice), label: "Call my mobile phone"},
		{channel: "email", factor: string(mfa.FactorEmail), label: "Email my alternate email"},
	} {
		if pol.Allows(mfa.Factor(o.factor)) {
			opts = append(opts, o)
		}
	}
	if h.questions != nil && pol.SSPR.QuestionsToAnswer > 0 {
		opts = append(opts, resetOption{channel: "questions", factor: "questions", label: "Answer my security questions"})
	}
	return opts
}

func resetKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "reset:" + hex.EncodeToString(sum[:])
}

// loadReset returns the browser's password reset, nil when it has none,
// and an error only when Redis did not answer: an outage is not an expiry.
func (h *Handler) loadReset(r *http.Request) (*resetSession, string, error) {
	ck, err := r.Cookie(resetCookie)
	if err != nil || ck.Value == "" {
		return nil, "", nil
	}
	data, err := h.kv.Get(r.Context(), resetKey(ck.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var rs resetSession
	if json.Unmarshal(data, &rs) != nil || time.Since(rs.CreatedAt) > resetLifetime {
		return nil, "", nil
	}
	return &rs, ck.Value, nil
}

func (h *Handler) saveReset(ctx context.Context, token string, rs *resetSession) error {
	data, err := json.Marshal(rs)
	if err != nil {
		return err
	}
	ttl := resetLifetime - time.Since(rs.CreatedAt)
	if ttl <= 0 {
		return errResetExpired
	}
	return h.kv.Put(ctx, resetKey(token), data, ttl)
}

// resetNotSaved answers a reset step whose state could not be stored:
// expired only when its lifetime is over, otherwise Redis did not answer.
func (h *Handler) resetNotSaved(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errResetExpired) {
		h.fail(w, r, http.StatusBadRequest, "Password reset expired", "Your password reset session has expired. Start again.", err)
		return
	}
	h.fail(w, r, http.StatusServiceUnavailable, "Password reset unavailable", "We couldn't save your progress. Try again in a moment.", err)
}

var (
	errResetExpired = errors.New("password reset expired")
	errWrongAnswers = errors.New("One or more of your answers didn't match. Answer these questions instead.")
)

func (h *Handler) resetStart(w http.ResponseWriter, r *http.Request) {
	p := h.page("Get back into your account")
	p.CSRF = h.csrf.token(h.csrf.browserID(w, r))
	p.FlowID = r.URL.Query().Get("flow")
	p.Reset = &resetView{Stage: "username"}
	h.pages.render(w, http.StatusOK, "reset", p)
}

// resetBegin takes the username. Known or not, the same lookups run, the
// same cookie is set and the same redirect follows.
func (h *Handler) resetBegin(w http.ResponseWriter, r *http.Request) {
	if !h.csrf.valid(r) {
		h.fail(w, r, http.StatusForbidden, "Page expired", "This page was open too long. Start the password reset again.", nil)
		return
	}
	ctx := r.Context()
	name, err := identity.NormalizeUsername(r.PostFormValue("username"), h.opt.Domain)
	if err != nil {
		p := h.page("Get back into your account")
		p.CSRF, p.Error, p.Username = h.csrf.token(h.csrf.browserID(w, r)), "Enter a valid username, like name@"+h.opt.Domain+".", r.PostFormValue("username")
		p.FlowID, p.Reset = r.URL.Query().Get("flow"), &resetView{Stage: "username"}
		h.pages.render(w, http.StatusUnprocessableEntity, "reset", p)
		return
	}
	// Each start can send codes, and probes usernames.
	try := h.attempt(w, r, name)
	if ok, err := h.lockout.ResetStart(ctx, name, try); err == nil && !ok {
		h.audit.Record(ctx, audit.Event{Type: "sspr.limit_reached", Outcome: "failure", IP: clientIP(r)})
		p := h.page("Get back into your account")
		p.CSRF, p.Error = h.csrf.token(h.csrf.browserID(w, r)), "Too many password resets. Wait an hour and try again, or contact the Help Desk."
		p.FlowID, p.Reset = r.URL.Query().Get("flow"), &resetView{Stage: "username"}
		h.pages.render(w, http.StatusTooManyRequests, "reset", p)
		return
	}
	rs := &resetSession{Username: name, Source: try.Source, CreatedAt: time.Now().UTC()}
	if id := r.URL.Query().Get("flow"); id != "" {
		rs.ReturnTo = "/login/username?flow=" + url.QueryEscape(id)
	}
	u, err := h.users.Find(ctx, name)
	switch {
	case err == nil:
		rs.UserID = u.ID
	case !errors.Is(err, store.ErrNotFound):
		h.fail(w, r, http.StatusServiceUnavailable, "Password reset unavailable", "We couldn't start the password reset. Try again in a moment.", err)
		return
	}
	rs.Stage = h.resetEntryStage(r, rs)
	token := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	if err := h.saveReset(ctx, token, rs); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Password reset unavailable", "We couldn't start the password reset. Try again in a moment.", err)
		return
	}
	h.audit.Record(ctx, audit.Event{Type: "sspr.started", SubjectID: rs.UserID, IP: clientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"username": name, "stage": rs.Stage}})
	http.SetCookie(w, &http.Cookie{Name: resetCookie, Value: token, Path: "/reset", MaxAge: int(resetLifetime.Seconds()),
		HttpOnly: true, Secure: h.opt.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/reset/verify", http.StatusSeeOther)
}

// resetEntryStage decides where verification starts: the same stage for
// every username that is not locked.
func (h *Handler) resetEntryStage(r *http.Request, rs *resetSession) string {
	ctx := r.Context()
	if until, err := h.lockout.SSPRLocked(ctx, rs.Username, rs.Source); err == nil && !until.IsZero() {
		return resetLocked
	}
	return resetChoose
}

// resetOptions lists the ways this person can prove who they are, and how
// many different channels the policy requires (0: reset not allowed).
func (h *Handler) resetOptions(ctx context.Context, subject string, u *identity.User) ([]resetOption, int, error) {
	methods, err := h.mfa.Methods(ctx, subject)
	if err != nil {
		return nil, 0, err
	}
	var answers []questions.Answer
	if h.questions != nil {
		if answers, err = h.questions.Registered(ctx, subject); err != nil {
			return nil, 0, err
		}
	}
	if u == nil {
		return nil, 0, nil
	}
	pol := h.policy.For(ctx, u)
	if !pol.SSPR.Enabled {
		return nil, 0, nil
	}
	required := pol.SSPR.MethodsRequired
	privileged := u.Privileged()
	if privileged {
		required = max(required, 2) // administrators always need two gates, never questions
	}
	var opts []resetOption
	for _, m := range methods {
		switch m.Kind {
		case mfa.App:
			// Every authenticator app is one channel: two apps on one
			// phone are one gate, so they are offered (and checked) as one.
			if !slices.ContainsFunc(opts, func(o resetOption) bool { return o.channel == resetAppChannel }) {
				opts = append(opts, resetOption{channel: resetAppChannel, factor: string(mfa.FactorApp),
					label: "Enter a code from my authenticator app"})
			}
		case mfa.Phone: // the alternate phone is for sign-in only
			if pol.Allows(mfa.FactorSMS) {
				opts = append(opts, resetOption{channel: "phone:" + m.Phone, factor: string(mfa.FactorSMS), to: m.Phone,
					label: "Text my mobile phone " + mfa.MaskPhone(m.Phone)})
			}
			if pol.Allows(mfa.FactorVoice) {
				opts = append(opts, resetOption{channel: "phone:" + m.Phone, factor: string(mfa.FactorVoice), to: m.Phone,
					label: "Call my mobile phone " + mfa.MaskPhone(m.Phone)})
			}
		case mfa.Email:
			opts = append(opts, resetOption{channel: "email:" + m.Email, factor: string(mfa.FactorEmail), to: m.Email,
				label: "Email my alternate email " + mfa.MaskEmail(m.Email)})
		}
	}
	if !privileged && len(answers) >= pol.SSPR.QuestionsToAnswer && len(answers) > 0 {
		opts = append(opts, resetOption{channel: "questions", factor: "questions", label: "Answer my security questions"})
	}
	return opts, required, nil
}

// decoyQuestions draws n questions from the catalog, for someone who has
// none registered: the page looks as it would for someone who has.
func decoyQuestions(c questions.Catalog, n int) []questions.Question {
	perm := mrand.Perm(len(c))
	out := make([]questions.Question, 0, n)
	for _, i := range perm[:min(n, len(perm))] {
		out = append(out, c[i])
	}
	return out
}

func distinctChannels(opts []resetOption) int {
	seen := map[string]bool{}
	for _, o := range opts {
		seen[o.channel] = true
	}
	return len(seen)
}

// resetContext is what every verification request needs.
type resetContext struct {
	rs        *resetSession
	token     string
	u         *identity.User // nil for an unknown username
	pol       policy.Policy
	opts      []resetOption
	firstOpts []resetOption // what everyone is offered before a first proof
	required  int
}

// subject keys limits and lookups: the user, or the username when unknown,
// so one unknown name's decoys do not count against another's.
func (rc *resetContext) subject() string {
	if rc.rs.UserID != "" {
		return rc.rs.UserID
	}
	return "unknown:" + rc.rs.Username
}

// available reports whether this person may reset here at all: told only
// after a first proof.
func (rc *resetContext) available() bool {
	return rc.u != nil && !rc.u.Disabled && rc.required > 0 && distinctChannels(rc.opts) >= rc.required
}

func (h *Handler) loadResetContext(w http.ResponseWriter, r *http.Request) (*resetContext, bool) {
	rs, token, err := h.loadReset(r)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Password reset unavailable", "We couldn't continue your password reset. Try again in a moment.", err)
		return nil, false
	}
	if rs == nil {
		h.fail(w, r, http.StatusBadRequest, "Password reset expired", "Your password reset session has expired. Start again.", nil)
		return nil, false
	}
	rc := &resetContext{rs: rs, token: token}
	if rs.Stage == resetUnavailable || rs.Stage == resetLocked || rs.Stage == resetDone {
		return rc, true
	}
	// The same lookups run for an unknown username, so timing does not
	// tell the two apart.
	ctx := r.Context()
	u, err := h.users.Get(ctx, rc.subject())
	switch {
	case err == nil:
		rc.u = u
	case errors.Is(err, store.ErrNotFound):
		err = nil
	}
	if err == nil {
		rc.pol, rc.firstOpts = h.policy.For(ctx, rc.u), h.firstProofOptions(ctx)
		rc.opts, rc.required, err = h.resetOptions(ctx, rc.subject(), rc.u)
	}
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Password reset unavailable", "We couldn't continue the password reset. Try again in a moment.", err)
		return nil, false
	}
	return rc, true
}

func (h *Handler) resetVerifyPage(w http.ResponseWriter, r *http.Request) {
	rc, ok := h.loadResetContext(w, r)
	if ok {
		h.renderReset(w, r, rc, http.StatusOK, "", "")
	}
}

func (h *Handler) renderReset(w http.ResponseWriter, r *http.Request, rc *resetContext, status int, errMsg, notice string) {
	rs := rc.rs
	v := &resetView{Stage: rs.Stage, FirstProof: len(rs.Proved) == 0, Step: len(rs.Proved) + 1, Of: rc.required, SignInHref: rs.ReturnTo}
	if v.SignInHref == "" {
		v.SignInHref = "/account"
	}
	offered := rc.opts
	if v.FirstProof {
		// Everyone sees the same choices and the default number of steps;
		// the person's own (masked) methods only after a first proof.
		offered, v.Of = rc.firstOpts, h.policy.For(r.Context(), nil).SSPR.MethodsRequired
	}
	for _, o := range offered {
		if !slices.Contains(rs.Proved, o.channel) {
			v.Options = append(v.Options, choice{Value: o.value(), Label: o.label})
		}
	}
	if o := rc.option(); o != nil {
		v.Factor = o.factor
		switch {
		case v.FirstProof || o.to == "":
		case o.factor == string(mfa.FactorEmail):
			v.MaskedTo = mfa.MaskEmail(o.to)
		default:
			v.MaskedTo = mfa.MaskPhone(o.to)
		}
	}
	if rs.Stage == resetQuestions {
		for _, id := range rs.Drawn {
			if q, ok := h.questions.Catalog().Find(id); ok {
				v.Questions = append(v.Questions, q)
			} else if answers, err := h.questions.Registered(r.Context(), rs.UserID); err == nil {
				for _, a := range answers {
					if a.QuestionID == id {
						v.Questions = append(v.Questions, questions.Question{ID: id, Text: a.QuestionText})
					}
				}
			}
		}
	}
	p := h.page("Get back into your account")
	p.CSRF, p.Error, p.Notice, p.Reset = h.csrf.token(h.csrf.browserID(w, r)), errMsg, notice, v
	p.Username = rs.Username
	h.pages.render(w, status, "reset", p)
}

// option is the method being proved now.
func (rc *resetContext) option() *resetOption {
	opts := rc.opts
	if rc.rs.Decoy {
		opts = rc.firstOpts
	}
	for i := range opts {
		if opts[i].value() == rc.rs.Option {
			return &opts[i]
		}
	}
	return nil
}

// choose resolves the option chosen on the page. Before a first proof a
// choice is one of everyone's; it proves the person's own method of that
// kind, or, when they have none they can use, becomes a decoy.
func (rc *resetContext) choose(value string) *resetOption {
	rs := rc.rs
	rs.Option, rs.Decoy = value, false
	if len(rs.Proved) > 0 {
		o := rc.option()
		if o == nil || slices.Contains(rs.Proved, o.channel) {
			return nil
		}
		return o
	}
	i := slices.IndexFunc(rc.firstOpts, func(o resetOption) bool { return o.value() == value })
	if i < 0 {
		return nil
	}
	kind := rc.firstOpts[i]
	if rc.u != nil && !rc.u.Disabled {
		for j, o := range rc.opts {
			if channelKind, _, _ := strings.Cut(o.channel, ":"); channelKind == kind.channel && o.factor == kind.factor {
				rs.Option = o.value()
				return &rc.opts[j]
			}
		}
	}
	rs.Decoy = true
	return &rc.firstOpts[i]
}

func (h *Handler) resetVerify(w http.ResponseWriter, r *http.Request) {
	if !h.csrf.valid(r) {
		h.fail(w, r, http.StatusForbidden, "Page expired", "This page was open too long. Start the password reset again.", nil)
		return
	}
	rc, ok := h.loadResetContext(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	rs := rc.rs
	retry := func(msg string) { h.renderReset(w, r, rc, http.StatusUnprocessableEntity, msg, "") }
	if until, err := h.lockout.SSPRLocked(ctx, rs.Username, rs.Source); err == nil && !until.IsZero() {
		rs.Stage = resetLocked
		h.saveAndRenderReset(w, r, rc, "")
		return
	}
	switch action := r.PostFormValue("action"); {
	case action == "choose" && (rs.Stage == resetChoose || rs.Stage == resetCode || rs.Stage == resetApp || rs.Stage == resetQuestions):
		o := rc.choose(r.PostFormValue("option"))
		if o == nil {
			rs.Stage = resetChoose
			retry("Choose one of the ways listed.")
			return
		}
		if msg := h.resetBeginProof(r, rc, o); msg != "" {
			rs.Stage = resetChoose
			retry(msg)
			return
		}
	case action == "resend" && rs.Stage == resetCode && rc.option() != nil:
		if msg := h.resetBeginProof(r, rc, rc.option()); msg != "" {
			retry(msg)
			return
		}
		h.saveAndRenderReset(w, r, rc, "We sent a new code.")
		return
	case action == "back" && rs.Stage != resetPassword:
		rs.Stage, rs.Option = resetChoose, ""
	case action == "verify" && (rs.Stage == resetCode || rs.Stage == resetApp || rs.Stage == resetQuestions):
		if msg := h.resetCheckProof(r, rc); msg != "" {
			if err := h.saveReset(ctx, rc.token, rs); err != nil {
				h.resetNotSaved(w, r, err)
				return
			}
			retry(msg)
			return
		}
	case action == "password" && rs.Stage == resetPassword:
		h.resetSetPassword(w, r, rc)
		return
	default:
		retry("That step is not available now. Continue from this page.")
		return
	}
	if err := h.saveReset(ctx, rc.token, rs); err != nil {
		h.resetNotSaved(w, r, err)
		return
	}
	http.Redirect(w, r, "/reset/verify", http.StatusSeeOther)
}

func (h *Handler) saveAndRenderReset(w http.ResponseWriter, r *http.Request, rc *resetContext, notice string) {
	if err := h.saveReset(r.Context(), rc.token, rc.rs); err != nil {
		h.resetNotSaved(w, r, err)
		return
	}
	h.renderReset(w, r, rc, http.StatusOK, "", notice)
}

// resetBeginProof sends a code, or draws questions, for the chosen option.
func (h *Handler) resetBeginProof(r *http.Request, rc *resetContext, o *resetOption) string {
	ctx := r.Context()
	rs := rc.rs
	switch o.factor {
	case string(mfa.FactorApp):
		rs.Stage = resetApp
		return ""
	case "questions":
		drawn, err := h.questions.Draw(ctx, rs.UserID, rc.pol.SSPR.QuestionsToAnswer)
		if rs.Decoy {
			drawn, err = decoyQuestions(h.questions.Catalog(), rc.pol.SSPR.QuestionsToAnswer), nil
		}
		if err != nil {
			return "We couldn't load your security questions. Try again in a moment."
		}
		rs.Drawn = rs.Drawn[:0]
		for _, q := range drawn {
			rs.Drawn = append(rs.Drawn, q.ID)
		}
		rs.Stage = resetQuestions
		return ""
	}
	if o.factor == string(mfa.FactorEmail) {
		if until, err := h.lockout.SSPREmailSent(ctx, rs.Username, rs.Source); err == nil && !until.IsZero() {
			h.audit.Record(ctx, audit.Event{Type: "sspr.locked", Outcome: "failure", SubjectID: rs.UserID, IP: clientIP(r),
				Details: map[string]string{"reason": "too many emails"}})
			rs.Stage = resetLocked
			return lockout.MsgSSPRLocked
		}
	}
	msg := h.sendFailure(r, h.mfa.SendCode(ctx, mfa.CodeRequest{Scope: "reset:" + rc.token + ":" + o.to, UserID: rc.subject(),
		IP: clientIP(r), Factor: mfa.Factor(o.factor), To: o.to, Countries: rc.pol.AllowedCountries, Decoy: rs.Decoy}, rc.pol.Limits))
	if msg == "" {
		rs.Stage = resetCode
	}
	return msg
}

// resetCheckProof verifies the current proof. A failure counts toward the
// SSPR lockout; wrong answers to security questions redraw them.
func (h *Handler) resetCheckProof(r *http.Request, rc *resetContext) string {
	ctx := r.Context()
	rs := rc.rs
	o := rc.option()
	if o == nil {
		rs.Stage = resetChoose
		return "Choose one of the ways listed."
	}
	var err error
	ok := false
	switch rs.Stage {
	case resetCode:
		err = h.mfa.CheckCode(ctx, "reset:"+rc.token+":"+o.to, r.PostFormValue("code"), rc.subject(), clientIP(r), rc.pol.Limits)
		ok = err == nil
	case resetApp:
		var sealed [][]byte
		methods, merr := h.mfa.Methods(ctx, rc.subject())
		for _, m := range methods {
			if m.Kind == mfa.App && !rs.Decoy {
				sealed = append(sealed, m.Secret)
			}
		}
		if err = merr; err == nil {
			err = h.mfa.CheckAnyTOTP(ctx, sealed, r.PostFormValue("code"), rc.subject(), clientIP(r), rc.pol.Limits)
		}
		ok = err == nil
	case resetQuestions:
		answers := map[string]string{}
		for _, id := range rs.Drawn {
			answers[id] = r.PostFormValue("answer_" + id)
		}
		ok, err = h.questions.Check(ctx, rc.subject(), answers)
		if err == nil && !ok {
			err = errWrongAnswers
		}
	}
	if ok && rs.Decoy { // never delivered, so never known: a decoy cannot pass
		ok, err = false, mfa.ErrInvalidCode
		if rs.Stage == resetQuestions {
			err = errWrongAnswers
		}
	}
	if ok {
		rs.Proved = append(rs.Proved, o.channel)
		rs.Option, rs.Drawn, rs.Stage = "", nil, resetChoose
		switch {
		case !rc.available():
			rs.Stage = resetUnavailable
		case len(rs.Proved) >= rc.required:
			rs.Stage = resetPassword
		}
		h.audit.Record(ctx, audit.Event{Type: "sspr.proof", SubjectID: rs.UserID, IP: clientIP(r),
			Details: map[string]string{"factor": o.factor, "proofs": itoa(len(rs.Proved))}})
		return ""
	}
	msg, known := checkFailure(err)
	switch {
	case errors.Is(err, errWrongAnswers):
		msg = err.Error()
	case !known:
		h.logger.Error("checking a reset proof", "err", err, "request_id", RequestID(ctx))
		return "We couldn't check that. Try again in a moment."
	}
	h.audit.Record(ctx, audit.Event{Type: "sspr.proof_failed", Outcome: "failure", SubjectID: rs.UserID, IP: clientIP(r),
		Details: map[string]string{"factor": o.factor}})
	if until, lerr := h.lockout.SSPRProofFailed(ctx, rs.Username, rs.Source); lerr == nil && !until.IsZero() {
		h.audit.Record(ctx, audit.Event{Type: "sspr.locked", Outcome: "failure", SubjectID: rs.UserID, IP: clientIP(r),
			Details: map[string]string{"reason": "too many failed proofs"}})
		rs.Stage = resetLocked
		return lockout.MsgSSPRLocked
	}
	if rs.Stage == resetQuestions {
		h.resetBeginProof(r, rc, o) // a wrong answer redraws the questions
	}
	return msg
}

// resetSetPassword finishes: the new password, then every session and app
// grant ends, lockouts clear, and the person is told on every channel.
func (h *Handler) resetSetPassword(w http.ResponseWriter, r *http.Request, rc *resetContext) {
	ctx := r.Context()
	rs := rc.rs
	retry := func(msg string) { h.renderReset(w, r, rc, http.StatusUnprocessableEntity, msg, "") }
	// Every session ends before the password changes: if that fails nothing
	// has changed and the person tries again, rather than being told their
	// account is safe while whoever they are locking out stays signed in.
	if err := h.users.EndSessions(ctx, rs.UserID); err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "Password not reset", "We couldn't reset your password. Try again in a moment.", err)
		return
	}
	if !h.setNewPassword(w, r, rs.UserID, retry) {
		return
	}
	for _, step := range []func() error{
		func() error { return h.lockout.Unlock(ctx, rs.Username) },
		func() error { return h.lockout.SSPRReset(ctx, rs.Username) },
		func() error { return h.signOutEverywhere(ctx, rs.UserID) },
	} {
		if err := step(); err != nil {
			h.logger.Error("after a password reset", "err", err, "request_id", RequestID(ctx))
		}
	}
	h.sessions.end(w, r)
	h.audit.Record(ctx, audit.Event{Type: "sspr.reset", ActorID: rs.UserID, SubjectID: rs.UserID, IP: clientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"proofs": strings.Join(rs.Proved, ",")}})
	h.notifyChange(ctx, rc.u, "", "The password for your account was reset. If this wasn't you, contact the Help Desk.")
	rs.Stage = resetDone
	if err := h.saveReset(ctx, rc.token, rs); err != nil {
		h.logger.Warn("saving a finished reset", "err", err)
	}
	http.Redirect(w, r, "/reset/verify", http.StatusSeeOther)
}
