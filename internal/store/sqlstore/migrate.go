package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationLockID is the PostgreSQL advisory lock key that serialises
// Migrate across replicas starting at once ("gatehous" in ASCII).
const migrationLockID int64 = 0x6761746568_6f7573

// MigrationStatus describes one schema version.
type MigrationStatus struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time // zero unless Applied
}

type migration struct {
	version int
	name    string
	sql     string
}

// migrations reads the embedded files for the driver's dialect, named
// NNNN_name.sql, and returns them in version order.
func (d *DB) migrations() ([]migration, error) {
	dir := path.Join("migrations", d.driver)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".sql")
		num, name, found := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || !found || err != nil || version <= 0 {
			return nil, fmt.Errorf("sqlstore: bad migration file name %s/%s", dir, e.Name())
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read migrations: %w", err)
		}
		ms = append(ms, migration{version: version, name: name, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("sqlstore: duplicate migration version %d in %s", ms[i].version, dir)
		}
	}
	return ms, nil
}

func (d *DB) createMigrationsTable(tx *gorm.DB) error {
	ts := "DATETIME"
	if d.driver == DriverPostgres {
		ts = "TIMESTAMPTZ"
	}
	return tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at ` + ts + ` NOT NULL
	)`).Error
}

// goSteps are the parts of migrations SQL cannot do (encrypting with the
// application's key), run by version right after that version's SQL, in
// its transaction.
func (d *DB) goSteps() map[int]func(tx *gorm.DB) error {
	return map[int]func(tx *gorm.DB) error{11: d.sealContactColumns}
}

type appliedMigration struct {
	Version   int       `gorm:"column:version"`
	Name      string    `gorm:"column:name"`
	AppliedAt time.Time `gorm:"column:applied_at"`
}

// Migrate applies every pending migration in version order, each in its own
// transaction. Safe to run from several processes at once.
func (d *DB) Migrate(ctx context.Context) error { return d.migrateTo(ctx, math.MaxInt) }

// migrateTo applies the pending migrations up to version last.
func (d *DB) migrateTo(ctx context.Context, last int) error {
	ms, err := d.migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.version > last {
			break
		}
		err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			// On PostgreSQL concurrent replicas queue here, and the
			// applied check below runs only once the lock is held. SQLite
			// transactions begin IMMEDIATE, which already serialises them.
			if d.driver == DriverPostgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockID).Error; err != nil {
					return err
				}
			}
			if err := d.createMigrationsTable(tx); err != nil {
				return err
			}
			var n int64
			if err := tx.Table("schema_migrations").Where("version = ?", m.version).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := tx.Exec(m.sql).Error; err != nil {
				return err
			}
			if step := d.goSteps()[m.version]; step != nil {
				if err := step(tx); err != nil {
					return err
				}
			}
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, now()).Error
		})
		if err != nil {
			return fmt.Errorf("sqlstore: migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// MigrationStatus lists every known migration, and any applied one this
// binary does not know (a newer release migrated the database), by version.
func (d *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	ms, err := d.migrations()
	if err != nil {
		return nil, err
	}
	db := d.db.WithContext(ctx)
	tableQuery := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	if d.driver == DriverPostgres {
		tableQuery = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
	}
	var tables int64
	if err := db.Raw(tableQuery).Scan(&tables).Error; err != nil {
		return nil, wrap(err, "look for schema_migrations")
	}
	var applied []appliedMigration
	if tables > 0 {
		if err := db.Table("schema_migrations").Find(&applied).Error; err != nil {
			return nil, wrap(err, "read schema_migrations")
		}
	}

	byVersion := make(map[int]MigrationStatus, len(ms))
	for _, m := range ms {
		byVersion[m.version] = MigrationStatus{Version: m.version, Name: m.name}
	}
	for _, a := range applied {
		s := byVersion[a.Version]
		s.Version, s.Applied, s.AppliedAt = a.Version, true, a.AppliedAt.UTC()
		if s.Name == "" {
			s.Name = a.Name
		}
		byVersion[a.Version] = s
	}
	out := make([]MigrationStatus, 0, len(byVersion))
	for _, s := range byVersion {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b MigrationStatus) int { return a.Version - b.Version })
	return out, nil
}
