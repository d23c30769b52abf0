package sqlstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

func TestOpenUnknownDriver(t *testing.T) {
	_, err := sqlstore.Open(t.Context(), "mysql", "whatever", 1, 1)
	if err == nil || !strings.Contains(err.Error(), `unsupported driver "mysql"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenUnreachablePostgres(t *testing.T) {
	_, err := sqlstore.Open(t.Context(), sqlstore.DriverPostgres, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", 1, 1)
	if err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
}

// TestOpenSQLiteFile checks that the data directory is created and the
// database runs in WAL mode.
func TestOpenSQLiteFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "data", "nested", "gatehouse.db")
	for _, dsn := range []string{path, "file:" + path + "?cache=private"} {
		db, err := sqlstore.Open(ctx, sqlstore.DriverSQLite, dsn, 10, 10)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path + "-wal"); err != nil {
			t.Errorf("no WAL file next to the database: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
