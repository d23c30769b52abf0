package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/store"
)

// fakeStore is an in-memory Store; it hands out copies, like a database.
type fakeStore struct {
	mu        sync.Mutex
	users     map[string]User // by ID
	upsertErr error           // when set, UpsertUsers fails and writes nothing
	events    []audit.Event   // written by UpsertUsers
	updates   int
	history   map[string][]string // password hashes by user ID, newest first
}

func newFakeStore() *fakeStore {
	return &fakeStore{users: map[string]User{}, history: map[string][]string{}}
}

func clone(u User) *User {
	u.Roles = slices.Clone(u.Roles)
	return &u
}

func (f *fakeStore) byName(name string) (User, bool) {
	for _, u := range f.users {
		if u.Username == name {
			return u, true
		}
	}
	return User{}, false
}

func (f *fakeStore) CreateUser(_ context.Context, u *User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, taken := f.byName(u.Username); taken {
		return store.ErrAlreadyExists
	}
	if _, taken := f.users[u.ID]; taken {
		return store.ErrAlreadyExists
	}
	f.users[u.ID] = *clone(*u)
	return nil
}

func (f *fakeStore) GetUser(_ context.Context, id string) (*User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(u), nil
}

func (f *fakeStore) GetUserByUsername(_ context.Context, name string) (*User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.byName(name)
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(u), nil
}

func (f *fakeStore) ListUsers(_ context.Context, q ListQuery) ([]User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []User
	for _, u := range f.users {
		if q.Search == "" || strings.Contains(u.Username+" "+u.Email+" "+u.DisplayName, q.Search) {
			out = append(out, *clone(u))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

func (f *fakeStore) UpdateUser(_ context.Context, u *User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[u.ID]; !ok {
		return store.ErrNotFound
	}
	f.users[u.ID] = *clone(*u)
	f.updates++
	return nil
}

func (f *fakeStore) EndSessions(_ context.Context, id string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return store.ErrNotFound
	}
	u.SessionsValidAfter = &at
	f.users[id] = u
	return nil
}

func (f *fakeStore) DeleteUser(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[id]; !ok {
		return store.ErrNotFound
	}
	delete(f.users, id)
	return nil
}

func (f *fakeStore) CountUsers(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.users)), nil
}

// UpsertUsers mirrors sqlstore: matched by username, all or nothing.
func (f *fakeStore) UpsertUsers(_ context.Context, users []User, events []audit.Event) (created, updated int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.upsertErr != nil {
		return 0, 0, f.upsertErr
	}
	seen := map[string]bool{}
	for _, u := range users {
		if u.ID == "" || seen[u.Username] {
			return 0, 0, fmt.Errorf("bad batch: %w", store.ErrAlreadyExists)
		}
		seen[u.Username] = true
	}
	for _, u := range users {
		old, ok := f.byName(u.Username)
		if !ok {
			f.users[u.ID] = *clone(u)
			created++
			continue
		}
		old.Email, old.DisplayName, old.UpdatedAt = u.Email, u.DisplayName, u.UpdatedAt
		if u.Roles != nil {
			old.Roles = slices.Clone(u.Roles)
		}
		if u.Groups != nil {
			old.Groups = slices.Clone(u.Groups)
		}
		if u.PasswordHash != "" {
			old.PasswordHash, old.MustChangePassword = u.PasswordHash, u.MustChangePassword
		}
		f.users[old.ID] = old
		updated++
	}
	f.events = append(f.events, events...)
	return created, updated, nil
}

func (f *fakeStore) PasswordHistory(_ context.Context, userID string, n int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.history[userID]
	return slices.Clone(h[:min(n, len(h))]), nil
}

func (f *fakeStore) AddPasswordHistory(_ context.Context, userID, hash string, keep int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[userID]; !ok {
		return store.ErrNotFound
	}
	h := append([]string{hash}, f.history[userID]...)
	f.history[userID] = h[:min(keep, len(h))]
	return nil
}

var testNow = time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)

