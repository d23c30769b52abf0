package sqlstore_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// The storage contract runs on the database testenv gives: SQLite, or the
// PostgreSQL named by GATEHOUSE_TEST_POSTGRES_DSN (.ci/run runs both).
func TestStoreContract(t *testing.T) {
	backend := sqlstore.DriverSQLite
	if testenv.PostgresConfigured() {
		backend = sqlstore.DriverPostgres
	}
	t.Run(backend, func(t *testing.T) {
		storetest.Run(t, storetest.Backend{
			New: func(t *testing.T) storetest.Store { return testenv.SQL(t) },
			Down: func(t *testing.T) storetest.Store {
				// Closed: every call fails as a dropped connection does.
				db := testenv.SQL(t)
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				return db
			},
		})
	})
}
