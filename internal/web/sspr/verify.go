package sspr

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/wording"
)

var errWrongAnswers = errors.New("One or more of your answers didn't match. Answer these questions instead.")

// proving are the stages where a proof is under way.
var proving = []string{stageCode, stageApp, stageQuestions}

// button is one of the reset page's buttons: the action it posts, the
// stages that show it, and what it does.
type button struct {
	action string
	shown  func(q *request) bool
	press  func(h *Handler, w http.ResponseWriter, r *http.Request, q *request)
}

var buttons = []button{
	{"choose", func(q *request) bool { return q.rs.Stage == stageChoose || slices.Contains(proving, q.rs.Stage) }, (*Handler).choose},
	{"resend", func(q *request) bool { return q.rs.Stage == stageCode && q.option() != nil }, (*Handler).resend},
	// A finished reset (done, unavailable, locked) stays finished.
	{"back", func(q *request) bool { return q.rs.Stage != stagePassword && !q.finished() }, (*Handler).back},
	{"verify", func(q *request) bool { return slices.Contains(proving, q.rs.Stage) }, (*Handler).check},
	{"password", func(q *request) bool { return q.rs.Stage == stagePassword }, (*Handler).setPassword},
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	if !h.CSRF.Valid(r) {
		h.FormExpired(w, r, "Page expired", "This page was open too long. Start the password reset again.")
		return
	}
	q, ok := h.loadRequest(w, r)
	if !ok {
		return
	}
	if until, err := h.Lockout.SSPRLocked(r.Context(), q.rs.Username, q.rs.Source); err == nil && !until.IsZero() {
		q.rs.Stage = stageLocked
		h.saveAndRender(w, r, q, "")
		return
	}
	action := r.PostFormValue("action")
	for _, b := range buttons {
		if b.action == action && b.shown(q) {
			b.press(h, w, r, q)
			return
		}
	}
	h.retry(w, r, q, "That step is not available now. Continue from this page.")
}

func (h *Handler) retry(w http.ResponseWriter, r *http.Request, q *request, msg string) {
	h.render(w, r, q, http.StatusUnprocessableEntity, msg, "")
}

func (h *Handler) saveAndRender(w http.ResponseWriter, r *http.Request, q *request, notice string) {
	if err := h.save(r.Context(), q.token, q.rs); err != nil {
		h.notSaved(w, r, err)
		return
	}
	h.render(w, r, q, http.StatusOK, "", notice)
}

func (h *Handler) saveAndRedirect(w http.ResponseWriter, r *http.Request, q *request) {
	if err := h.save(r.Context(), q.token, q.rs); err != nil {
		h.notSaved(w, r, err)
		return
	}
	http.Redirect(w, r, "/reset/verify", http.StatusSeeOther)
}

// choose starts proving the option chosen on the page.
func (h *Handler) choose(w http.ResponseWriter, r *http.Request, q *request) {
	o := q.choose(r.PostFormValue("option"))
	if o == nil {
		q.rs.Stage = stageChoose
		h.retry(w, r, q, "Choose one of the ways listed.")
		return
	}
	if msg := h.beginProof(r, q, o); msg != "" {
		q.rs.Stage = stageChoose
		h.retry(w, r, q, msg)
		return
	}
	h.saveAndRedirect(w, r, q)
}

func (h *Handler) resend(w http.ResponseWriter, r *http.Request, q *request) {
	if msg := h.beginProof(r, q, q.option()); msg != "" {
		h.retry(w, r, q, msg)
		return
	}
	h.saveAndRender(w, r, q, "We sent a new code.")
}

func (h *Handler) back(w http.ResponseWriter, r *http.Request, q *request) {
	q.rs.Stage, q.rs.Option = stageChoose, ""
	h.saveAndRedirect(w, r, q)
}

// check verifies the proof under way; a failure is saved too (it may have
// locked the reset or redrawn the questions).
func (h *Handler) check(w http.ResponseWriter, r *http.Request, q *request) {
	msg := h.checkProof(r, q)
	if msg == "" {
		h.saveAndRedirect(w, r, q)
		return
	}
	if err := h.save(r.Context(), q.token, q.rs); err != nil {
		h.notSaved(w, r, err)
		return
	}
	h.retry(w, r, q, msg)
}

