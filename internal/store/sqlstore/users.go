package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store"
)

const (
	defaultLimit = 100
	maxLimit     = 1000
	// upsertChunk bounds the bind parameters of one statement in
	// UpsertUsers (11 columns x 500 rows stays far below both limits).
	upsertChunk = 500
)

type userRow struct {
	ID                 string     `gorm:"column:id;primaryKey"`
	Username           string     `gorm:"column:username"`
	Email              string     `gorm:"column:email"`
	EmailVerified      bool       `gorm:"column:email_verified"`
	DisplayName        string     `gorm:"column:display_name"`
	PasswordHash       string     `gorm:"column:password_hash"`
	Roles              stringList `gorm:"column:roles"`
	Groups             stringList `gorm:"column:groups"`
	Disabled           bool       `gorm:"column:disabled"`
	MustChangePassword bool       `gorm:"column:must_change_password"`
	SessionsValidAfter *time.Time `gorm:"column:sessions_valid_after"`
	CreatedAt          time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt          time.Time  `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (userRow) TableName() string { return "users" }

func toUserRow(u *identity.User) userRow {
	return userRow{
		ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
		DisplayName: u.DisplayName, PasswordHash: u.PasswordHash, Roles: stringList(u.Roles),
		Groups: stringList(u.Groups), Disabled: u.Disabled, MustChangePassword: u.MustChangePassword,
		SessionsValidAfter: optTime(u.SessionsValidAfter), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

func (r *userRow) user() identity.User {
	return identity.User{
		ID: r.ID, Username: r.Username, Email: r.Email, EmailVerified: r.EmailVerified,
		DisplayName: r.DisplayName, PasswordHash: r.PasswordHash, Roles: []string(r.Roles),
		Groups: []string(r.Groups), Disabled: r.Disabled, MustChangePassword: r.MustChangePassword,
		SessionsValidAfter: utcTime(r.SessionsValidAfter), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func utcTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// stampNew and stamp keep the caller's timestamps (domain services own the
// clock) and fill only zero ones with now. They normalise the caller's
// struct too, so it matches what reads return.
func stampNew(created, updated *time.Time) {
	*created = stamp(*created)
	if updated.IsZero() {
		*updated = *created
	} else {
		*updated = dbTime(*updated)
	}
}

func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return now()
	}
	return dbTime(t)
}

var errNoUserID = errors.New("sqlstore: user ID is required")

// CreateUser inserts u.
func (d *DB) CreateUser(ctx context.Context, u *identity.User) error {
	if u.ID == "" {
		return errNoUserID
	}
	stampNew(&u.CreatedAt, &u.UpdatedAt)
	row := toUserRow(u)
	return wrap(d.db.WithContext(ctx).Create(&row).Error, "create user %q", u.Username)
}

func (d *DB) GetUser(ctx context.Context, id string) (*identity.User, error) {
	return d.getUser(ctx, "id = ?", id)
}

// GetUserByUsername matches exactly: usernames are stored lower case, and
// the caller normalises before asking.
func (d *DB) GetUserByUsername(ctx context.Context, username string) (*identity.User, error) {
	return d.getUser(ctx, "username = ?", username)
}

func (d *DB) getUser(ctx context.Context, cond, arg string) (*identity.User, error) {
	var row userRow
	if err := d.db.WithContext(ctx).Where(cond, arg).Take(&row).Error; err != nil {
		return nil, wrap(err, "get user %q", arg)
	}
	u := row.user()
	return &u, nil
}

// ListUsers returns users ordered by username. Search is a case-insensitive
// substring of username, email or display name (ASCII-only case folding on
// SQLite).
func (d *DB) ListUsers(ctx context.Context, q identity.ListQuery) ([]identity.User, error) {
	db := d.db.WithContext(ctx).Order("username")
	if q.Search != "" {
		p := likePattern(q.Search)
		db = db.Where(`lower(username) LIKE ? ESCAPE '\' OR lower(email) LIKE ? ESCAPE '\' OR lower(display_name) LIKE ? ESCAPE '\'`, p, p, p)
	}
	var rows []userRow
	if err := db.Limit(clampLimit(q.Limit)).Offset(max(q.Offset, 0)).Find(&rows).Error; err != nil {
		return nil, wrap(err, "list users")
	}
	users := make([]identity.User, len(rows))
	for i := range rows {
		users[i] = rows[i].user()
	}
	return users, nil
}

// likePattern makes a LIKE pattern matching s anywhere, with LIKE's
// wildcards in s taken literally.
func likePattern(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(s))
	return "%" + s + "%"
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	default:
		return n
	}
}

