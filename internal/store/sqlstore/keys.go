package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
)

type keyRow struct {
	ID        string     `gorm:"column:id;primaryKey"`
	Algorithm string     `gorm:"column:algorithm"`
	Sealed    []byte     `gorm:"column:sealed"`
	CreatedAt time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	RetiredAt *time.Time `gorm:"column:retired_at"`
}

func (keyRow) TableName() string { return "signing_keys" }

func (d *DB) CreateKey(ctx context.Context, k *keys.SigningKey) error {
	k.CreatedAt = stamp(k.CreatedAt)
	if k.RetiredAt != nil {
		t := dbTime(*k.RetiredAt)
		k.RetiredAt = &t
	}
	row := keyRow{ID: k.ID, Algorithm: k.Algorithm, Sealed: k.Sealed, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt}
	return wrap(d.db.WithContext(ctx).Create(&row).Error, "create key %q", k.ID)
}

// ListKeys returns every key, newest first.
func (d *DB) ListKeys(ctx context.Context) ([]keys.SigningKey, error) {
	var rows []keyRow
	if err := d.db.WithContext(ctx).Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list keys")
	}
	out := make([]keys.SigningKey, len(rows))
	for i, r := range rows {
		out[i] = keys.SigningKey{ID: r.ID, Algorithm: r.Algorithm, Sealed: r.Sealed, CreatedAt: r.CreatedAt.UTC()}
		if r.RetiredAt != nil {
			t := r.RetiredAt.UTC()
			out[i].RetiredAt = &t
		}
	}
	return out, nil
}

// RetireKeys retires every unretired key of algorithm but keepID at the
// given time.
func (d *DB) RetireKeys(ctx context.Context, algorithm, keepID string, at time.Time) error {
	err := d.db.WithContext(ctx).Model(&keyRow{}).
		Where("retired_at IS NULL AND algorithm = ? AND id <> ?", algorithm, keepID).
		Update("retired_at", dbTime(at)).Error
	return wrap(err, "retire keys")
}

// DeleteKeysRetiredBefore deletes keys retired strictly before t; unretired
// keys are never deleted.
func (d *DB) DeleteKeysRetiredBefore(ctx context.Context, t time.Time) (int64, error) {
	res := d.db.WithContext(ctx).Where("retired_at IS NOT NULL AND retired_at < ?", dbTime(t)).Delete(&keyRow{})
	if res.Error != nil {
		return 0, wrap(res.Error, "delete retired keys")
	}
	return res.RowsAffected, nil
}