// beginProof sends a code, or draws questions, for the chosen option.
func (h *Handler) beginProof(r *http.Request, q *request, o *option) string {
	switch o.factor {
	case string(mfa.FactorApp):
		q.rs.Stage = stageApp
		return ""
	case "questions":
		return h.drawQuestions(r, q)
	case string(mfa.FactorEmail):
		if h.tooManyEmails(r, q) {
			return lockout.MsgSSPRLocked
		}
	}
	rs := q.rs
	msg := wording.SendFailure(h.Logger, r, h.MFA.SendCode(r.Context(), mfa.CodeRequest{Scope: codeScope(q, o), UserID: q.subject(),
		IP: httpx.ClientIP(r), Factor: mfa.Factor(o.factor), To: o.to, Countries: q.pol.AllowedCountries, Decoy: rs.Decoy}, q.pol.Limits))
	if msg == "" {
		rs.Stage = stageCode
	}
	return msg
}

func codeScope(q *request, o *option) string { return "reset:" + q.token + ":" + o.to }

func (h *Handler) drawQuestions(r *http.Request, q *request) string {
	rs := q.rs
	drawn, err := h.Questions.Draw(r.Context(), rs.UserID, q.pol.SSPR.QuestionsToAnswer)
	if rs.Decoy {
		drawn, err = decoyQuestions(h.Questions.Catalog(), q.pol.SSPR.QuestionsToAnswer), nil
	}
	if err != nil {
		return "We couldn't load your security questions. Try again in a moment."
	}
	rs.Drawn = rs.Drawn[:0]
	for _, d := range drawn {
		rs.Drawn = append(rs.Drawn, d.ID)
	}
	rs.Stage = stageQuestions
	return ""
}

// tooManyEmails locks the reset once it has sent too many emails.
func (h *Handler) tooManyEmails(r *http.Request, q *request) bool {
	rs := q.rs
	until, err := h.Lockout.SSPREmailSent(r.Context(), rs.Username, rs.Source)
	if err != nil || until.IsZero() {
		return false
	}
	h.Audit.Record(r.Context(), audit.Event{Type: "sspr.locked", Outcome: "failure", SubjectID: rs.UserID, IP: httpx.ClientIP(r),
		Details: map[string]string{"reason": "too many emails"}})
	rs.Stage = stageLocked
	return true
}

// checkProof verifies the current proof and returns what to tell the
// person when it fails.
func (h *Handler) checkProof(r *http.Request, q *request) string {
	o := q.option()
	if o == nil {
		q.rs.Stage = stageChoose
		return "Choose one of the ways listed."
	}
	err := h.proofError(r, q)
	if err == nil && q.rs.Decoy { // never delivered, so never known: a decoy cannot pass
		err = mfa.ErrInvalidCode
		if q.rs.Stage == stageQuestions {
			err = errWrongAnswers
		}
	}
	if err != nil {
		return h.proofFailed(r, q, o, err)
	}
	h.proved(r, q, o)
	return ""
}

// proofError checks what was typed against the proof under way.
func (h *Handler) proofError(r *http.Request, q *request) error {
	ctx, ip := r.Context(), httpx.ClientIP(r)
	switch q.rs.Stage {
	case stageCode:
		return h.MFA.CheckCode(ctx, codeScope(q, q.option()), r.PostFormValue("code"), q.subject(), ip, q.pol.Limits)
	case stageApp:
		methods, err := h.MFA.Methods(ctx, q.subject())
		if err != nil {
			return err
		}
		var sealed [][]byte
		for _, m := range methods {
			if m.Kind == mfa.App && !q.rs.Decoy {
				sealed = append(sealed, m.Secret)
			}
		}
		return h.MFA.CheckAnyTOTP(ctx, sealed, r.PostFormValue("code"), q.subject(), ip, q.pol.Limits)
	}
	answers := map[string]string{}
	for _, id := range q.rs.Drawn {
		answers[id] = r.PostFormValue("answer_" + id)
	}
	ok, err := h.Questions.Check(ctx, q.subject(), answers)
	if err == nil && !ok {
		err = errWrongAnswers
	}
	return err
}

