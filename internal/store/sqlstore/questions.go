package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/questions"
)

type answerRow struct {
	UserID       string    `gorm:"column:user_id;primaryKey"`
	QuestionID   string    `gorm:"column:question_id;primaryKey"`
	QuestionText string    `gorm:"column:question_text"`
	AnswerHash   string    `gorm:"column:answer_hash"`
	CreatedAt    time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

func (answerRow) TableName() string { return "security_answers" }

// SaveAnswers replaces the user's answers in one transaction; an unknown
// user is store.ErrNotFound.
func (d *DB) SaveAnswers(ctx context.Context, userID string, answers []questions.Answer) error {
	return d.transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&answerRow{}).Error; err != nil {
			return wrap(err, "delete answers of %q", userID)
		}
		if len(answers) == 0 {
			return nil
		}
		at := now()
		rows := make([]answerRow, len(answers))
		for i, a := range answers {
			rows[i] = answerRow{UserID: userID, QuestionID: a.QuestionID, QuestionText: a.QuestionText, AnswerHash: a.Hash, CreatedAt: at}
		}
		return wrap(tx.Create(&rows).Error, "save answers of %q", userID)
	})
}

// ListAnswers returns the user's answers by question ID; none is no error.
func (d *DB) ListAnswers(ctx context.Context, userID string) ([]questions.Answer, error) {
	var rows []answerRow
	if err := d.db.WithContext(ctx).Where("user_id = ?", userID).Order("question_id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list answers of %q", userID)
	}
	out := make([]questions.Answer, len(rows))
	for i, r := range rows {
		out[i] = questions.Answer{QuestionID: r.QuestionID, QuestionText: r.QuestionText, Hash: r.AnswerHash}
	}
	return out, nil
}

// DeleteAnswers removes the user's answers; having none is no error.
func (d *DB) DeleteAnswers(ctx context.Context, userID string) error {
	return wrap(d.db.WithContext(ctx).Where("user_id = ?", userID).Delete(&answerRow{}).Error, "delete answers of %q", userID)
}
