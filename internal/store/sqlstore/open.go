// Package sqlstore is the SQL storage adapter (PostgreSQL or SQLite, through
// gorm) behind every domain store interface.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/store"
)

var (
	_ identity.Store   = (*DB)(nil)
	_ clients.Store    = (*DB)(nil)
	_ keys.Store       = (*DB)(nil)
	_ audit.Store      = (*DB)(nil)
	_ oauth.GrantStore = (*DB)(nil)
	_ mfa.Store        = (*DB)(nil)
	_ policy.Store     = (*DB)(nil)
	_ questions.Store  = (*DB)(nil)
)

// Supported drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DB is a connection pool to one database; it implements every store
// interface.
type DB struct {
	db       *gorm.DB
	sql      *sql.DB
	driver   string
	contacts *contactSealer // nil until SealContactsWith
}

// Open connects to the database and checks it answers. It does not migrate.
// For SQLite, maxOpen and maxIdle are ignored: it uses one connection.
func Open(ctx context.Context, driver, dsn string, maxOpen, maxIdle int) (*DB, error) {
	var dialector gorm.Dialector
	switch driver {
	case DriverSQLite:
		d, err := sqliteDialector(dsn)
		if err != nil {
			return nil, err
		}
		dialector = d
	case DriverPostgres:
		dialector = postgres.Open(dsn)
	default:
		return nil, fmt.Errorf("sqlstore: unsupported driver %q (want %q or %q)", driver, DriverSQLite, DriverPostgres)
	}

	g, err := gorm.Open(dialector, &gorm.Config{
		// A single statement is atomic on its own; gorm's default would wrap
		// each in BEGIN/COMMIT, three round trips for one. Writes that
		// belong together use explicit transactions.
		SkipDefaultTransaction: true,
		TranslateError:         true,
		Logger:                 logger.Discard,
		NowFunc:                now,
		DisableAutomaticPing:   true, // we ping below, with the caller's context
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", driver, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", driver, err)
	}
	if driver == DriverSQLite {
		// One connection serialises all access in this process, so
		// transactions never fail with SQLITE_BUSY against each other and
		// ":memory:" databases are not split across connections. Other
		// processes (the CLI) are handled by WAL, busy_timeout and
		// BEGIN IMMEDIATE.
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		sqlDB.SetConnMaxLifetime(0)
	} else {
		sqlDB.SetMaxOpenConns(maxOpen)
		sqlDB.SetMaxIdleConns(maxIdle)
	}

	d := &DB{db: g, sql: sqlDB, driver: driver}
	if err := d.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return d, nil
}

// sqliteDialector adds the pragmas Gatehouse relies on to dsn and creates the
// database file's directory. Pragmas come first so the DSN can override them.
func sqliteDialector(dsn string) (gorm.Dialector, error) {
	path, query, _ := strings.Cut(dsn, "?")
	params := []string{
		"_pragma=busy_timeout(5000)",
		"_pragma=foreign_keys(1)",
		"_pragma=journal_mode(WAL)",
		// Take the write lock at BEGIN: a deferred transaction that reads
		// and then writes fails at once with SQLITE_BUSY when another
		// process wrote in between, instead of waiting for busy_timeout.
		"_txlock=immediate",
	}
	if query != "" {
		params = append(params, query)
	}

	if file := strings.TrimPrefix(path, "file:"); file != "" && file != ":memory:" &&
		!strings.Contains(query, "mode=memory") {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: create database directory: %w", err)
		}
	}
	return sqlite.Open(path + "?" + strings.Join(params, "&")), nil
}

// Ping checks the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping %s: %w", d.driver, err)
	}
	return nil
}

// Heartbeat writes the one-row heartbeat table, proving the database takes
// writes, not just that it answers.
func (d *DB) Heartbeat(ctx context.Context) error {
	return wrap(d.db.WithContext(ctx).Exec(
		"INSERT INTO heartbeat (id, beat_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at", now()).Error,
		"heartbeat")
}

// Close releases every connection.
func (d *DB) Close() error { return d.sql.Close() }

// now is the clock for stamps written by the store: UTC, at the microsecond
// precision PostgreSQL keeps, so a value reads back exactly as written on
// both dialects.
func now() time.Time { return dbTime(time.Now()) }

func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// wrap maps gorm errors onto the store sentinels, with context.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	op := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrAlreadyExists)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		// The row it belongs to (a user, mostly) is gone.
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAlreadyExists),
		errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable):
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	default:
		// Anything else is the database failing to answer.
		return fmt.Errorf("sqlstore: %s: %w: %w", op, store.ErrUnavailable, err)
	}
}

// transaction runs fn in one transaction, committed when fn returns nil.
// fn's own error comes back as it is; a BEGIN or COMMIT that fails is the
// database not answering.
func (d *DB) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var fnErr error
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err == nil || err == fnErr {
		return err
	}
	return wrap(err, "transaction")
}

// affected turns a write's result into an error, ErrNotFound when no row
// matched.
func affected(res *gorm.DB, format string, args ...any) error {
	if res.Error != nil {
		return wrap(res.Error, format, args...)
	}
	if res.RowsAffected == 0 {
		return wrap(gorm.ErrRecordNotFound, format, args...)
	}
	return nil
}

// OnStatement calls fn after every SQL statement the store runs: metrics,
// and tests that count the statements a flow costs.
func (d *DB) OnStatement(fn func()) error {
	cb := d.db.Callback()
	after := func(*gorm.DB) { fn() }
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("gatehouse:count_create", after),
		cb.Query().After("gorm:query").Register("gatehouse:count_query", after),
		cb.Update().After("gorm:update").Register("gatehouse:count_update", after),
		cb.Delete().After("gorm:delete").Register("gatehouse:count_delete", after),
		cb.Row().After("gorm:row").Register("gatehouse:count_row", after),
		cb.Raw().After("gorm:raw").Register("gatehouse:count_raw", after),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
