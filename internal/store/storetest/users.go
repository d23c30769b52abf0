package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/store"
)

func newUser(id, username string) identity.User {
	return identity.User{
		ID: id, Username: username, Email: username, EmailVerified: true,
		DisplayName: "User " + id, PasswordHash: "$argon2id$hash-" + id,
		Roles: []string{identity.RoleHelpdesk}, CreatedAt: t0, UpdatedAt: t0,
	}
}

func testUserCRUD(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)

	u := newUser("u1", "alice@district.example")
	if err := db.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if want := t0.UTC().Truncate(time.Microsecond); !u.CreatedAt.Equal(want) || u.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt normalised to %v, want %v", u.CreatedAt, want)
	}
	got, err := db.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, *got, u)
	got, err = db.GetUserByUsername(ctx, "alice@district.example")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, *got, u)

	// Zero stamps are filled in.
	bob := newUser("u2", "bob@district.example")
	bob.CreatedAt, bob.UpdatedAt, bob.Roles = time.Time{}, time.Time{}, nil
	if err := db.CreateUser(ctx, &bob); err != nil {
		t.Fatal(err)
	}
	if bob.CreatedAt.IsZero() || !bob.UpdatedAt.Equal(bob.CreatedAt) {
		t.Fatalf("stamps not filled: %v %v", bob.CreatedAt, bob.UpdatedAt)
	}
	got, _ = db.GetUser(ctx, "u2")
	mustEqual(t, *got, bob)

	// Update writes every field but ID and CreatedAt.
	u.Username, u.Email, u.DisplayName = "alice2@district.example", "a@x.example", "Alice"
	u.Roles, u.Disabled, u.MustChangePassword, u.EmailVerified = []string{"admin", "helpdesk"}, true, true, false
	u.PasswordHash = ""
	u.UpdatedAt = t0.Add(time.Hour)
	created := u.CreatedAt
	u.CreatedAt = t0.Add(time.Hour)
	if err := db.UpdateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetUser(ctx, "u1")
	u.CreatedAt = created
	mustEqual(t, *got, u)

	n, err := db.CountUsers(ctx)
	if err != nil || n != 2 {
		t.Fatalf("CountUsers = %d, %v; want 2", n, err)
	}
	if err := db.DeleteUser(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountUsers(ctx); n != 1 {
		t.Fatalf("CountUsers after delete = %d", n)
	}
}

func testUserErrors(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	u := newUser("u1", "alice@district.example")
	if err := db.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	other := newUser("u2", "bob@district.example")
	if err := db.CreateUser(ctx, &other); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"create taken username", func() error { c := newUser("u3", "alice@district.example"); return db.CreateUser(ctx, &c) }, store.ErrAlreadyExists},
		{"create taken ID", func() error { c := newUser("u1", "carol@district.example"); return db.CreateUser(ctx, &c) }, store.ErrAlreadyExists},
		{"update to taken username", func() error { c := other; c.Username = u.Username; return db.UpdateUser(ctx, &c) }, store.ErrAlreadyExists},
		{"get missing", func() error { _, err := db.GetUser(ctx, "nope"); return err }, store.ErrNotFound},
		{"get missing username", func() error { _, err := db.GetUserByUsername(ctx, "nope@district.example"); return err }, store.ErrNotFound},
		{"username is matched exactly", func() error { _, err := db.GetUserByUsername(ctx, "ALICE@district.example"); return err }, store.ErrNotFound},
		{"update missing", func() error { c := newUser("nope", "nope@district.example"); return db.UpdateUser(ctx, &c) }, store.ErrNotFound},
		{"delete missing", func() error { return db.DeleteUser(ctx, "nope") }, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustIs(t, tt.run(), tt.want) })
	}
	if err := db.CreateUser(ctx, &identity.User{Username: "noid@district.example"}); err == nil {
		t.Fatal("CreateUser without ID succeeded")
	}
}

func testListUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	for _, u := range []identity.User{
		{ID: "1", Username: "carol@district.example", Email: "carol@home.example", DisplayName: "Carol Danvers"},
		{ID: "2", Username: "alice@district.example", Email: "alice@home.example", DisplayName: "Alice Liddell"},
		{ID: "3", Username: "bob@district.example", Email: "bobby@work.example", DisplayName: "Bob 100% Builder"},
		{ID: "4", Username: "dave_x@district.example", Email: "", DisplayName: "Dave"},
	} {
		if err := db.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		q    identity.ListQuery
		want []string // usernames' IDs in order
	}{
		{"all ordered by username", identity.ListQuery{}, []string{"2", "3", "1", "4"}},
		{"username, case-insensitive", identity.ListQuery{Search: "ALICE"}, []string{"2"}},
		{"email", identity.ListQuery{Search: "@WORK."}, []string{"3"}},
		{"display name", identity.ListQuery{Search: "danvers"}, []string{"1"}},
		{"substring of several", identity.ListQuery{Search: "home.example"}, []string{"2", "1"}},
		{"percent is literal", identity.ListQuery{Search: "100%"}, []string{"3"}},
		{"underscore is literal", identity.ListQuery{Search: "e_x"}, []string{"4"}},
		{"no match", identity.ListQuery{Search: "zed"}, []string{}},
		{"limit", identity.ListQuery{Limit: 2}, []string{"2", "3"}},
		{"offset", identity.ListQuery{Limit: 2, Offset: 2}, []string{"1", "4"}},
		{"offset past end", identity.ListQuery{Offset: 10}, []string{}},
		{"negative values use defaults", identity.ListQuery{Limit: -1, Offset: -1}, []string{"2", "3", "1", "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := db.ListUsers(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			mustEqual(t, ids, tt.want)
		})
	}
}

