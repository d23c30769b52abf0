package sspr

import (
	"context"
	"errors"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/store"
)

// option is one way to prove identity for a reset.
type option struct{ channel, factor, to, label string }

func (o option) value() string { return o.channel + "|" + o.factor }

// appChannel is every authenticator app a person registered.
const appChannel = "app"

// firstProofOptions are the choices every username is offered before a
// first proof: the district's default methods, with no number or address.
// Their channels name the kind of a person's real channels ("phone" for
// "phone:+1704…").
func (h *Handler) firstProofOptions(ctx context.Context) []option {
	pol := h.Policy.For(ctx, nil)
	var opts []option
	for _, o := range []option{
		{channel: appChannel, factor: string(mfa.FactorApp), label: "Enter a code from my authenticator app"},
		{channel: "phone", factor: string(mfa.FactorSMS), label: "Text my mobile phone"},
		{channel: "phone", factor: string(mfa.FactorVoice), label: "Call my mobile phone"},
		{channel: "email", factor: string(mfa.FactorEmail), label: "Email my alternate email"},
	} {
		if pol.Allows(mfa.Factor(o.factor)) {
			opts = append(opts, o)
		}
	}
	if h.Questions != nil && pol.SSPR.QuestionsToAnswer > 0 {
		opts = append(opts, option{channel: "questions", factor: "questions", label: "Answer my security questions"})
	}
	return opts
}

// options lists the ways this person can prove who they are, and how many
// different channels the policy requires (0: reset not allowed). Recovery
// codes are never among them: a code is one sheet of paper standing in for
// a lost second factor at sign-in, and with a reset it would let whoever
// finds the sheet choose the password as well.
func (h *Handler) options(ctx context.Context, subject string, u *identity.User) ([]option, int, error) {
	methods, err := h.MFA.Methods(ctx, subject)
	if err != nil {
		return nil, 0, err
	}
	var answers []questions.Answer
	if h.Questions != nil {
		if answers, err = h.Questions.Registered(ctx, subject); err != nil {
			return nil, 0, err
		}
	}
	if u == nil {
		return nil, 0, nil
	}
	pol := h.Policy.For(ctx, u)
	if !pol.SSPR.Enabled {
		return nil, 0, nil
	}
	required := pol.SSPR.MethodsRequired
	privileged := u.Privileged()
	if privileged {
		required = max(required, 2) // administrators always need two gates, never questions
	}
	opts := methodOptions(pol, methods)
	if !privileged && len(answers) >= pol.SSPR.QuestionsToAnswer && len(answers) > 0 {
		opts = append(opts, option{channel: "questions", factor: "questions", label: "Answer my security questions"})
	}
	return opts, required, nil
}

// methodOptions are the registered methods a reset can prove. Every
// authenticator app is one channel: two apps on one phone are one gate, so
// they are offered (and checked) as one. The alternate phone is for
// sign-in only.
func methodOptions(pol policy.Policy, methods []mfa.Method) []option {
	var opts []option
	for _, m := range methods {
		switch m.Kind {
		case mfa.App:
			if !slices.ContainsFunc(opts, func(o option) bool { return o.channel == appChannel }) {
				opts = append(opts, option{channel: appChannel, factor: string(mfa.FactorApp), label: "Enter a code from my authenticator app"})
			}
		case mfa.Phone:
			opts = append(opts, phoneOptions(pol, m)...)
		case mfa.Email:
			opts = append(opts, option{channel: "email:" + m.Email, factor: string(mfa.FactorEmail), to: m.Email,
				label: "Email my alternate email " + mfa.MaskEmail(m.Email)})
		}
	}
	return opts
}

