package sqlstore

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/store"
)

type refreshTokenRow struct {
	Signature       string     `gorm:"column:signature;primaryKey"`
	RequestID       string     `gorm:"column:request_id"`
	ClientID        string     `gorm:"column:client_id"`
	Subject         string     `gorm:"column:subject"`
	AccessSignature string     `gorm:"column:access_signature"`
	Active          bool       `gorm:"column:active"`
	RequestedAt     time.Time  `gorm:"column:requested_at"`
	ExpiresAt       time.Time  `gorm:"column:expires_at"`
	RotatedAt       *time.Time `gorm:"column:rotated_at"`
	Data            []byte     `gorm:"column:data"`
}

func (refreshTokenRow) TableName() string { return "refresh_tokens" }

// CreateRefreshToken inserts t; its times are normalised to UTC microseconds.
func (d *DB) CreateRefreshToken(ctx context.Context, t *oauth.RefreshToken) error {
	t.RequestedAt, t.ExpiresAt = dbTime(t.RequestedAt), dbTime(t.ExpiresAt)
	row := refreshTokenRow(*t)
	return wrap(d.db.WithContext(ctx).Create(&row).Error, "create refresh token")
}

// GetRefreshToken returns the token even when inactive, so the caller can
// detect reuse of a rotated token.
func (d *DB) GetRefreshToken(ctx context.Context, signature string) (*oauth.RefreshToken, error) {
	var row refreshTokenRow
	if err := d.db.WithContext(ctx).Where("signature = ?", signature).Take(&row).Error; err != nil {
		return nil, wrap(err, "get refresh token")
	}
	t := oauth.RefreshToken(row)
	t.RequestedAt, t.ExpiresAt = t.RequestedAt.UTC(), t.ExpiresAt.UTC()
	if t.RotatedAt != nil {
		at := t.RotatedAt.UTC()
		t.RotatedAt = &at
	}
	return &t, nil
}

// DeactivateRefreshToken is a conditional update, so of two concurrent
// refreshes with one token exactly one wins; the other gets
// store.ErrConflict.
func (d *DB) DeactivateRefreshToken(ctx context.Context, signature string) error {
	db := d.db.WithContext(ctx)
	res := db.Model(&refreshTokenRow{}).Where("signature = ? AND active = ?", signature, true).
		Updates(map[string]any{"active": false, "rotated_at": now()})
	if res.Error != nil {
		return wrap(res.Error, "deactivate refresh token")
	}
	if res.RowsAffected > 0 {
		return nil
	}
	var n int64
	if err := db.Model(&refreshTokenRow{}).Where("signature = ?", signature).Count(&n).Error; err != nil {
		return wrap(err, "deactivate refresh token")
	}
	if n > 0 {
		return wrap(store.ErrConflict, "deactivate refresh token: already inactive")
	}
	return wrap(gorm.ErrRecordNotFound, "deactivate refresh token")
}

func (d *DB) DeleteRefreshToken(ctx context.Context, signature string) error {
	return affected(d.db.WithContext(ctx).Where("signature = ?", signature).Delete(&refreshTokenRow{}), "delete refresh token")
}

// RevokeGrant deletes every token of one grant; revoking an unknown grant
// is not an error.
func (d *DB) RevokeGrant(ctx context.Context, requestID string) error {
	err := d.db.WithContext(ctx).Where("request_id = ?", requestID).Delete(&refreshTokenRow{}).Error
	return wrap(err, "revoke grant")
}

// RevokeSubject deletes every token issued to a user; a user without tokens
// is not an error.
func (d *DB) RevokeSubject(ctx context.Context, subject string) error {
	err := d.db.WithContext(ctx).Where("subject = ?", subject).Delete(&refreshTokenRow{}).Error
	return wrap(err, "revoke subject %q", subject)
}

// InTransaction runs fn against this database inside one transaction.
func (d *DB) InTransaction(ctx context.Context, fn func(oauth.GrantStore) error) error {
	return d.transaction(ctx, func(tx *gorm.DB) error { return fn(&DB{db: tx, sql: d.sql, driver: d.driver}) })
}

// DeleteExpiredRefreshTokens deletes tokens that expired strictly before
// the given time.
func (d *DB) DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int64, error) {
	res := d.db.WithContext(ctx).Where("expires_at < ?", dbTime(before)).Delete(&refreshTokenRow{})
	if res.Error != nil {
		return 0, wrap(res.Error, "delete expired refresh tokens")
	}
	return res.RowsAffected, nil
}
