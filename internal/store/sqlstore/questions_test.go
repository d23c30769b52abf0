package sqlstore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func createUser(t *testing.T, db *sqlstore.DB, id string) {
	t.Helper()
	u := identity.User{ID: id, Username: id + "@district.example"}
	if err := db.CreateUser(t.Context(), &u); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityAnswersNotInClear registers through the service and reads
// every column back: the answer must appear nowhere.
func TestSecurityAnswersNotInClear(t *testing.T) {
	ctx := t.Context()
	driver, dsn := testenv.SQLDatabase(t)
	db := testenv.OpenSQL(t, driver, dsn)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	createUser(t, db, "u1")
	catalog, err := questions.NewCatalog(nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := questions.NewService(db, catalog, identity.NewHasher(identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}, 0))
	secrets := []string{"Zanzibar Blue", "Marmaduke", "Quokka Express"}
	err = svc.Register(ctx, "u1", "u1", []questions.Choice{
		{QuestionID: "q01", Answer: secrets[0]}, {QuestionID: "q03", Answer: secrets[1]}, {QuestionID: "q05", Answer: secrets[2]},
	}, 3)
	if err != nil {
		t.Fatal(err)
	}

	rows := selectAll(t, driver, dsn, "security_answers")
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	for _, row := range rows {
		for col, v := range row {
			for _, s := range secrets {
				for _, form := range []string{s, questions.Normalize(s)} {
					if strings.Contains(strings.ToLower(v), strings.ToLower(form)) {
						t.Fatalf("column %s holds the answer %q in clear: %q", col, s, v)
					}
				}
			}
		}
	}
	if ok, err := svc.Check(ctx, "u1", map[string]string{"q03": "marmaduke", "q05": "QUOKKA  express"}); !ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
}

// TestPasswordHistoryThroughService checks identity's reuse rule on a real
// database.
func TestPasswordHistoryThroughService(t *testing.T) {
	ctx := t.Context()
	db := testenv.SQL(t)
	s := identity.NewService(db, identity.Options{
		Domain: "district.example", MinPasswordLength: 12, PasswordHistory: 2,
		Argon2: identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1},
	})
	u, err := s.Create(ctx, identity.NewUser{Username: "jdoe", Password: "first good password"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassword(ctx, u.ID, "first good password", "second good password"); err != nil {
		t.Fatal(err)
	}
	var pe *identity.PolicyError
	err = s.ChangePassword(ctx, u.ID, "second good password", "first good password")
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "recently") {
		t.Fatalf("reuse: %v, want a PolicyError", err)
	}
	if got, _ := db.PasswordHistory(ctx, u.ID, 10); len(got) != 2 {
		t.Fatalf("%d hashes kept, want 2", len(got))
	}
}

// selectAll reads every row of table through its own connection, each
// column as text, so a test sees exactly what the database holds.
func selectAll(t *testing.T, driver, dsn, table string) []map[string]string {
	t.Helper()
	dialector := sqlite.Open(dsn)
	if driver == sqlstore.DriverPostgres {
		dialector = postgres.Open(dsn)
	}
	g, err := gorm.Open(dialector, &gorm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	rows, err := sqlDB.QueryContext(t.Context(), "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := map[string]string{}
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				row[c] = string(b)
			} else {
				row[c] = fmt.Sprint(vals[i])
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
