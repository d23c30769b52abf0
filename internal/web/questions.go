package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/questions"
)

type questionRow struct {
	N        int
	Selected string
	Answer   string
}

type questionsView struct {
	Catalog  []questions.Question
	Rows     []questionRow
	Problems []string
}

func (h *Handler) questionCount(ctx context.Context, userID string) (int, error) {
	if h.questions == nil {
		return 0, nil
	}
	answers, err := h.questions.Registered(ctx, userID)
	return len(answers), err
}

func (h *Handler) questionsPage(w http.ResponseWriter, r *http.Request) {
	bs, u, ok := h.accountUser(w, r, "/account/questions")
	if !ok || !h.requireFresh(w, r, bs, u, "/account/questions") {
		return
	}
	n := h.policy.For(r.Context(), u).SSPR.QuestionsToRegister
	rows := make([]questionRow, n)
	for i := range rows {
		rows[i].N = i + 1
	}
	h.renderQuestions(w, r, http.StatusOK, rows, nil)
}

func (h *Handler) renderQuestions(w http.ResponseWriter, r *http.Request, status int, rows []questionRow, problems []string) {
	p := h.page("Security questions")
	p.CSRF = h.csrf.token(h.csrf.browserID(w, r))
	p.Questions = &questionsView{Catalog: h.questions.Catalog(), Rows: rows, Problems: problems}
	h.pages.render(w, status, "questions", p)
}

// questionsSubmit registers the answers. Rejected answers are shown back so
// nothing typed is lost; stored answers are only ever argon2id hashes.
func (h *Handler) questionsSubmit(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.accountForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	n := h.policy.For(ctx, u).SSPR.QuestionsToRegister
	rows := make([]questionRow, n)
	choices := make([]questions.Choice, n)
	for i := range rows {
		k := strconv.Itoa(i + 1)
		rows[i] = questionRow{N: i + 1, Selected: r.PostFormValue("question" + k), Answer: r.PostFormValue("answer" + k)}
		choices[i] = questions.Choice{QuestionID: rows[i].Selected, Answer: rows[i].Answer}
	}
	err := h.questions.Register(ctx, u.ID, u.Username, choices, n)
	var ve *questions.ValidationError
	switch {
	case errors.As(err, &ve):
		h.renderQuestions(w, r, http.StatusUnprocessableEntity, rows, ve.Problems)
		return
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, "Security info unavailable", "We couldn't save your security questions. Try again in a moment.", err)
		return
	}
	h.audit.Record(ctx, audit.Event{Type: "questions.registered", ActorID: u.ID, SubjectID: u.ID, IP: clientIP(r),
		Details: map[string]string{"count": strconv.Itoa(n)}})
	h.notifyChange(ctx, u, "", noticeAdded)
	http.Redirect(w, r, "/account?notice=added", http.StatusSeeOther)
}

// notifyChange tells the person on every channel but skip.
func (h *Handler) notifyChange(ctx context.Context, u *identity.User, skip, text string) {
	methods, err := h.mfa.Methods(ctx, u.ID)
	if err != nil {
		h.logger.Error("loading methods for a notice", "err", err)
		return
	}
	h.mfa.Notify(ctx, u.ID, u.Email, methods, skip, text)
}