func newTestService(st Store) *Service {
	return NewService(st, Options{
		Domain: testDomain, Argon2: testParams, MinPasswordLength: 12,
		Now: func() time.Time { return testNow },
	})
}

func isPolicy(err error) bool {
	var pe *PolicyError
	return errors.As(err, &pe)
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	u, err := s.Create(ctx, NewUser{
		Username: " JDoe ", Email: "John.Doe@District.EXAMPLE", DisplayName: "  John Doe ",
		Password: "correct horse battery", Roles: []string{RoleHelpdesk},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "jdoe@district.example" || u.Email != "John.Doe@district.example" || u.DisplayName != "John Doe" {
		t.Errorf("created %+v", u)
	}
	if u.ID == "" || !u.CreatedAt.Equal(testNow) || !u.HasRole(RoleHelpdesk) || u.HasRole(RoleAdmin) {
		t.Errorf("created %+v", u)
	}
	if !VerifyPassword(u.PasswordHash, "correct horse battery") {
		t.Error("stored hash does not verify the password")
	}
	got, err := s.Find(ctx, "JDOE")
	if err != nil || got.ID != u.ID {
		t.Fatalf("Find(JDOE) = %v, %v", got, err)
	}
	if got, err := s.Find(ctx, u.ID); err != nil || got.Username != u.Username {
		t.Fatalf("Find(id) = %v, %v", got, err)
	}

	// A pre-hashed password is kept as is; no password at all is allowed.
	h := HashPassword("from another system", testParams)
	u2, err := s.Create(ctx, NewUser{Username: "imported", PasswordHash: h})
	if err != nil || u2.PasswordHash != h {
		t.Fatalf("create with hash = %+v, %v", u2, err)
	}
	if u3, err := s.Create(ctx, NewUser{Username: "nopass"}); err != nil || u3.PasswordHash != "" {
		t.Fatalf("create without password = %+v, %v", u3, err)
	}
}

func TestCreatePolicyErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		nu   NewUser
		want string // substring of the message
	}{
		{"short password", NewUser{Username: "jdoe", Password: "short"}, "at least 12"},
		{"long password", NewUser{Username: "jdoe", Password: strings.Repeat("p", 257)}, "at most 256"},
		{"password contains username", NewUser{Username: "jdoe", Password: "my-JDoe-password"}, "username"},
		{"bad email", NewUser{Username: "jdoe", Email: "not an email", Password: "correct horse battery"}, "email"},
		{"email with name", NewUser{Username: "jdoe", Email: "John <j@x.example>"}, "email"},
		{"unknown role", NewUser{Username: "jdoe", Roles: []string{"root"}}, "unknown role"},
		{"invalid username", NewUser{Username: "j doe"}, "username"},
		{"empty username", NewUser{Username: ""}, "username"},
		{"password and hash", NewUser{Username: "jdoe", Password: "correct horse battery", PasswordHash: HashPassword("x", testParams)}, "not both"},
		{"bcrypt hash", NewUser{Username: "jdoe", PasswordHash: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}, "argon2id"},
		{"long display name", NewUser{Username: "jdoe", DisplayName: strings.Repeat("é", 201)}, "200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore()
			_, err := newTestService(st).Create(ctx, tt.nu)
			if !isPolicy(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a PolicyError mentioning %q", err, tt.want)
			}
			if len(st.users) != 0 {
				t.Fatal("a refused user was stored")
			}
		})
	}
}