// UpdateUser writes every field but ID and CreatedAt.
func (d *DB) UpdateUser(ctx context.Context, u *identity.User) error {
	u.UpdatedAt = stamp(u.UpdatedAt)
	res := d.db.WithContext(ctx).Model(&userRow{}).Where("id = ?", u.ID).Updates(map[string]any{
		"username":             u.Username,
		"email":                u.Email,
		"email_verified":       u.EmailVerified,
		"display_name":         u.DisplayName,
		"password_hash":        u.PasswordHash,
		"roles":                stringList(u.Roles),
		"groups":               stringList(u.Groups),
		"disabled":             u.Disabled,
		"must_change_password": u.MustChangePassword,
		"updated_at":           u.UpdatedAt,
	})
	return affected(res, "update user %q", u.ID)
}

// EndSessions writes only sessions_valid_after, so it never races a
// concurrent UpdateUser of the other fields.
func (d *DB) EndSessions(ctx context.Context, id string, at time.Time) error {
	res := d.db.WithContext(ctx).Model(&userRow{}).Where("id = ?", id).Update("sessions_valid_after", dbTime(at))
	return affected(res, "end sessions of user %q", id)
}

func (d *DB) DeleteUser(ctx context.Context, id string) error {
	return affected(d.db.WithContext(ctx).Where("id = ?", id).Delete(&userRow{}), "delete user %q", id)
}

func (d *DB) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := d.db.WithContext(ctx).Model(&userRow{}).Count(&n).Error; err != nil {
		return 0, wrap(err, "count users")
	}
	return n, nil
}

// UpsertUsers matches users by username: new ones are inserted whole (with
// their given ID); existing ones keep ID, CreatedAt and the disabled flag,
// and get email, display name, roles and groups (when not nil) and password
// hash with the must-change flag (when a hash is given). A username
// repeated in the batch is rejected with store.ErrAlreadyExists. The users
// and events are written in one transaction.
func (d *DB) UpsertUsers(ctx context.Context, users []identity.User, events []audit.Event) (created, updated int, err error) {
	seen := make(map[string]bool, len(users))
	for i := range users {
		if users[i].ID == "" {
			return 0, 0, errNoUserID
		}
		if seen[users[i].Username] {
			return 0, 0, fmt.Errorf("sqlstore: upsert users: username %q repeated in batch: %w", users[i].Username, store.ErrAlreadyExists)
		}
		seen[users[i].Username] = true
	}

	err = d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for start := 0; start < len(users); start += upsertChunk {
			c, u, err := upsertChunkTx(tx, users[start:min(start+upsertChunk, len(users))])
			if err != nil {
				return err
			}
			created += c
			updated += u
		}
		if len(events) == 0 {
			return nil
		}
		rows := make([]auditRow, len(events))
		for i := range events {
			rows[i] = toAuditRow(&events[i])
		}
		return tx.CreateInBatches(rows, upsertChunk).Error
	})
	if err != nil {
		return 0, 0, wrap(err, "upsert users")
	}
	return created, updated, nil
}

func upsertChunkTx(tx *gorm.DB, users []identity.User) (created, updated int, err error) {
	names := make([]string, len(users))
	for i := range users {
		names[i] = users[i].Username
	}
	var existing []string
	if err := tx.Model(&userRow{}).Where("username IN ?", names).Pluck("username", &existing).Error; err != nil {
		return 0, 0, err
	}
	exists := make(map[string]bool, len(existing))
	for _, name := range existing {
		exists[name] = true
	}

	var inserts []userRow
	for i := range users {
		u := &users[i]
		if !exists[u.Username] {
			row := toUserRow(u)
			stampNew(&row.CreatedAt, &row.UpdatedAt)
			inserts = append(inserts, row)
			continue
		}
		set := map[string]any{
			"email":        u.Email,
			"display_name": u.DisplayName,
			"updated_at":   stamp(u.UpdatedAt),
		}
		if u.Roles != nil {
			set["roles"] = stringList(u.Roles)
		}
		if u.Groups != nil {
			set["groups"] = stringList(u.Groups)
		}
		if u.PasswordHash != "" {
			set["password_hash"] = u.PasswordHash
			set["must_change_password"] = u.MustChangePassword
		}
		if err := tx.Model(&userRow{}).Where("username = ?", u.Username).Updates(set).Error; err != nil {
			return 0, 0, fmt.Errorf("update %q: %w", u.Username, err)
		}
		updated++
	}
	if len(inserts) > 0 {
		if err := tx.Create(&inserts).Error; err != nil {
			return 0, 0, err
		}
	}
	return len(inserts), updated, nil
}
