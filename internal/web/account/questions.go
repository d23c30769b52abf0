package account

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/wording"
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

type questionsPage struct {
	httpx.Layout
	Questions *questionsView
}

func (h *Handler) questionCount(ctx context.Context, userID string) (int, error) {
	if h.Questions == nil {
		return 0, nil
	}
	answers, err := h.Questions.Registered(ctx, userID)
	return len(answers), err
}

func (h *Handler) questionsPage(w http.ResponseWriter, r *http.Request) {
	bs, u, ok := h.signedIn(w, r, "/account/questions")
	if !ok || !h.fresh(w, r, bs, u, "/account/questions") {
		return
	}
	if h.Questions == nil {
		h.NotFound(w, r)
		return
	}
	rows := make([]questionRow, h.Policy.For(r.Context(), u).SSPR.QuestionsToRegister)
	for i := range rows {
		rows[i].N = i + 1
	}
	h.renderQuestions(w, r, http.StatusOK, rows, nil)
}

func (h *Handler) renderQuestions(w http.ResponseWriter, r *http.Request, status int, rows []questionRow, problems []string) {
	p := questionsPage{Layout: h.FormLayout(w, r, "Security questions"),
		Questions: &questionsView{Catalog: h.Questions.Catalog(), Rows: rows, Problems: problems}}
	h.pages.Render(w, status, "questions", p)
}

// questionsSubmit registers the answers. Rejected answers are shown back so
// nothing typed is lost; stored answers are only ever argon2id hashes.
func (h *Handler) questionsSubmit(w http.ResponseWriter, r *http.Request) {
	_, u, ok := h.form(w, r)
	if !ok {
		return
	}
	if h.Questions == nil {
		h.NotFound(w, r)
		return
	}
	ctx := r.Context()
	n := h.Policy.For(ctx, u).SSPR.QuestionsToRegister
	rows := make([]questionRow, n)
	choices := make([]questions.Choice, n)
	for i := range rows {
		k := strconv.Itoa(i + 1)
		rows[i] = questionRow{N: i + 1, Selected: r.PostFormValue("question" + k), Answer: r.PostFormValue("answer" + k)}
		choices[i] = questions.Choice{QuestionID: rows[i].Selected, Answer: rows[i].Answer}
	}
	err := h.Questions.Register(ctx, u.ID, u.Username, choices, n)
	var ve *questions.ValidationError
	switch {
	case errors.As(err, &ve):
		h.renderQuestions(w, r, http.StatusUnprocessableEntity, rows, ve.Problems)
		return
	case err != nil:
		h.unavailable(w, r, "We couldn't save your security questions. Try again in a moment.", err)
		return
	}
	h.Audit.Record(ctx, audit.Event{Type: "questions.registered", ActorID: u.ID, SubjectID: u.ID, IP: httpx.ClientIP(r),
		Details: map[string]string{"count": strconv.Itoa(n)}})
	wording.Tell(ctx, h.MFA, h.Logger, u, "", wording.NoticeAdded)
	http.Redirect(w, r, "/account?notice=added", http.StatusSeeOther)
}
