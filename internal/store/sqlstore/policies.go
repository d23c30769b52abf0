package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/policy"
)

type policyRow struct {
	Name      string     `gorm:"column:name;primaryKey"`
	Priority  int        `gorm:"column:priority"`
	Groups    stringList `gorm:"column:groups"`
	Settings  string     `gorm:"column:settings"`
	Version   int64      `gorm:"column:version"`
	UpdatedBy string     `gorm:"column:updated_by"`
	UpdatedAt time.Time  `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (policyRow) TableName() string { return "policies" }

type policyVersionRow struct {
	Name      string     `gorm:"column:name;primaryKey"`
	Version   int64      `gorm:"column:version;primaryKey"`
	Priority  int        `gorm:"column:priority"`
	Groups    stringList `gorm:"column:groups"`
	Settings  string     `gorm:"column:settings"`
	Deleted   bool       `gorm:"column:deleted"`
	UpdatedBy string     `gorm:"column:updated_by"`
	UpdatedAt time.Time  `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (policyVersionRow) TableName() string { return "policy_versions" }

func (d *DB) ListPolicies(ctx context.Context) ([]policy.Record, error) {
	var rows []policyRow
	if err := d.db.WithContext(ctx).Order("priority DESC, name").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list policies")
	}
	out := make([]policy.Record, len(rows))
	for i, r := range rows {
		out[i] = policy.Record{Name: r.Name, Priority: r.Priority, Groups: []string(r.Groups), Version: r.Version,
			UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt.UTC()}
		if err := json.Unmarshal([]byte(r.Settings), &out[i].Policy); err != nil {
			return nil, wrap(err, "decode policy %q", r.Name)
		}
	}
	return out, nil
}

// PolicyVersion is the highest version ever written (history included, so
// a deletion moves it too).
func (d *DB) PolicyVersion(ctx context.Context) (int64, error) {
	var v *int64
	if err := d.db.WithContext(ctx).Model(&policyVersionRow{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, wrap(err, "policy version")
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// SavePolicy writes the policy and its history row under the next version
// in one transaction.
func (d *DB) SavePolicy(ctx context.Context, r *policy.Record, audited func(*policy.Record) audit.Event) error {
	settings, err := json.Marshal(r.Policy)
	if err != nil {
		return err
	}
	return d.transaction(ctx, func(tx *gorm.DB) error {
		if err := d.lockPolicies(tx); err != nil {
			return err
		}
		var v *int64
		if err := tx.Model(&policyVersionRow{}).Select("MAX(version)").Scan(&v).Error; err != nil {
			return wrap(err, "policy version")
		}
		r.Version, r.UpdatedAt = 1, now()
		if v != nil {
			r.Version = *v + 1
		}
		row := policyRow{Name: r.Name, Priority: r.Priority, Groups: stringList(r.Groups), Settings: string(settings),
			Version: r.Version, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}
		if err := tx.Save(&row).Error; err != nil {
			return wrap(err, "save policy %q", r.Name)
		}
		if err := tx.Create(&policyVersionRow{Name: r.Name, Version: r.Version, Priority: r.Priority, Groups: row.Groups,
			Settings: row.Settings, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}).Error; err != nil {
			return wrap(err, "record policy version")
		}
		if audited == nil {
			return nil
		}
		e := audited(r)
		return appendEvent(tx, &e)
	})
}

func (d *DB) DeletePolicy(ctx context.Context, name, by string, audited audit.Event) error {
	return d.transaction(ctx, func(tx *gorm.DB) error {
		if err := d.lockPolicies(tx); err != nil {
			return err
		}
		var row policyRow
		if err := tx.Where("name = ?", name).Take(&row).Error; err != nil {
			return wrap(err, "get policy %q", name)
		}
		var v int64
		if err := tx.Model(&policyVersionRow{}).Select("MAX(version)").Scan(&v).Error; err != nil {
			return wrap(err, "policy version")
		}
		if err := tx.Delete(&row).Error; err != nil {
			return wrap(err, "delete policy %q", name)
		}
		if err := tx.Create(&policyVersionRow{Name: name, Version: v + 1, Priority: row.Priority, Groups: row.Groups,
			Settings: row.Settings, Deleted: true, UpdatedBy: by, UpdatedAt: now()}).Error; err != nil {
			return wrap(err, "record policy deletion")
		}
		return appendEvent(tx, &audited)
	})
}

func (d *DB) PolicyHistory(ctx context.Context, name string) ([]policy.Revision, error) {
	var rows []policyVersionRow
	if err := d.db.WithContext(ctx).Where("name = ?", name).Order("version DESC").Find(&rows).Error; err != nil {
		return nil, wrap(err, "policy history %q", name)
	}
	out := make([]policy.Revision, len(rows))
	for i, r := range rows {
		out[i] = policy.Revision{Deleted: r.Deleted, Record: policy.Record{Name: r.Name, Priority: r.Priority,
			Groups: []string(r.Groups), Version: r.Version, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt.UTC()}}
		if err := json.Unmarshal([]byte(r.Settings), &out[i].Policy); err != nil {
			return nil, wrap(err, "decode policy %q version %d", r.Name, r.Version)
		}
	}
	return out, nil
}

// lockPolicies serialises policy writes, so two admins saving at once get
// distinct versions (SQLite's single writer does this by itself).
func (d *DB) lockPolicies(tx *gorm.DB) error {
	if d.driver != DriverPostgres {
		return nil
	}
	return wrap(tx.Exec("LOCK TABLE policy_versions IN EXCLUSIVE MODE").Error, "lock policies")
}
