package testenv

import (
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithDatabase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/db1?sslmode=disable"},
		{"postgresql://u:p%40ss@db.example/", "postgresql://u:p%40ss@db.example/db1"},
		{"postgres://db.example", "postgres://db.example/db1"},
		{"host=127.0.0.1 user=postgres dbname=postgres", "host=127.0.0.1 user=postgres dbname=postgres dbname=db1"},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.in, "db1")
		if err != nil || got != tt.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSQL(t *testing.T) {
	db := SQL(t)
	n, err := db.CountUsers(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("CountUsers = %d, %v; want an empty, migrated store", n, err)
	}
	status, err := db.MigrationStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if !s.Applied {
			t.Errorf("migration %d not applied", s.Version)
		}
	}
}

// TestSQLDropsDatabase checks the server is left clean after a test.
func TestSQLDropsDatabase(t *testing.T) {
	if !PostgresConfigured() {
		t.Skip("set " + PostgresEnvVar + " to test PostgreSQL clean-up")
	}
	var name string
	t.Run("use", func(t *testing.T) {
		driver, dsn := SQLDatabase(t)
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		name = cfg.Database
		if err := OpenSQL(t, driver, dsn).Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	conn, err := pgx.Connect(t.Context(), os.Getenv(PostgresEnvVar))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "gatehouse_test_") || n != 0 {
		t.Fatalf("database %q still exists after the test", name)
	}
}