func testListUsersLimits(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	batch := make([]identity.User, 1100)
	for i := range batch {
		batch[i] = newUser(fmt.Sprintf("id%04d", i), fmt.Sprintf("user%04d@district.example", i))
	}
	if _, _, err := db.UpsertUsers(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ limit, want int }{{0, 100}, {5, 5}, {1000, 1000}, {5000, 1000}} {
		users, err := db.ListUsers(ctx, identity.ListQuery{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != tt.want {
			t.Errorf("Limit %d returned %d users, want %d", tt.limit, len(users), tt.want)
		}
	}
}

func testUpsertUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	existing := newUser("old", "alice@district.example")
	existing.Disabled = true
	if err := db.CreateUser(ctx, &existing); err != nil {
		t.Fatal(err)
	}

	later := t0.Add(24 * time.Hour)
	in := []identity.User{
		{ID: "ignored", Username: "alice@district.example", Email: "new@x.example", DisplayName: "Alice New",
			Roles: []string{"admin"}, CreatedAt: later, UpdatedAt: later}, // no hash: keep the old one
		newUser("new1", "bob@district.example"),
		newUser("new2", "carol@district.example"),
	}
	created, updated, err := db.UpsertUsers(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if created != 2 || updated != 1 {
		t.Fatalf("created, updated = %d, %d; want 2, 1", created, updated)
	}

	got, err := db.GetUserByUsername(ctx, "alice@district.example")
	if err != nil {
		t.Fatal(err)
	}
	want := existing
	want.Email, want.DisplayName, want.Roles, want.UpdatedAt = "new@x.example", "Alice New", []string{"admin"}, later.UTC().Truncate(time.Microsecond)
	mustEqual(t, *got, want)

	got, err = db.GetUser(ctx, "new1")
	if err != nil {
		t.Fatal(err)
	}
	wantNew := newUser("new1", "bob@district.example")
	wantNew.CreatedAt = t0.UTC().Truncate(time.Microsecond)
	wantNew.UpdatedAt = wantNew.CreatedAt
	mustEqual(t, *got, wantNew)

	// A new hash replaces the old one; running the same batch again only
	// updates.
	in[0].PasswordHash = "$argon2id$new"
	created, updated, err = db.UpsertUsers(ctx, in, nil)
	if err != nil || created != 0 || updated != 3 {
		t.Fatalf("second run: created, updated, err = %d, %d, %v; want 0, 3, nil", created, updated, err)
	}
	if got, _ := db.GetUser(ctx, "old"); got.PasswordHash != "$argon2id$new" {
		t.Fatalf("password hash = %q", got.PasswordHash)
	}

	if c, u, err := db.UpsertUsers(ctx, nil, nil); err != nil || c != 0 || u != 0 {
		t.Fatalf("empty batch: %d, %d, %v", c, u, err)
	}
}

// TestUpsertUsersAllOrNothing checks that a failing row rolls back the rows
// written before it in the same batch.
func testUpsertUsersAllOrNothing(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	existing := newUser("old", "alice@district.example")
	if err := db.CreateUser(ctx, &existing); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		batch []identity.User
		want  error
	}{
		{
			// The third row's ID belongs to alice: a primary key violation
			// after an update and an insert were already written.
			name: "ID collision mid-batch",
			batch: []identity.User{
				{ID: "x", Username: "alice@district.example", Email: "changed@x.example"},
				newUser("new1", "bob@district.example"),
				newUser("old", "carol@district.example"),
			},
			want: store.ErrAlreadyExists,
		},
		{
			name: "ID collision in a later chunk",
			batch: func() []identity.User {
				b := []identity.User{{ID: "x", Username: "alice@district.example", Email: "changed@x.example"}}
				for i := range 600 {
					b = append(b, newUser(fmt.Sprintf("n%d", i), fmt.Sprintf("n%d@district.example", i)))
				}
				return append(b, newUser("n1", "dup@district.example"))
			}(),
			want: store.ErrAlreadyExists,
		},
		{
			name: "username repeated in batch",
			batch: []identity.User{
				newUser("new1", "bob@district.example"),
				newUser("new2", "bob@district.example"),
			},
			want: store.ErrAlreadyExists,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, u, err := db.UpsertUsers(ctx, tt.batch, nil)
			mustIs(t, err, tt.want)
			if c != 0 || u != 0 {
				t.Fatalf("counts on failure = %d, %d", c, u)
			}
			if n, _ := db.CountUsers(ctx); n != 1 {
				t.Fatalf("CountUsers = %d, want 1: the batch was partly written", n)
			}
			got, _ := db.GetUser(ctx, "old")
			mustEqual(t, *got, existing)
		})
	}
}