// proved records a passed proof and decides what comes next: another
// proof, the new password, or "you can't reset here".
func (h *Handler) proved(r *http.Request, q *request, o *option) {
	rs := q.rs
	rs.Proved = append(rs.Proved, o.channel)
	rs.Option, rs.Drawn, rs.Stage = "", nil, stageChoose
	switch {
	case !q.available():
		rs.Stage = stageUnavailable
	case len(rs.Proved) >= q.required:
		rs.Stage = stagePassword
	}
	h.Audit.Record(r.Context(), audit.Event{Type: "sspr.proof", SubjectID: rs.UserID, IP: httpx.ClientIP(r),
		Details: map[string]string{"factor": o.factor, "proofs": strconv.Itoa(len(rs.Proved))}})
}

// proofFailed counts a failed proof toward the SSPR lockout; wrong answers
// to security questions redraw them.
func (h *Handler) proofFailed(r *http.Request, q *request, o *option, err error) string {
	ctx, rs := r.Context(), q.rs
	msg, known := wording.CheckFailure(err)
	switch {
	case errors.Is(err, errWrongAnswers):
		msg = err.Error()
	case !known:
		h.Logger.Error("checking a reset proof", "err", err, "request_id", httpx.RequestID(ctx))
		return "We couldn't check that. Try again in a moment."
	}
	h.Audit.Record(ctx, audit.Event{Type: "sspr.proof_failed", Outcome: "failure", SubjectID: rs.UserID, IP: httpx.ClientIP(r),
		Details: map[string]string{"factor": o.factor}})
	if until, lerr := h.Lockout.SSPRProofFailed(ctx, rs.Username, rs.Source); lerr == nil && !until.IsZero() {
		h.Audit.Record(ctx, audit.Event{Type: "sspr.locked", Outcome: "failure", SubjectID: rs.UserID, IP: httpx.ClientIP(r),
			Details: map[string]string{"reason": "too many failed proofs"}})
		rs.Stage = stageLocked
		return lockout.MsgSSPRLocked
	}
	if rs.Stage == stageQuestions {
		h.beginProof(r, q, o) // a wrong answer redraws the questions
	}
	return msg
}

// setPassword finishes: the new password, then every session and app
// grant ends, lockouts clear, and the person is told on every channel.
func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request, q *request) {
	ctx, rs := r.Context(), q.rs
	// Every session ends before the password changes: if that fails nothing
	// has changed and the person tries again, rather than being told their
	// account is safe while whoever they are locking out stays signed in.
	if err := h.Users.EndSessions(ctx, rs.UserID); err != nil {
		h.Busy(w, r, "Password not reset", "We couldn't reset your password. Try again in a moment.", err)
		return
	}
	problem, err := wording.SetNewPassword(r, h.Users, rs.UserID)
	switch {
	case err != nil:
		h.Busy(w, r, "Password not changed", "We couldn't set your new password. Try again in a moment.", err)
		return
	case problem != "":
		h.retry(w, r, q, problem)
		return
	}
	for _, step := range []func() error{
		func() error { return h.Lockout.Unlock(ctx, rs.Username) },
		func() error { return h.Lockout.SSPRReset(ctx, rs.Username) },
		func() error { return h.Sessions.SignOutEverywhere(ctx, rs.UserID) },
	} {
		if err := step(); err != nil {
			h.Logger.Error("after a password reset", "err", err, "request_id", httpx.RequestID(ctx))
		}
	}
	h.Sessions.End(w, r)
	h.Audit.Record(ctx, audit.Event{Type: "sspr.reset", ActorID: rs.UserID, SubjectID: rs.UserID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"proofs": strings.Join(rs.Proved, ",")}})
	wording.Tell(ctx, h.MFA, h.Logger, q.u, "", wording.NoticeReset)
	rs.Stage = stageDone
	if err := h.save(ctx, q.token, rs); err != nil {
		h.Logger.Warn("saving a finished reset", "err", err)
	}
	http.Redirect(w, r, "/reset/verify", http.StatusSeeOther)
}
