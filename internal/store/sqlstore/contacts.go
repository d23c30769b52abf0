package sqlstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

// contactSealer keeps the phone numbers and addresses of registered methods
// encrypted at rest, as TOTP secrets are: a copy of the database gives
// away no one's phone or personal email.
type contactSealer struct {
	box    *secrets.Box
	macKey []byte
}

// SealContactsWith sets the keys that seal methods' phone numbers and
// addresses and key their HMAC. Without them a method with either cannot
// be stored, nor an older database migrated.
func (d *DB) SealContactsWith(box *secrets.Box, macKey []byte) {
	d.contacts = &contactSealer{box: box, macKey: macKey}
}

var errNoContactKey = errors.New("sqlstore: no key to seal phone numbers and email addresses (SealContactsWith)")

// bound ties a sealed value to its method, so one copied onto another
// method does not open.
func contactContext(methodID string) []byte { return []byte("mfa-contact:" + methodID) }

func (c *contactSealer) seal(methodID, value string) (sealed []byte, mac string, err error) {
	if c == nil {
		return nil, "", errNoContactKey
	}
	h := hmac.New(sha256.New, c.macKey)
	h.Write([]byte(value))
	return c.box.Seal([]byte(value), contactContext(methodID)), hex.EncodeToString(h.Sum(nil)), nil
}

func (c *contactSealer) open(methodID string, sealed []byte) (string, error) {
	if c == nil {
		return "", errNoContactKey
	}
	b, err := c.box.Open(sealed, contactContext(methodID))
	return string(b), err
}

// sealContactColumns is the Go step of migration 11: it seals the phone
// number or address of every existing method, in the migration's
// transaction, then drops the plaintext columns.
func (d *DB) sealContactColumns(tx *gorm.DB) error {
	var rows []struct{ ID, Phone, Email string }
	if err := tx.Table("mfa_methods").Select("id, phone, email").Where("phone <> '' OR email <> ''").Scan(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		sealed, mac, err := d.contacts.seal(r.ID, r.Phone+r.Email) // a method has one or the other
		if err != nil {
			return err
		}
		if err := tx.Exec("UPDATE mfa_methods SET contact = ?, contact_mac = ? WHERE id = ?", sealed, mac, r.ID).Error; err != nil {
			return fmt.Errorf("seal the contact of method %q: %w", r.ID, err)
		}
	}
	for _, col := range []string{"phone", "email"} {
		if err := tx.Exec("ALTER TABLE mfa_methods DROP COLUMN " + col).Error; err != nil {
			return err
		}
	}
	return nil
}