// TestEndSessions: the stamp is stored at the store's precision, survives
// an UpdateUser of the other fields, and names a missing user.
func testEndSessions(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	u := newUser("u1", "alice@district.example")
	if err := db.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetUser(ctx, "u1"); got.SessionsValidAfter != nil {
		t.Fatalf("a new user starts with sessions ended at %v", got.SessionsValidAfter)
	}
	if err := db.EndSessions(ctx, "u1", t0); err != nil {
		t.Fatal(err)
	}
	u.DisplayName = "Alice"
	if err := db.UpdateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	want := t0.UTC().Truncate(time.Microsecond)
	if got.SessionsValidAfter == nil || !got.SessionsValidAfter.Equal(want) || got.SessionsValidAfter.Location() != time.UTC {
		t.Fatalf("SessionsValidAfter = %v, want %v", got.SessionsValidAfter, want)
	}
	if got.SessionValid(want.Add(-time.Microsecond)) || !got.SessionValid(want) {
		t.Fatal("SessionValid disagrees with the stamp")
	}
	mustIs(t, db.EndSessions(ctx, "nobody", t0), store.ErrNotFound)
}

// TestUpsertUsersWithEvents: an import's audit events land in the
// transaction of its users: both or neither.
func testUpsertUsersWithEvents(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	users := []identity.User{newUser("u1", "ann@district.example")}
	clash := []audit.Event{{ID: "same", Type: "user.imported", SubjectID: "u1"}, {ID: "same", Type: "user.imported", SubjectID: "u1"}}
	if _, _, err := db.UpsertUsers(ctx, users, clash); err == nil {
		t.Fatal("an event that cannot be written did not stop the import")
	}
	if n, _ := db.CountUsers(ctx); n != 0 {
		t.Fatalf("the users of a failed audit write were kept: %d", n)
	}
	if _, _, err := db.UpsertUsers(ctx, users, []audit.Event{{ID: "e1", Type: "user.imported", SubjectID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	events, err := db.ListEvents(ctx, audit.Filter{Type: "user.imported"})
	if err != nil || len(events) != 1 || events[0].SubjectID != "u1" {
		t.Fatalf("events %+v, %v", events, err)
	}
}

func testPasswordHistory(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	createUser(t, db, "u1")
	createUser(t, db, "u2")

	if got, err := db.PasswordHistory(ctx, "u1", 5); err != nil || len(got) != 0 {
		t.Fatalf("empty history = %v, %v", got, err)
	}
	for _, h := range []string{"h1", "h2", "h3", "h4"} {
		if err := db.AddPasswordHistory(ctx, "u1", h, 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddPasswordHistory(ctx, "u2", "other", 3); err != nil {
		t.Fatal(err)
	}
	got, err := db.PasswordHistory(ctx, "u1", 10)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, got, []string{"h4", "h3", "h2"})
	got, _ = db.PasswordHistory(ctx, "u1", 2)
	mustEqual(t, got, []string{"h4", "h3"})
	if got, _ := db.PasswordHistory(ctx, "u1", 0); len(got) != 0 {
		t.Fatalf("n = 0 returned %v", got)
	}
	// A smaller keep trims at once; other users are untouched.
	if err := db.AddPasswordHistory(ctx, "u1", "h5", 1); err != nil {
		t.Fatal(err)
	}
	got, _ = db.PasswordHistory(ctx, "u1", 10)
	mustEqual(t, got, []string{"h5"})
	got, _ = db.PasswordHistory(ctx, "u2", 10)
	mustEqual(t, got, []string{"other"})

	mustIs(t, db.AddPasswordHistory(ctx, "nobody", "h", 3), store.ErrNotFound)
	if err := db.AddPasswordHistory(ctx, "u1", "h", 0); err == nil {
		t.Fatal("keep 0 accepted")
	}
	if err := db.DeleteUser(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	createUser(t, db, "u2")
	if got, _ := db.PasswordHistory(ctx, "u2", 10); len(got) != 0 {
		t.Fatalf("history survived its user: %v", got)
	}
}
