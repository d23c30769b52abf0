package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/store"
)

type methodRow struct {
	ID         string    `gorm:"column:id;primaryKey"`
	UserID     string    `gorm:"column:user_id"`
	Kind       string    `gorm:"column:kind"`
	Secret     []byte    `gorm:"column:secret"`
	Contact    []byte    `gorm:"column:contact"`     // the sealed phone number or address
	ContactMAC string    `gorm:"column:contact_mac"` // its HMAC, for lookups
	Factor     string    `gorm:"column:factor"`
	IsDefault  bool      `gorm:"column:is_default"`
	CreatedAt  time.Time `gorm:"column:created_at;autoCreateTime:false"`
}

func (methodRow) TableName() string { return "mfa_methods" }

type stateRow struct {
	UserID          string     `gorm:"column:user_id;primaryKey"`
	Skips           int        `gorm:"column:skips"`
	FirstPromptedAt *time.Time `gorm:"column:first_prompted_at"`
	MethodsResetAt  *time.Time `gorm:"column:methods_reset_at"`
}

func (stateRow) TableName() string { return "mfa_state" }

func optTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := dbTime(*t)
	return &v
}

func (d *DB) CreateMethod(ctx context.Context, m *mfa.Method) error {
	m.CreatedAt = stamp(m.CreatedAt)
	row := methodRow{ID: m.ID, UserID: m.UserID, Kind: string(m.Kind), Secret: nilIfEmpty(m.Secret), Factor: string(m.Factor),
		IsDefault: m.IsDefault, CreatedAt: m.CreatedAt}
	if contact := m.Phone + m.Email; contact != "" { // a method has one or the other
		var err error
		if row.Contact, row.ContactMAC, err = d.contacts.seal(m.ID, contact); err != nil {
			return err
		}
	}
	return wrap(d.db.WithContext(ctx).Create(&row).Error, "create method for %q", m.UserID)
}

// ListMethods returns a user's methods, oldest first.
func (d *DB) ListMethods(ctx context.Context, userID string) ([]mfa.Method, error) {
	var rows []methodRow
	if err := d.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list methods of %q", userID)
	}
	out := make([]mfa.Method, len(rows))
	for i, r := range rows {
		out[i] = mfa.Method{ID: r.ID, UserID: r.UserID, Kind: mfa.Kind(r.Kind), Secret: r.Secret,
			Factor: mfa.Factor(r.Factor), IsDefault: r.IsDefault, CreatedAt: r.CreatedAt.UTC()}
		if len(r.Contact) == 0 {
			continue
		}
		contact, err := d.contacts.open(r.ID, r.Contact)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open the contact of method %q: %w", r.ID, err)
		}
		if out[i].Kind == mfa.Email {
			out[i].Email = contact
		} else {
			out[i].Phone = contact
		}
	}
	return out, nil
}

// SetDefaultMethod flips the default in one transaction, so a user never
// has two defaults or (having methods) none.
func (d *DB) SetDefaultMethod(ctx context.Context, userID, id string) error {
	return d.transaction(ctx, func(tx *gorm.DB) error {
		if err := affected(tx.Model(&methodRow{}).Where("user_id = ? AND id = ?", userID, id).Update("is_default", true),
			"set default method %q", id); err != nil {
			return err
		}
		return wrap(tx.Model(&methodRow{}).Where("user_id = ? AND id <> ?", userID, id).Update("is_default", false).Error,
			"clear other defaults of %q", userID)
	})
}

func (d *DB) DeleteMethod(ctx context.Context, userID, id string) error {
	return affected(d.db.WithContext(ctx).Where("user_id = ? AND id = ?", userID, id).Delete(&methodRow{}), "delete method %q", id)
}

// ResetMethods deletes every method and recovery code, and records the
// reset and its audit event, in one transaction.
func (d *DB) ResetMethods(ctx context.Context, userID string, at time.Time, audited audit.Event) error {
	return d.transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&methodRow{}).Error; err != nil {
			return wrap(err, "delete methods of %q", userID)
		}
		if err := tx.Where("user_id = ?", userID).Delete(&recoveryCodeRow{}).Error; err != nil {
			return wrap(err, "void recovery codes of %q", userID)
		}
		st, err := getState(tx, userID)
		if err != nil {
			return err
		}
		st.MethodsResetAt = &at
		if err := saveState(tx, st); err != nil {
			return err
		}
		return appendEvent(tx, &audited)
	})
}

func (d *DB) GetState(ctx context.Context, userID string) (*mfa.State, error) {
	return getState(d.db.WithContext(ctx), userID)
}

func (d *DB) SaveState(ctx context.Context, s *mfa.State) error {
	return saveState(d.db.WithContext(ctx), s)
}

func getState(tx *gorm.DB, userID string) (*mfa.State, error) {
	var row stateRow
	err := tx.Where("user_id = ?", userID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &mfa.State{UserID: userID}, nil
	}
	if err != nil {
		return nil, wrap(err, "get mfa state of %q", userID)
	}
	st := row.state()
	return &st, nil
}

