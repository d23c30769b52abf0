package sqlstore

import (
	"context"
	"crypto/rand"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/audit"
)

type auditRow struct {
	ID        string    `gorm:"column:id;primaryKey"`
	Time      time.Time `gorm:"column:time"`
	Type      string    `gorm:"column:type"`
	Outcome   string    `gorm:"column:outcome"`
	ActorID   string    `gorm:"column:actor_id"`
	SubjectID string    `gorm:"column:subject_id"`
	ClientID  string    `gorm:"column:client_id"`
	IP        string    `gorm:"column:ip"`
	UserAgent string    `gorm:"column:user_agent"`
	Details   stringMap `gorm:"column:details"`
}

func (auditRow) TableName() string { return "audit_events" }

// AppendEvent inserts e, filling in a random ID and the current time when
// they are unset.
func (d *DB) AppendEvent(ctx context.Context, e *audit.Event) error {
	return appendEvent(d.db.WithContext(ctx), e)
}

// appendEvent inserts e through db, which may be a transaction: a change
// and its audit record commit together.
func appendEvent(db *gorm.DB, e *audit.Event) error {
	row := toAuditRow(e)
	return wrap(db.Create(&row).Error, "append audit event %q", e.Type)
}

// toAuditRow fills e's unset ID, time and outcome and returns its row.
func toAuditRow(e *audit.Event) auditRow {
	if e.ID == "" {
		e.ID = rand.Text()
	}
	e.Time = stamp(e.Time)
	if e.Outcome == "" {
		e.Outcome = "success"
	}
	return auditRow{
		ID: e.ID, Time: e.Time, Type: e.Type, Outcome: e.Outcome, ActorID: e.ActorID, SubjectID: e.SubjectID,
		ClientID: e.ClientID, IP: e.IP, UserAgent: e.UserAgent, Details: e.Details,
	}
}

// ListEvents returns events newest first. Since is inclusive, Until
// exclusive; zero fields do not filter.
func (d *DB) ListEvents(ctx context.Context, f audit.Filter) ([]audit.Event, error) {
	db := d.db.WithContext(ctx)
	if f.SubjectID != "" {
		db = db.Where("subject_id = ?", f.SubjectID)
	}
	if f.Type != "" {
		db = db.Where("type = ?", f.Type)
	}
	if !f.Since.IsZero() {
		db = db.Where(`"time" >= ?`, dbTime(f.Since))
	}
	if !f.Until.IsZero() {
		db = db.Where(`"time" < ?`, dbTime(f.Until))
	}
	var rows []auditRow
	if err := db.Order(`"time" DESC, id DESC`).Limit(clampLimit(f.Limit)).Find(&rows).Error; err != nil {
		return nil, wrap(err, "list audit events")
	}
	out := make([]audit.Event, len(rows))
	for i, r := range rows {
		out[i] = audit.Event{
			ID: r.ID, Time: r.Time.UTC(), Type: r.Type, Outcome: r.Outcome, ActorID: r.ActorID, SubjectID: r.SubjectID,
			ClientID: r.ClientID, IP: r.IP, UserAgent: r.UserAgent, Details: r.Details,
		}
	}
	return out, nil
}

// DeleteEventsBefore removes events strictly older than t.
func (d *DB) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	res := d.db.WithContext(ctx).Where(`"time" < ?`, dbTime(t)).Delete(&auditRow{})
	if res.Error != nil {
		return 0, wrap(res.Error, "prune audit events")
	}
	return res.RowsAffected, nil
}
