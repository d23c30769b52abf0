package sqlstore_test

import (
	"reflect"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	driver, dsn := testenv.SQLDatabase(t)
	db := testenv.OpenSQL(t, driver, dsn)

	before, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || before[0].Version != 1 || before[0].Name != "init" {
		t.Fatalf("status of a fresh database = %+v, want 0001_init first", before)
	}
	for _, s := range before {
		if s.Applied || !s.AppliedAt.IsZero() {
			t.Fatalf("fresh database reports %+v applied", s)
		}
	}

	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	applied, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(before) {
		t.Fatalf("%d migrations after Migrate, %d before", len(applied), len(before))
	}
	for i, s := range applied {
		if !s.Applied || s.AppliedAt.IsZero() || s.Version != before[i].Version || s.Name != before[i].Name {
			t.Fatalf("after Migrate: %+v", s)
		}
	}

	// A second run changes nothing.
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	again, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, applied) {
		t.Fatalf("a second Migrate changed the status:\n%+v\nwant %+v", again, applied)
	}

	if _, err := db.CountUsers(ctx); err != nil {
		t.Fatalf("schema not usable: %v", err)
	}
}

// TestMigrateConcurrent starts replicas at once on one fresh database: each
// has its own pool, all must succeed, and every migration runs once (a
// second run of 0001 would fail on CREATE TABLE). On PostgreSQL this needs
// the advisory lock; on SQLite, BEGIN IMMEDIATE.
func TestMigrateConcurrent(t *testing.T) {
	ctx := t.Context()
	driver, dsn := testenv.SQLDatabase(t)
	const replicas = 4
	dbs := make([]*sqlstore.DB, replicas)
	for i := range dbs {
		dbs[i] = testenv.OpenSQL(t, driver, dsn)
	}

	start := make(chan struct{})
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = db.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}

	status, err := dbs[0].MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if !s.Applied {
			t.Errorf("migration %d not applied", s.Version)
		}
	}
}
