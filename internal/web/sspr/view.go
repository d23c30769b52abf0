package sspr

import (
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
)

type resetView struct {
	Stage      string
	FirstProof bool // nothing proved yet: the choices are everyone's
	Step, Of   int
	Options    []httpx.Choice
	Factor     string
	MaskedTo   string
	Questions  []questions.Question
	SignInHref string
}

type resetPage struct {
	httpx.Layout
	FlowID, Username string
	PasswordRule     string // what a new password must be, in words
	Reset            *resetView
}

func (h *Handler) view(w http.ResponseWriter, r *http.Request, title string) resetPage {
	return resetPage{Layout: h.FormLayout(w, r, title), PasswordRule: identity.PasswordRule(h.MinPasswordLength)}
}

func (h *Handler) verifyPage(w http.ResponseWriter, r *http.Request) {
	if q, ok := h.loadRequest(w, r); ok {
		h.render(w, r, q, http.StatusOK, "", "")
	}
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, q *request, status int, errMsg, notice string) {
	rs := q.rs
	v := &resetView{Stage: rs.Stage, FirstProof: len(rs.Proved) == 0, Step: len(rs.Proved) + 1, Of: q.required, SignInHref: rs.ReturnTo}
	if v.SignInHref == "" {
		v.SignInHref = "/account"
	}
	offered := q.opts
	if v.FirstProof {
		// Everyone sees the same choices and the default number of steps;
		// the person's own (masked) methods only after a first proof.
		offered, v.Of = q.firstOpts, h.Policy.For(r.Context(), nil).SSPR.MethodsRequired
	}
	for _, o := range offered {
		if !slices.Contains(rs.Proved, o.channel) {
			v.Options = append(v.Options, httpx.Choice{Value: o.value(), Label: o.label})
		}
	}
	if o := q.option(); o != nil {
		v.Factor, v.MaskedTo = o.factor, masked(o, v.FirstProof)
	}
	if rs.Stage == stageQuestions {
		v.Questions = h.drawnQuestions(r, rs)
	}
	p := h.view(w, r, "Get back into your account")
	p.Error, p.Notice, p.Reset, p.Username = errMsg, notice, v, rs.Username
	h.pages.Render(w, status, "reset", p)
}

// masked is where a code went, masked, once a first proof allows showing it.
func masked(o *option, firstProof bool) string {
	switch {
	case firstProof || o.to == "":
		return ""
	case o.factor == string(mfa.FactorEmail):
		return mfa.MaskEmail(o.to)
	}
	return mfa.MaskPhone(o.to)
}

// drawnQuestions are the questions asked, in the words the person chose
// them in (a custom question may have left the catalog since).
func (h *Handler) drawnQuestions(r *http.Request, rs *reset) []questions.Question {
	var out []questions.Question
	for _, id := range rs.Drawn {
		if q, ok := h.Questions.Catalog().Find(id); ok {
			out = append(out, q)
			continue
		}
		answers, err := h.Questions.Registered(r.Context(), rs.UserID)
		if err != nil {
			continue
		}
		for _, a := range answers {
			if a.QuestionID == id {
				out = append(out, questions.Question{ID: id, Text: a.QuestionText})
			}
		}
	}
	return out
}
