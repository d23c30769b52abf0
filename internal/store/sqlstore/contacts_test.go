package sqlstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

const (
	testPhone = "+17045550112"
	testEmail = "mary@home.example"
)

// storedText is everything the methods table holds, as text.
func storedText(t *testing.T, db *sqlstore.DB) string {
	t.Helper()
	rows, err := db.RawRows(t.Context(), "mfa_methods")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		for col, v := range r {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%s=%v\n", col, v)
		}
	}
	return b.String()
}

// TestMethodContactsSealedAtRest: a phone number or an alternate email is
// stored only sealed, with its HMAC, and reads back in the clear.
func TestMethodContactsSealedAtRest(t *testing.T) {
	db := testenv.SQL(t)
	createUser(t, db, "u1")
	now := time.Now().UTC()
	for _, m := range []mfa.Method{
		{ID: "m-phone", UserID: "u1", Kind: mfa.Phone, Phone: testPhone, Factor: mfa.FactorSMS, CreatedAt: now},
		{ID: "m-email", UserID: "u1", Kind: mfa.Email, Email: testEmail, Factor: mfa.FactorEmail, CreatedAt: now.Add(time.Second)},
	} {
		if err := db.CreateMethod(t.Context(), &m); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.ListMethods(t.Context(), "u1")
	if err != nil || len(got) != 2 || got[0].Phone != testPhone || got[1].Email != testEmail || got[0].Email != "" || got[1].Phone != "" {
		t.Fatalf("ListMethods = %+v, %v", got, err)
	}
	stored := storedText(t, db)
	for _, plain := range []string{"7045550112", "home.example"} {
		if strings.Contains(stored, plain) {
			t.Fatalf("%q is stored in the clear:\n%s", plain, stored)
		}
	}
	if !strings.Contains(stored, "contact_mac=") || strings.Count(stored, "contact_mac=\n") > 0 {
		t.Fatalf("no HMAC beside a sealed contact:\n%s", stored)
	}
}

// TestMigrationSealsExistingContacts: migration 11 seals the phone numbers
// and addresses stored before it and drops the plaintext columns; without
// the key it refuses rather than leave them in the clear.
func TestMigrationSealsExistingContacts(t *testing.T) {
	ctx := t.Context()
	driver, dsn := testenv.SQLDatabase(t)
	db := testenv.OpenSQL(t, driver, dsn)
	if err := db.MigrateTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	createUser(t, db, "u1")
	for _, r := range [][3]string{{"m-app", "app", ""}, {"m-phone", "phone", testPhone}, {"m-email", "email", testEmail}} {
		phone, email := r[2], ""
		if r[1] == "email" {
			phone, email = "", r[2]
		}
		if err := db.Exec(ctx, "INSERT INTO mfa_methods (id, user_id, kind, phone, email, factor, is_default, created_at) VALUES (?, 'u1', ?, ?, ?, '', ?, ?)",
			r[0], r[1], phone, email, r[1] == "app", time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}

	keyless, err := sqlstore.Open(ctx, driver, dsn, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := keyless.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "seal") {
		t.Errorf("migrating without the key: %v", err)
	}
	keyless.Close()

	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListMethods(ctx, "u1")
	if err != nil || len(got) != 3 {
		t.Fatalf("ListMethods = %+v, %v", got, err)
	}
	byID := map[string]mfa.Method{}
	for _, m := range got {
		byID[m.ID] = m
	}
	if byID["m-phone"].Phone != testPhone || byID["m-email"].Email != testEmail || byID["m-app"].Phone+byID["m-app"].Email != "" {
		t.Fatalf("after the migration: %+v", got)
	}
	stored := storedText(t, db)
	if strings.Contains(stored, "7045550112") || strings.Contains(stored, "home.example") || strings.Contains(stored, "phone=") {
		t.Fatalf("plaintext left after the migration:\n%s", stored)
	}
	if err := db.Exec(ctx, "SELECT phone FROM mfa_methods"); err == nil {
		t.Fatal("the plaintext phone column is still there")
	}
}
