package sqlstore

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// PasswordHistory returns up to n of the user's recorded password hashes,
// newest first.
func (d *DB) PasswordHistory(ctx context.Context, userID string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	var hashes []string
	err := d.db.WithContext(ctx).Table("password_history").Where("user_id = ?", userID).
		Order("created_at DESC, id DESC").Limit(n).Pluck("password_hash", &hashes).Error
	return hashes, wrap(err, "password history of %q", userID)
}

// AddPasswordHistory records hash as the user's newest and deletes all but
// the newest keep, in one transaction. An unknown user is store.ErrNotFound.
func (d *DB) AddPasswordHistory(ctx context.Context, userID, hash string, keep int) error {
	if keep <= 0 {
		return fmt.Errorf("sqlstore: add password history of %q: keep must be positive, got %d", userID, keep)
	}
	return d.transaction(ctx, func(tx *gorm.DB) error {
		err := tx.Exec("INSERT INTO password_history (user_id, password_hash, created_at) VALUES (?, ?, ?)", userID, hash, now()).Error
		if err != nil {
			return wrap(err, "add password history of %q", userID)
		}
		return wrap(tx.Exec(`DELETE FROM password_history WHERE user_id = ? AND id NOT IN
			(SELECT id FROM password_history WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?)`,
			userID, userID, keep).Error, "trim password history of %q", userID)
	})
}