func phoneOptions(pol policy.Policy, m mfa.Method) []option {
	var opts []option
	if pol.Allows(mfa.FactorSMS) {
		opts = append(opts, option{channel: "phone:" + m.Phone, factor: string(mfa.FactorSMS), to: m.Phone,
			label: "Text my mobile phone " + mfa.MaskPhone(m.Phone)})
	}
	if pol.Allows(mfa.FactorVoice) {
		opts = append(opts, option{channel: "phone:" + m.Phone, factor: string(mfa.FactorVoice), to: m.Phone,
			label: "Call my mobile phone " + mfa.MaskPhone(m.Phone)})
	}
	return opts
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

func distinctChannels(opts []option) int {
	seen := map[string]bool{}
	for _, o := range opts {
		seen[o.channel] = true
	}
	return len(seen)
}

// request is what every verification request needs.
type request struct {
	rs        *reset
	token     string
	u         *identity.User // nil for an unknown username
	pol       policy.Policy
	opts      []option
	firstOpts []option // what everyone is offered before a first proof
	required  int
}

// subject keys limits and lookups: the user, or the username when unknown,
// so one unknown name's decoys do not count against another's.
func (q *request) subject() string {
	if q.rs.UserID != "" {
		return q.rs.UserID
	}
	return "unknown:" + q.rs.Username
}

// available reports whether this person may reset here at all: told only
// after a first proof.
func (q *request) available() bool {
	return q.u != nil && !q.u.Disabled && q.required > 0 && distinctChannels(q.opts) >= q.required
}

// finished reports whether the reset has nothing left to verify.
func (q *request) finished() bool {
	return slices.Contains([]string{stageUnavailable, stageLocked, stageDone}, q.rs.Stage)
}

func (h *Handler) loadRequest(w http.ResponseWriter, r *http.Request) (*request, bool) {
	rs, token, err := h.load(r)
	if err != nil {
		h.unavailable(w, r, "We couldn't continue your password reset. Try again in a moment.", err)
		return nil, false
	}
	if rs == nil {
		h.expired(w, r)
		return nil, false
	}
	q := &request{rs: rs, token: token}
	if q.finished() {
		return q, true
	}
	if err := h.lookUp(r.Context(), q); err != nil {
		h.unavailable(w, r, "We couldn't continue the password reset. Try again in a moment.", err)
		return nil, false
	}
	return q, true
}

// lookUp loads the person and their options. The same lookups run for an
// unknown username, so timing does not tell the two apart.
func (h *Handler) lookUp(ctx context.Context, q *request) error {
	u, err := h.Users.Get(ctx, q.subject())
	switch {
	case err == nil:
		q.u = u
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	q.pol, q.firstOpts = h.Policy.For(ctx, q.u), h.firstProofOptions(ctx)
	q.opts, q.required, err = h.options(ctx, q.subject(), q.u)
	return err
}

// option is the method being proved now.
func (q *request) option() *option {
	opts := q.opts
	if q.rs.Decoy {
		opts = q.firstOpts
	}
	for i := range opts {
		if opts[i].value() == q.rs.Option {
			return &opts[i]
		}
	}
	return nil
}

// choose resolves the option chosen on the page. Before a first proof a
// choice is one of everyone's; it proves the person's own method of that
// kind, or, when they have none they can use, becomes a decoy.
func (q *request) choose(value string) *option {
	rs := q.rs
	rs.Option, rs.Decoy = value, false
	if len(rs.Proved) > 0 {
		o := q.option()
		if o == nil || slices.Contains(rs.Proved, o.channel) {
			return nil
		}
		return o
	}
	i := slices.IndexFunc(q.firstOpts, func(o option) bool { return o.value() == value })
	if i < 0 {
		return nil
	}
	kind := q.firstOpts[i]
	if q.u != nil && !q.u.Disabled {
		for j, o := range q.opts {
			if channelKind, _, _ := strings.Cut(o.channel, ":"); channelKind == kind.channel && o.factor == kind.factor {
				rs.Option = o.value()
				return &q.opts[j]
			}
		}
	}
	rs.Decoy = true
	return &q.firstOpts[i]
}