// state reads the row back in UTC, as every stamp the store returns.
func (r stateRow) state() mfa.State {
	st := mfa.State{UserID: r.UserID, Skips: r.Skips, FirstPromptedAt: r.FirstPromptedAt, MethodsResetAt: r.MethodsResetAt}
	for _, t := range []*time.Time{st.FirstPromptedAt, st.MethodsResetAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return st
}

func saveState(tx *gorm.DB, s *mfa.State) error {
	row := stateRow{UserID: s.UserID, Skips: s.Skips, FirstPromptedAt: optTime(s.FirstPromptedAt), MethodsResetAt: optTime(s.MethodsResetAt)}
	err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "user_id"}}, UpdateAll: true}).Create(&row).Error
	return wrap(err, "save mfa state of %q", s.UserID)
}

// MethodKindCounts counts, per user, the distinct kinds of method
// registered (for the registration report).
func (d *DB) MethodKindCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		UserID string
		N      int
	}
	err := d.db.WithContext(ctx).Model(&methodRow{}).Select("user_id, COUNT(DISTINCT kind) AS n").Group("user_id").Scan(&rows).Error
	if err != nil {
		return nil, wrap(err, "count methods")
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.UserID] = r.N
	}
	return out, nil
}

// ListStates returns every stored enrollment state by user.
func (d *DB) ListStates(ctx context.Context) (map[string]mfa.State, error) {
	var rows []stateRow
	if err := d.db.WithContext(ctx).Find(&rows).Error; err != nil {
		return nil, wrap(err, "list mfa states")
	}
	out := make(map[string]mfa.State, len(rows))
	for _, r := range rows {
		out[r.UserID] = r.state()
	}
	return out, nil
}

type recoveryCodeRow struct {
	UserID    string     `gorm:"column:user_id;primaryKey"`
	Hash      string     `gorm:"column:hash;primaryKey"`
	CreatedAt time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	UsedAt    *time.Time `gorm:"column:used_at"`
}

func (recoveryCodeRow) TableName() string { return "mfa_recovery_codes" }

// ReplaceRecoveryCodes swaps a user's set in one transaction, with its
// audit record, so the old codes stop working the moment the new ones
// exist.
func (d *DB) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, at time.Time, audited audit.Event) error {
	at = dbTime(at)
	return d.transaction(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&recoveryCodeRow{}).Error; err != nil {
			return wrap(err, "void recovery codes of %q", userID)
		}
		if len(hashes) > 0 {
			rows := make([]recoveryCodeRow, len(hashes))
			for i, h := range hashes {
				rows[i] = recoveryCodeRow{UserID: userID, Hash: h, CreatedAt: at}
			}
			if err := tx.Create(&rows).Error; err != nil {
				return wrap(err, "store recovery codes of %q", userID)
			}
		}
		return appendEvent(tx, &audited)
	})
}

// UseRecoveryCode marks a code used with one conditional UPDATE: the
// database lets exactly one of two racing uses match "used_at IS NULL".
func (d *DB) UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time, audited audit.Event) (int, error) {
	var left int
	err := d.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&recoveryCodeRow{}).Where("user_id = ? AND hash = ? AND used_at IS NULL", userID, hash).
			Update("used_at", dbTime(at))
		if res.Error != nil {
			return wrap(res.Error, "use recovery code of %q", userID)
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&recoveryCodeRow{}).Where("user_id = ? AND hash = ?", userID, hash).Count(&n).Error; err != nil {
				return wrap(err, "find recovery code of %q", userID)
			}
			if n > 0 {
				return wrap(store.ErrConflict, "use recovery code of %q: already used", userID)
			}
			return wrap(store.ErrNotFound, "use recovery code of %q", userID)
		}
		var err error
		if left, err = unusedCodes(tx, userID); err != nil {
			return err
		}
		audited.Details = maps.Clone(audited.Details)
		if audited.Details == nil {
			audited.Details = map[string]string{}
		}
		audited.Details["left"] = strconv.Itoa(left)
		return appendEvent(tx, &audited)
	})
	return left, err
}

func unusedCodes(tx *gorm.DB, userID string) (int, error) {
	var n int64
	err := tx.Model(&recoveryCodeRow{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error
	return int(n), wrap(err, "count recovery codes of %q", userID)
}

// RecoveryCodes reads a user's set (ten rows at most) and sums it up.
func (d *DB) RecoveryCodes(ctx context.Context, userID string) (mfa.RecoveryStatus, error) {
	var rows []recoveryCodeRow
	if err := d.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error; err != nil {
		return mfa.RecoveryStatus{}, wrap(err, "read recovery codes of %q", userID)
	}
	var st mfa.RecoveryStatus
	for _, r := range rows {
		made := r.CreatedAt.UTC()
		st.Made = &made
		switch {
		case r.UsedAt == nil:
			st.Left++
		case st.LastUsed == nil || r.UsedAt.After(*st.LastUsed):
			used := r.UsedAt.UTC()
			st.LastUsed = &used
		}
	}
	return st, nil
}