func TestCreateDuplicate(t *testing.T) {
	ctx := context.Background()
	s := newTestService(newFakeStore())
	if _, err := s.Create(ctx, NewUser{Username: "jdoe"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, NewUser{Username: "JDoe@district.example"})
	if !isPolicy(err) || !strings.Contains(err.Error(), "already taken") {
		t.Fatalf("duplicate = %v, want PolicyError 'already taken'", err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	const pw = "correct horse battery"
	u, err := s.Create(ctx, NewUser{Username: "jdoe", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	off, err := s.Create(ctx, NewUser{Username: "gone", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, off.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, NewUser{Username: "nopass"}); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"jdoe", "JDoe", " jdoe@DISTRICT.example "} {
		got, err := s.Authenticate(ctx, name, pw)
		if err != nil || got.ID != u.ID {
			t.Errorf("Authenticate(%q) = %v, %v", name, got, err)
		}
	}
	fails := []struct{ name, user, pw string }{
		{"unknown user", "nobody", pw},
		{"wrong password", "jdoe", pw + "!"},
		{"empty password", "jdoe", ""},
		{"disabled", "gone", pw},
		{"no password set", "nopass", ""},
		{"malformed username", "a b", pw},
		{"other domain", "jdoe@other.example", pw},
	}
	for _, tt := range fails {
		if _, err := s.Authenticate(ctx, tt.user, tt.pw); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("%s: err = %v, want ErrInvalidCredentials", tt.name, err)
		}
	}
	if st.updates != 1 { // only SetDisabled
		t.Errorf("%d updates, want 1: authentication with current params must not write", st.updates)
	}
}

func TestAuthenticateRehashes(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	const pw = "correct horse battery"
	u, err := newTestService(st).Create(ctx, NewUser{Username: "jdoe", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	stronger := Argon2Params{MemoryKiB: 128, Iterations: 2, Parallelism: 1}
	later := testNow.Add(time.Hour)
	s2 := NewService(st, Options{Domain: testDomain, Argon2: stronger, MinPasswordLength: 12, Now: func() time.Time { return later }})
	if _, err := s2.Authenticate(ctx, "jdoe", pw); err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetUser(ctx, u.ID)
	p, _, _, err := parsePHC(got.PasswordHash)
	if err != nil || p != stronger || !VerifyPassword(got.PasswordHash, pw) || !got.UpdatedAt.Equal(later) {
		t.Fatalf("after rehash: params %+v, err %v, updated %v", p, err, got.UpdatedAt)
	}
	// A wrong password never triggers a rehash.
	s3 := NewService(st, Options{Domain: testDomain, Argon2: testParams, MinPasswordLength: 12})
	if _, err := s3.Authenticate(ctx, "jdoe", "wrong password!"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if again, _ := st.GetUser(ctx, u.ID); again.PasswordHash != got.PasswordHash {
		t.Fatal("a failed sign-in rewrote the hash")
	}
}

func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	u, err := s.Create(ctx, NewUser{Username: "jdoe", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, u.ID, "short", false); !isPolicy(err) {
		t.Fatalf("short password: %v", err)
	}
	if err := s.SetPassword(ctx, u.ID, "xx-jdoe-xx-long", false); !isPolicy(err) {
		t.Fatalf("password with username: %v", err)
	}
	if err := s.SetPassword(ctx, "no-such-id", "another good password", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := s.SetPassword(ctx, u.ID, "another good password", true); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, u.ID)
	if !got.MustChangePassword {
		t.Error("mustChange not stored")
	}
	if _, err := s.Authenticate(ctx, "jdoe", "correct horse battery"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if _, err := s.Authenticate(ctx, "jdoe", "another good password"); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestEnsureBootstrapAdmin(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	name, pw, err := s.EnsureBootstrapAdmin(ctx)
	if err != nil || name != "admin@district.example" || len(pw) != 20 {
		t.Fatalf("EnsureBootstrapAdmin = %q, %q, %v", name, pw, err)
	}
	u, err := s.Authenticate(ctx, "admin", pw)
	if err != nil {
		t.Fatal(err)
	}
	if !u.MustChangePassword || !u.HasRole(RoleAdmin) {
		t.Errorf("bootstrap admin = %+v", u)
	}
	name, pw, err = s.EnsureBootstrapAdmin(ctx)
	if err != nil || name != "" || pw != "" {
		t.Fatalf("second call = %q, %q, %v; want empty", name, pw, err)
	}
	if n, _ := st.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
}

func TestEnsureBootstrapAdminNotEmpty(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	if _, err := s.Create(ctx, NewUser{Username: "someone"}); err != nil {
		t.Fatal(err)
	}
	if name, pw, err := s.EnsureBootstrapAdmin(ctx); name != "" || pw != "" || err != nil {
		t.Fatalf("directory not empty, got %q, %q, %v", name, pw, err)
	}
}

// The generated password is 20 characters; a stricter policy must not make
// the bootstrap silently do nothing.
func TestEnsureBootstrapAdminLongPolicy(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := NewService(st, Options{Domain: testDomain, Argon2: testParams, MinPasswordLength: 24})
	name, pw, err := s.EnsureBootstrapAdmin(ctx)
	n, _ := st.CountUsers(ctx)
	if err == nil && n == 0 {
		t.Fatalf("EnsureBootstrapAdmin = %q, %q, nil but created no administrator (MinPasswordLength 24)", name, pw)
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	hash := HashPassword("pre-hashed password", testParams)
	csv := "\ufeffUserName , EMAIL,display_name,password_hash,Roles\n" +
		"jdoe,jdoe@district.example,John Doe,\"" + hash + "\",\n" + // a PHC string has commas
		"  ASmith ,,\"Smith, Anna\",," + "admin; helpdesk\n"
	rep, err := importCSV(ctx, s, strings.NewReader(csv), ImportOptions{})
	if err != nil || rep.Created != 2 || rep.Updated != 0 || len(rep.Rejected) != 0 {
		t.Fatalf("Import = %+v, %v", rep, err)
	}
	j, err := st.GetUserByUsername(ctx, "jdoe@district.example")
	if err != nil || j.Email != "jdoe@district.example" || j.DisplayName != "John Doe" || j.PasswordHash != hash || len(j.Roles) != 0 {
		t.Fatalf("jdoe = %+v, %v", j, err)
	}
	a, err := st.GetUserByUsername(ctx, "asmith@district.example")
	if err != nil || a.DisplayName != "Smith, Anna" || !a.HasRole(RoleAdmin) || !a.HasRole(RoleHelpdesk) || a.PasswordHash != "" {
		t.Fatalf("asmith = %+v, %v", a, err)
	}

	// Running the same file again changes nothing.
	rep, err = importCSV(ctx, s, strings.NewReader(csv), ImportOptions{})
	if err != nil || rep.Created != 0 || rep.Updated != 0 || rep.Unchanged != 2 {
		t.Fatalf("second Import = %+v, %v", rep, err)
	}
	if again, _ := st.GetUserByUsername(ctx, "jdoe@district.example"); again.ID != j.ID {
		t.Fatal("re-import changed the user's ID")
	}
	if n, _ := st.CountUsers(ctx); n != 2 {
		t.Fatalf("%d users after re-import, want 2", n)
	}
}

func TestImportPasswordColumn(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	rep, err := importCSV(ctx, s, strings.NewReader("password,username\ncorrect horse battery,jdoe\n"), ImportOptions{})
	if err != nil || rep.Created != 1 {
		t.Fatalf("Import = %+v, %v", rep, err)
	}
	if _, err := s.Authenticate(ctx, "jdoe", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
}

func TestImportRejectsWholeFile(t *testing.T) {
	ctx := context.Background()
	csv := "username,password\n" +
		"good1,correct horse battery\n" + // line 2
		"bad,short\n" + // line 3
		"good2,correct horse battery\n" + // line 4
		"\"multi\nline\",x\n" + // line 5: invalid username
		"toofew\n" // line 7: field count
	st := newFakeStore()
	rep, err := importCSV(ctx, newTestService(st), strings.NewReader(csv), ImportOptions{})
	if !errors.Is(err, ErrImportRejected) {
		t.Fatalf("err = %v, want ErrImportRejected", err)
	}
	wantLines := []int{3, 5, 7}
	if len(rep.Rejected) != len(wantLines) {
		t.Fatalf("rejected %+v, want lines %v", rep.Rejected, wantLines)
	}
	for i, l := range wantLines {
		if rep.Rejected[i].Line != l || !strings.HasPrefix(rep.Rejected[i].Error(), fmt.Sprintf("line %d: ", l)) {
			t.Errorf("rejected[%d] = %v, want line %d", i, rep.Rejected[i], l)
		}
	}
	if !strings.Contains(rep.Rejected[0].Msg, "at least 12") || !strings.Contains(rep.Rejected[2].Msg, "expected 2 fields, got 1") {
		t.Errorf("messages: %+v", rep.Rejected)
	}
	if len(st.users) != 0 || rep.Created != 0 {
		t.Fatalf("a rejected file wrote %d users", len(st.users))
	}

	// --continue-on-error writes the good rows and still reports the bad.
	rep, err = importCSV(ctx, newTestService(st), strings.NewReader(csv), ImportOptions{ContinueOnError: true})
	if err != nil || rep.Created != 2 || len(rep.Rejected) != 3 {
		t.Fatalf("continue-on-error = %+v, %v", rep, err)
	}
	if len(st.users) != 2 {
		t.Fatalf("%d users stored, want 2", len(st.users))
	}
}

func TestImportDuplicateUsername(t *testing.T) {
	ctx := context.Background()
	csv := "username\njdoe\nother\nJDOE@district.example\n"
	st := newFakeStore()
	rep, err := importCSV(ctx, newTestService(st), strings.NewReader(csv), ImportOptions{})
	if !errors.Is(err, ErrImportRejected) || len(rep.Rejected) != 1 {
		t.Fatalf("Import = %+v, %v", rep, err)
	}
	r := rep.Rejected[0]
	if r.Line != 4 || !strings.Contains(r.Msg, "line 2") || !strings.Contains(r.Msg, "jdoe@district.example") {
		t.Fatalf("duplicate reported as %v, want line 4 naming line 2", r)
	}
	if len(st.users) != 0 {
		t.Fatal("rejected file wrote users")
	}
}

func TestImportHeaderErrors(t *testing.T) {
	tests := []struct{ name, csv, want string }{
		{"empty", "", "header"},
		{"unknown column", "username,phone\n", "unknown column"},
		{"repeated column", "username,Username\n", "twice"},
		{"no username", "email,password\n", "no username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore()
			_, err := importCSV(context.Background(), newTestService(st), strings.NewReader(tt.csv), ImportOptions{ContinueOnError: true})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestImportHeaderOnly(t *testing.T) {
	rep, err := importCSV(context.Background(), newTestService(newFakeStore()), strings.NewReader("username\n"), ImportOptions{})
	if err != nil || rep.Created+rep.Updated != 0 || len(rep.Rejected) != 0 {
		t.Fatalf("Import = %+v, %v", rep, err)
	}
}

func TestImportStoreFailure(t *testing.T) {
	st := newFakeStore()
	st.upsertErr = errors.New("disk full")
	_, err := importCSV(context.Background(), newTestService(st), strings.NewReader("username\njdoe\n"), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
}

// A CSV syntax error refuses the whole file with its line number, not a
// crash: past it, where rows begin is a guess.
func TestImportCSVSyntaxError(t *testing.T) {
	tests := []struct {
		name, csv string
		line      int
	}{
		{"bare quote in later field", "username,email\njdoe,a\"b\n", 2},
		{"bare quote in first field", "username,email\nj\"doe,a@b.example\n", 2},
		{"bad quote in first field", "username\n\"jdoe\"x\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore()
			var rep *ImportReport
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("Import panicked on %q: %v", tt.csv, p)
					}
				}()
				rep, err = importCSV(context.Background(), newTestService(st), strings.NewReader(tt.csv), ImportOptions{})
			}()
			var fe *ImportFileError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Msg, fmt.Sprintf("line %d: ", tt.line)) || rep != nil || len(st.users) != 0 {
				t.Fatalf("Import = %+v, %v; want the file refused at line %d", rep, err, tt.line)
			}
		})
	}
}

func FuzzImportCSV(f *testing.F) {
	h := HashPassword("pre-hashed password", testParams)
	for _, s := range []string{
		"username\njdoe\n",
		"\ufeffusername,email,display_name,password,roles\njdoe,j@x.example,J,correct horse battery,admin;helpdesk\n",
		"username,password_hash\njdoe,\"" + h + "\"\n",
		"username\njdoe\nJDOE\n",
		"username,email\n\"a\nb\",x\n",
		"username,email\njdoe,a\"b\n",
		"",
		"bogus\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, continueOnError bool) {
		// Recover so one crashing input fails this case, not the whole binary.
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Import(%q, %v) panicked: %v", data, continueOnError, p)
			}
		}()
		st := newFakeStore()
		rep, err := importCSV(context.Background(), newTestService(st), bytes.NewReader(data), ImportOptions{ContinueOnError: continueOnError})
		if err != nil {
			if errors.Is(err, ErrImportRejected) && len(st.users) != 0 {
				t.Fatal("a rejected import wrote users")
			}
			return
		}
		if !continueOnError && len(rep.Rejected) != 0 {
			t.Fatalf("nil error with rejected rows: %+v", rep.Rejected)
		}
		if rep.Created != len(st.users) || rep.Updated != 0 {
			t.Fatalf("report %+v but %d users stored", rep, len(st.users))
		}
		for _, u := range st.users {
			n, err := NormalizeUsername(u.Username, testDomain)
			if err != nil || n != u.Username {
				t.Fatalf("imported username %q is not normalized (%q, %v)", u.Username, n, err)
			}
			if u.PasswordHash != "" && ValidatePasswordHash(u.PasswordHash) != nil {
				t.Fatalf("imported an invalid hash %q", u.PasswordHash)
			}
		}
	})
}

func TestCheckPasswordPolicy(t *testing.T) {
	s := NewService(newFakeStore(), Options{Domain: testDomain, Argon2: testParams, MinPasswordLength: 8})
	jane := &User{Username: "jdoe@district.example", DisplayName: "Jane Q. Doe-Martínez"}
	tests := []struct {
		name string
		u    *User
		pw   string
		want string // substring of the message; "" when accepted
	}{
		{"fine", jane, "correct horse battery", ""},
		{"no user", nil, "correct horse battery", ""},
		{"empty fields", &User{}, "correct horse battery", ""},
		{"common", jane, "password", "too common"},
		{"common, other case", nil, "PassWord", "too common"},
		{"username", jane, "my-JDOE-pass", "username"},
		{"first name", jane, "xJANEx-battery", "your name"},
		{"name after a hyphen, non-ASCII", jane, "battery MARTÍNEZ", "your name"},
		{"short name parts are allowed", &User{DisplayName: "Al Li"}, "al-li-battery", ""},
		{"whole short name", &User{DisplayName: "Al Li"}, "xxal lixx", "your name"},
		{"too short", jane, "short", "at least 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CheckPasswordPolicy(tt.u, tt.pw)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !isPolicy(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a PolicyError mentioning %q", err, tt.want)
			}
		})
	}
}

// TestGuessablePasswordsRefused: at a 12-character minimum the list still
// matters, because case, look-alikes, repetition and digits or symbols
// added at either end are undone first; patterns and the person's name
// and username are refused too.
func TestGuessablePasswordsRefused(t *testing.T) {
	s := NewService(newFakeStore(), Options{Domain: testDomain, Argon2: testParams, MinPasswordLength: 12})
	jane := &User{Username: "jdoe@district.example", DisplayName: "Jane Q. Doe-Martínez"}
	for _, tt := range []struct{ pw, want string }{
		{"passwordpassword", "easy to guess"},
		{"Password1234", "too common"},
		{"P@ssw0rd2024!", "too common"},
		{"!!Sunshine2024", "too common"},
		{"Butterfly#2024", "too common"},
		{"michelle12345", "too common"},
		{"qwertyuiop12", "easy to guess"},
		{"aaaaaaaaaaaa", "easy to guess"},
		{"abcdefghijkl", "easy to guess"},
		{"123456789012", "easy to guess"},
		{"asdfghjkl;'zx", "easy to guess"},
		{"zyxwvutsrqpo", "easy to guess"},
		{"JDoe-is-here-99", "username"},
		{"j4n3-and-the-cat", "your name"},
	} {
		err := s.CheckPasswordPolicy(jane, tt.pw)
		if !isPolicy(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want a PolicyError mentioning %q", tt.pw, err, tt.want)
		}
	}
	for _, pw := range []string{"correct horse battery", "reset correct horse", "a brand new secret", "Kx9$Tq2!mZ7#", "tulip-canoe-4791"} {
		if err := s.CheckPasswordPolicy(jane, pw); err != nil {
			t.Errorf("%q refused: %v", pw, err)
		}
	}
}

// TestDistrictNameRefused: the district's name, its words and its domain
// are the first guesses at anyone's password there.
func TestDistrictNameRefused(t *testing.T) {
	s := NewService(newFakeStore(), Options{Domain: "lincolnusd.example", District: "Lincoln Unified School District", Argon2: testParams, MinPasswordLength: 12})
	for _, pw := range []string{"go lincoln go!!", "L1nc0lnRocks77", "lincolnusd-2024", "UnifiedSchoolDistrict"} {
		if err := s.CheckPasswordPolicy(nil, pw); !isPolicy(err) || !strings.Contains(err.Error(), "district's name") {
			t.Errorf("%q: err = %v, want a PolicyError about the district's name", pw, err)
		}
	}
	if err := s.CheckPasswordPolicy(nil, "correct horse battery"); err != nil {
		t.Errorf("refused: %v", err)
	}
}

func TestPasswordRuleSaysEveryRule(t *testing.T) {
	rule := PasswordRule(12)
	for _, want := range []string{"12 characters", "common password", "look-alikes", "digits and symbols", "repeated", "sequence", "keyboard", "your name", "your username", "district's name"} {
		if !strings.Contains(rule, want) {
			t.Errorf("the rule %q does not mention %q", rule, want)
		}
	}
}

func TestWeakWordsList(t *testing.T) {
	words := weakWords()
	if len(words) != 130134 {
		t.Fatalf("%d entries, want 130134", len(words))
	}
	for w := range words {
		if len(w) < 3 || w != strings.ToLower(strings.TrimSpace(w)) {
			t.Fatalf("entry %q: want trimmed, lower case, 3 or more characters", w)
		}
	}
}

func TestCreateRefusesDisplayNameInPassword(t *testing.T) {
	_, err := newTestService(newFakeStore()).Create(context.Background(), NewUser{
		Username: "jdoe", DisplayName: "Jane Doe", Password: "jane's long password",
	})
	if !isPolicy(err) || !strings.Contains(err.Error(), "name") {
		t.Fatalf("err = %v, want a PolicyError about the name", err)
	}
}

func TestChangePassword(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	const pw = "correct horse battery"
	u, err := s.Create(ctx, NewUser{Username: "jdoe", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassword(ctx, u.ID, "wrong password!", "another good password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong current: %v, want ErrInvalidCredentials", err)
	}
	if err := s.ChangePassword(ctx, u.ID, pw, "short"); !isPolicy(err) {
		t.Fatalf("short new password: %v", err)
	}
	if err := s.ChangePassword(ctx, u.ID, pw, "another good password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "jdoe", "another good password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if len(st.history) != 0 {
		t.Fatalf("history recorded with PasswordHistory 0: %v", st.history)
	}

	nopass, _ := s.Create(ctx, NewUser{Username: "nopass"})
	if err := s.ChangePassword(ctx, nopass.ID, "", "another good password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("no password set: %v, want ErrInvalidCredentials", err)
	}
	if err := s.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassword(ctx, u.ID, "another good password", "a third good password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("disabled: %v, want ErrInvalidCredentials", err)
	}
	if err := s.ChangePassword(ctx, "no-such-id", pw, "another good password"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestPasswordHistory(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := NewService(st, Options{Domain: testDomain, Argon2: testParams, MinPasswordLength: 12, PasswordHistory: 3})
	pws := []string{"first good password", "second good password", "third good password", "fourth good password"}
	u, err := s.Create(ctx, NewUser{Username: "jdoe", Password: pws[0]})
	if err != nil {
		t.Fatal(err)
	}
	recent := func(pw string) bool {
		t.Helper()
		err := s.SetPassword(ctx, u.ID, pw, false)
		if err != nil && (!isPolicy(err) || !strings.Contains(err.Error(), "used this password recently")) {
			t.Fatalf("SetPassword(%q): %v", pw, err)
		}
		return err != nil
	}

	// The password set at creation counts, though it was never recorded.
	if !recent(pws[0]) {
		t.Fatal("the current password was accepted again")
	}
	if recent(pws[1]) {
		t.Fatal("a new password was refused")
	}
	if err := s.ChangePassword(ctx, u.ID, pws[1], pws[0]); !isPolicy(err) {
		t.Fatalf("ChangePassword back to the first: %v, want refused", err)
	}
	if recent(pws[2]) || recent(pws[3]) {
		t.Fatal("a new password was refused")
	}
	// Three are kept: the fourth, third and second; the first may return.
	if got := len(st.history[u.ID]); got != 3 {
		t.Fatalf("%d hashes kept, want 3", got)
	}
	if !recent(pws[1]) || recent(pws[0]) {
		t.Fatal("history window is wrong")
	}
	if _, err := s.Authenticate(ctx, "jdoe", pws[0]); err != nil {
		t.Fatal(err)
	}
}

func TestPreviewWritesNothing(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	s := newTestService(st)
	if _, err := s.Create(ctx, NewUser{Username: "jdoe", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	csv := "username,display_name,password\njdoe,John Doe,another long secret\nnewkid,New Kid,yet another secret\nbad user,,\n"
	plan, err := s.PlanImport(ctx, strings.NewReader(csv), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep := plan.Report
	var got []string
	for _, r := range rep.Rows {
		got = append(got, fmt.Sprintf("%d %s %s %s", r.Line, r.Username, r.Outcome, r.Message))
	}
	want := []string{
		"2 jdoe@district.example update ",
		"3 newkid@district.example create ",
		"4 bad user reject " + ErrInvalidUsername.Error(),
	}
	if !slices.Equal(got, want) || rep.Created != 1 || rep.Updated != 1 {
		t.Fatalf("Preview = %q", got)
	}
	if n, _ := st.CountUsers(ctx); n != 1 {
		t.Fatalf("a preview wrote users: %d", n)
	}
}

// importCSV plans and writes an import, as the admin service does.
func importCSV(ctx context.Context, s *Service, r io.Reader, opt ImportOptions) (*ImportReport, error) {
	plan, err := s.PlanImport(ctx, r, opt)
	if err != nil {
		return nil, err
	}
	return plan.Report, s.WriteImport(ctx, plan, nil)
}

// TestImportReportsEveryProblem: a rejected row names all its problems, so
// one pass over the file fixes it.
func TestImportReportsEveryProblem(t *testing.T) {
	plan, err := newTestService(newFakeStore()).PlanImport(context.Background(),
		strings.NewReader("username,email,groups,roles,password\njdoe,not-an-address,bad group!,king,short\n"), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg := plan.Report.Rows[0].Message
	for _, want := range []string{"not an email address", "bad group!", `unknown role "king"`, "at least 12"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the rejection %q does not say %q", msg, want)
		}
	}
}

// TestGeneratedPasswordsPassThePolicy: a temporary password is drawn until
// the policy accepts it for the whole person, name included, so a Help Desk
// reset never fails on its own password.
func TestGeneratedPasswordsPassThePolicy(t *testing.T) {
	s := newTestService(newFakeStore())
	// So many four-letter name words that a draw checked against the
	// username alone would often contain one.
	const letters = "abcdefghjkmnpqrstuvwxyz"
	words := make([]string, 4000)
	for i := range words {
		w := []byte{letters[i%23], letters[i/23%23], letters[i/529%23], letters[(i*7)%23]}
		words[i] = string(w)
	}
	u := &User{Username: "kim@" + testDomain, DisplayName: strings.Join(words, " ")}
	for range 100 {
		if pw := s.GeneratePassword(u); s.CheckPasswordPolicy(u, pw) != nil {
			t.Fatalf("generated %q, which the policy refuses: %v", pw, s.CheckPasswordPolicy(u, pw))
		}
	}
}
