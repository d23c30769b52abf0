package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// PostgresEnvVar names the variable that switches SQL tests from SQLite to
// PostgreSQL. It points at a server database the tests may connect to
// while they create and drop their own databases, for example
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Both URL
// and key=value DSNs work.
const PostgresEnvVar = "GATEHOUSE_TEST_POSTGRES_DSN"

// PostgresConfigured reports whether SQL tests run against PostgreSQL.
func PostgresConfigured() bool { return os.Getenv(PostgresEnvVar) != "" }

// SQL returns a migrated, empty store for one test, closed when the test
// ends.
func SQL(t testing.TB) *sqlstore.DB {
	t.Helper()
	driver, dsn := SQLDatabase(t)
	db := OpenSQL(t, driver, dsn)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("testenv: migrate %s test database: %v", driver, err)
	}
	return db
}

// OpenSQL opens a store on dsn, closed when the test ends.
func OpenSQL(t testing.TB, driver, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), driver, dsn, 4, 4)
	if err != nil {
		t.Fatalf("testenv: open %s test database: %v", driver, err)
	}
	db.SealContactsWith(ContactBox(t), ContactMACKey)
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("testenv: close %s test database: %v", driver, err)
		}
	})
	return db
}

// SQLDatabase creates a fresh, empty (unmigrated) database for one test and
// returns the sqlstore driver and DSN to reach it. A PostgreSQL database is
// dropped when the test ends; a SQLite one lives in t.TempDir().
func SQLDatabase(t testing.TB) (driver, dsn string) {
	t.Helper()
	admin := os.Getenv(PostgresEnvVar)
	if admin == "" {
		return sqlstore.DriverSQLite, filepath.Join(t.TempDir(), "gatehouse.db")
	}

	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "gatehouse_test_" + hex.EncodeToString(b)
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("testenv: %s: %v", PostgresEnvVar, err)
	}

	// A configured but unreachable server fails the test rather than
	// skipping it, so a broken CI database cannot pass silently.
	if err := adminExec(admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: PostgreSQL from %s: %v", PostgresEnvVar, err)
	}
	// Cleanups run last-in first-out, so stores opened on the database
	// afterwards are closed before it is dropped; FORCE covers any left.
	t.Cleanup(func() {
		if err := adminExec(admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop test database: %v", err)
		}
	})
	return sqlstore.DriverPostgres, dsn
}

// adminExec runs one statement on the server named by the admin DSN.
func adminExec(admin, stmt string) error {
	// Not t.Context(): it is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// withDatabase returns dsn pointing at database name instead.
func withDatabase(dsn, name string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		// key=value DSN: a repeated keyword overrides the earlier one.
		return dsn + " dbname=" + name, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// ContactMACKey keys the HMAC of methods' contacts in test stores.
var ContactMACKey = []byte("testenv contact mac key, 32 byte")

// ContactBox seals methods' contacts in test stores.
func ContactBox(t testing.TB) *secrets.Box {
	t.Helper()
	box, err := secrets.NewBox([]byte("testenv contact sealing key, 32b"))
	if err != nil {
		t.Fatal(err)
	}
	return box
}
