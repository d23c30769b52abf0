package admin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newService(t *testing.T) *admin.Service {
	db := testenv.SQL(t)
	users := identity.NewService(db, identity.Options{Domain: "district.example", MinPasswordLength: 12,
		Argon2: identity.Argon2Params{MemoryKiB: 19456, Iterations: 1, Parallelism: 1}})
	return &admin.Service{Users: users, Clients: clients.NewService(db), Methods: db, Grants: db,
		Audit: audit.NewRecorder(db, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

// TestRoles: neither the Help Desk nor a plain user may list or create
// clients, set or grant roles, read the audit log, or reset or disable an
// administrator; the Help Desk may reset a person's password and methods,
// audited with its ID, and a plain user may not search. Every Help Desk
// action on a privileged account is refused in
// TestHelpdeskNeverActsOnPrivileged.
func TestRoles(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	helpdesk := admin.Actor{ID: "hd", Roles: []string{identity.RoleHelpdesk}}
	plain := admin.Actor{ID: "someone"}
	for _, nu := range []identity.NewUser{{Username: "boss", Roles: []string{identity.RoleAdmin}}, {Username: "kid"}} {
		if _, err := s.CreateUser(ctx, admin.CLI, nu); err != nil {
			t.Fatal(err)
		}
	}
	forbidden := map[string]func(admin.Actor) error{
		"list clients": func(a admin.Actor) error { _, err := s.ListClients(ctx, a); return err },
		"create client": func(a admin.Actor) error {
			_, _, err := s.CreateClient(ctx, a, clients.Registration{Name: "X", GrantTypes: []string{"client_credentials"}})
			return err
		},
		"set roles": func(a admin.Actor) error {
			_, err := s.SetRoles(ctx, a, "kid", []string{identity.RoleAdmin})
			return err
		},
		"read audit":    func(a admin.Actor) error { _, err := s.AuditEvents(ctx, a, audit.Filter{}); return err },
		"reset admin":   func(a admin.Actor) error { _, err := s.ResetPassword(ctx, a, "boss"); return err },
		"disable admin": func(a admin.Actor) error { return s.SetUserDisabled(ctx, a, "boss", true) },
		"grant a role": func(a admin.Actor) error {
			_, err := s.CreateUser(ctx, a, identity.NewUser{Username: "x", Roles: []string{identity.RoleHelpdesk}})
			return err
		},
	}
	for name, do := range forbidden {
		if err := do(helpdesk); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("helpdesk %s: %v", name, err)
		}
		if err := do(plain); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("plain user %s: %v", name, err)
		}
	}
	// What the Help Desk is for.
	if _, err := s.ResetPassword(ctx, helpdesk, "kid"); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetMethods(ctx, helpdesk, "kid"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SearchUsers(ctx, plain, identity.ListQuery{}); !errors.Is(err, admin.ErrForbidden) {
		t.Fatalf("plain user search: %v", err)
	}
	// Both Help Desk actions are audited with the actor.
	events, err := s.AuditEvents(ctx, admin.CLI, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range events {
		if e.ActorID == "hd" {
			seen = append(seen, e.Type)
		}
	}
	slices.Sort(seen)
	if got := strings.Join(seen, ","); got != "mfa.methods_reset,user.password_reset" {
		t.Fatalf("audited %q", got)
	}
}

// TestHelpdeskImports: the Help Desk may import plain rows, but not roles
// or groups, and not changes to someone who holds a role.
func TestHelpdeskImports(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	helpdesk := admin.Actor{ID: "hd", Roles: []string{identity.RoleHelpdesk}}
	if _, err := s.CreateUser(ctx, admin.CLI, identity.NewUser{Username: "boss", Roles: []string{identity.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	reset := admin.ImportOptions{ImportOptions: identity.ImportOptions{ResetPasswords: true}}
	for name, c := range map[string]struct {
		file string
		opt  admin.ImportOptions
	}{
		"roles column":   {"username,roles\nkid,admin\n", admin.ImportOptions{}},
		"groups column":  {"username,groups\nkid,staff\n", admin.ImportOptions{}},
		"an admin's row": {"username,password\nboss,a brand new password\n", reset},
	} {
		if _, err := s.ImportUsers(ctx, helpdesk, strings.NewReader(c.file), c.opt); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if rep, err := s.ImportUsers(ctx, helpdesk, strings.NewReader("username,display_name\nkid,A Kid\n"), admin.ImportOptions{}); err != nil || rep.Created != 1 {
		t.Fatalf("plain import: %+v %v", rep, err)
	}
	// Without a roles column an import leaves roles alone.
	if _, err := s.ImportUsers(ctx, admin.CLI, strings.NewReader("username,display_name\nboss,The Boss\n"), admin.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, admin.CLI, "boss"); !u.HasRole(identity.RoleAdmin) || u.DisplayName != "The Boss" {
		t.Fatalf("boss after import: %+v", u)
	}
}

// TestHelpdeskImportGuardReadsLikeTheImporter: the rights are checked on
// the importer's own reading of the file. A header cell ` "roles"` broke a
// stricter reader, so the guard saw no roles column and let the file
// through, while the importer read roles and made the row an administrator.
func TestHelpdeskImportGuardReadsLikeTheImporter(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	helpdesk := admin.Actor{ID: "hd", Roles: []string{identity.RoleHelpdesk}}
	for _, file := range []string{
		"username, \"roles\"\nmallory, admin\n",
		"username, \"groups\"\nmallory, staff\n",
		"\ufeffusername, \"roles\"\nmallory,\"admin\"\n",
	} {
		for _, dryRun := range []bool{true, false} {
			if _, err := s.ImportUsers(ctx, helpdesk, strings.NewReader(file), admin.ImportOptions{DryRun: dryRun}); !errors.Is(err, admin.ErrForbidden) {
				t.Errorf("%q (dry run %v): %v", file, dryRun, err)
			}
		}
	}
	if u, err := s.Users.Find(ctx, "mallory"); err == nil {
		t.Fatalf("the Help Desk created %+v", u)
	}
}

// TestImportKeepsChosenPasswords: re-running a class list changes nothing,
// not even the passwords people chose since; --reset-passwords replaces
// them, ends the sessions, forces a change and tells the person.
func TestImportKeepsChosenPasswords(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	var told []string
	s.Notify = func(_ context.Context, u *identity.User, text string) { told = append(told, u.Username) }
	const file = "username,display_name,password\nkid,A Kid,first password 1234\n"
	if rep, err := s.ImportUsers(ctx, admin.CLI, strings.NewReader(file), admin.ImportOptions{}); err != nil || rep.Created != 1 {
		t.Fatalf("first import: %+v %v", rep, err)
	}
	kid, _ := s.Users.Find(ctx, "kid")
	if err := s.Users.ChangePassword(ctx, kid.ID, "first password 1234", "my own secret phrase"); err != nil {
		t.Fatal(err)
	}
	rep, err := s.ImportUsers(ctx, admin.CLI, strings.NewReader(file), admin.ImportOptions{})
	if err != nil || rep.Unchanged != 1 || rep.Updated != 0 || rep.Rows[0].Outcome != identity.OutcomeUnchanged {
		t.Fatalf("re-import: %+v %v", rep, err)
	}
	if _, err := s.Users.Authenticate(ctx, "kid", "my own secret phrase"); err != nil {
		t.Fatalf("the re-import undid the password the person chose: %v", err)
	}

	reset := admin.ImportOptions{ImportOptions: identity.ImportOptions{ResetPasswords: true}}
	rep, err = s.ImportUsers(ctx, admin.CLI, strings.NewReader(file), reset)
	if err != nil || rep.Updated != 1 || !rep.Rows[0].Sets("password") {
		t.Fatalf("import --reset-passwords: %+v %v", rep, err)
	}
	u, err := s.Users.Authenticate(ctx, "kid", "first password 1234")
	if err != nil || !u.MustChangePassword {
		t.Fatalf("after --reset-passwords: %+v %v", u, err)
	}
	if !slices.Equal(told, []string{"kid@district.example"}) {
		t.Errorf("told %v, want the person whose password was reset", told)
	}
}

// TestImportPreviewAndAudit: the preview names each field a row changes,
// and every person an import changes gets one audit event with the
// changes; unchanged rows get none.
func TestImportPreviewAndAudit(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	if _, err := s.ImportUsers(ctx, admin.CLI, strings.NewReader("username,display_name,email\nann,Ann,ann@home.example\nbo,Bo,\n"), admin.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	const edit = "username,display_name,email\nann,Ann Lee,ann@home.example\nbo,Bo,\ncy,Cy,\n"
	rep, err := s.ImportUsers(ctx, admin.CLI, strings.NewReader(edit), admin.ImportOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []identity.FieldChange{{Field: "display_name", Before: "Ann", After: "Ann Lee"}}
	if rep.Updated != 1 || rep.Unchanged != 1 || rep.Created != 1 || !slices.Equal(rep.Rows[0].Changes, want) || rep.Rows[1].Changes != nil {
		t.Fatalf("preview: %+v", rep)
	}
	if _, err := s.ImportUsers(ctx, admin.CLI, strings.NewReader(edit), admin.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	events, err := s.AuditEvents(ctx, admin.CLI, audit.Filter{Type: "user.imported"})
	if err != nil {
		t.Fatal(err)
	}
	subjects := map[string]string{}
	for _, e := range events {
		u, err := s.Users.Get(ctx, e.SubjectID)
		if err != nil {
			t.Fatalf("event %+v names no user: %v", e, err)
		}
		subjects[u.Username] += e.Details["outcome"] + " "
	}
	if len(events) != 4 || subjects["ann@district.example"] != "update create " || subjects["bo@district.example"] != "create " || subjects["cy@district.example"] != "create " {
		t.Fatalf("audit: %v", subjects)
	}
}

// TestGroupScopedHelpdesk: a school's office staff serve only that school.
func TestGroupScopedHelpdesk(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	office := admin.Actor{ID: "office", Roles: []string{identity.HelpdeskScopePrefix + "school-a"}}
	for _, nu := range []identity.NewUser{{Username: "anna", Groups: []string{"school-a"}}, {Username: "ben", Groups: []string{"school-b"}}} {
		if _, err := s.CreateUser(ctx, admin.CLI, nu); err != nil {
			t.Fatal(err)
		}
	}
	found, err := s.SearchUsers(ctx, office, identity.ListQuery{})
	if err != nil || len(found) != 1 || found[0].Username != "anna@district.example" {
		t.Fatalf("search: %+v %v", found, err)
	}
	if _, err := s.ResetPassword(ctx, office, "anna"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPassword(ctx, office, "ben"); !errors.Is(err, admin.ErrForbidden) {
		t.Fatalf("another school's student: %v", err)
	}
	if _, err := s.SetGroups(ctx, office, "ben", []string{"school-a"}); !errors.Is(err, admin.ErrForbidden) {
		t.Fatalf("moving a student into the office's group: %v", err)
	}
	if _, err := s.CreateUser(ctx, admin.CLI, identity.NewUser{Username: "x", Roles: []string{"helpdesk:Not Valid"}}); err == nil {
		t.Fatal("an invalid scoped role was accepted")
	}
}

// TestHelpdeskNeverActsOnPrivileged: no Help Desk actor, for everyone or
// for one group, may sign out, unlock, reset or disable an administrator or
// another Help Desk account; an administrator may.
func TestHelpdeskNeverActsOnPrivileged(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	for _, nu := range []identity.NewUser{
		{Username: "boss", Roles: []string{identity.RoleAdmin}, Groups: []string{"school-a"}},
		{Username: "colleague", Roles: []string{identity.RoleHelpdesk}, Groups: []string{"school-a"}},
		{Username: "office", Roles: []string{identity.HelpdeskScopePrefix + "school-a"}, Groups: []string{"school-a"}},
	} {
		if _, err := s.CreateUser(ctx, admin.CLI, nu); err != nil {
			t.Fatal(err)
		}
	}
	actions := map[string]func(admin.Actor, string) error{
		"sign out everywhere": func(a admin.Actor, ref string) error { return s.RevokeSessions(ctx, a, ref) },
		"unlock":              func(a admin.Actor, ref string) error { return s.Unlock(ctx, a, ref) },
		"reset password":      func(a admin.Actor, ref string) error { _, err := s.ResetPassword(ctx, a, ref); return err },
		"set password": func(a admin.Actor, ref string) error {
			return s.SetPassword(ctx, a, ref, "a brand new password", true)
		},
		"reset methods": func(a admin.Actor, ref string) error { return s.ResetMethods(ctx, a, ref) },
		"access code":   func(a admin.Actor, ref string) error { _, err := s.IssueAccessCode(ctx, a, ref); return err },
		"disable":       func(a admin.Actor, ref string) error { return s.SetUserDisabled(ctx, a, ref, true) },
		"delete":        func(a admin.Actor, ref string) error { return s.DeleteUser(ctx, a, ref) },
	}
	actors := []admin.Actor{
		{ID: "hd", Roles: []string{identity.RoleHelpdesk}},
		{ID: "scoped", Roles: []string{identity.HelpdeskScopePrefix + "school-a"}},
	}
	for name, do := range actions {
		for _, a := range actors {
			for _, victim := range []string{"boss", "colleague", "office"} {
				if err := do(a, victim); !errors.Is(err, admin.ErrForbidden) {
					t.Errorf("%s: %s on %s: %v", a.ID, name, victim, err)
				}
			}
		}
	}
	if err := s.RevokeSessions(ctx, admin.CLI, "colleague"); err != nil {
		t.Fatalf("an administrator signing out the Help Desk: %v", err)
	}
}

// TestClientNamesUnique: a second application can't take a name already
// registered, in any case, on creation or by an edit; an application keeps
// its own name through an edit.
func TestClientNamesUnique(t *testing.T) {
	s := newService(t)
	ctx := t.Context()
	reg := func(name string) clients.Registration {
		return clients.Registration{Name: name, GrantTypes: []string{"client_credentials"}}
	}
	first, _, err := s.CreateClient(ctx, admin.CLI, reg("Gradebook"))
	if err != nil {
		t.Fatal(err)
	}
	var ve *clients.ValidationError
	if _, _, err := s.CreateClient(ctx, admin.CLI, reg(" gradebook ")); !errors.As(err, &ve) || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("a second Gradebook: %v", err)
	}
	bad := reg("Gradebook")
	bad.GrantTypes = []string{"implicit"}
	if _, _, err := s.CreateClient(ctx, admin.CLI, bad); !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("a second Gradebook with another problem: %v", err)
	}
	other, _, err := s.CreateClient(ctx, admin.CLI, reg("LMS"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdateClient(ctx, admin.CLI, other.ID, func(r *clients.Registration) { r.Name = "GRADEBOOK" }); !errors.As(err, &ve) {
		t.Fatalf("renaming LMS to GRADEBOOK: %v", err)
	}
	if _, _, err := s.UpdateClient(ctx, admin.CLI, first.ID, func(r *clients.Registration) { r.Description = "Grades" }); err != nil {
		t.Fatalf("editing Gradebook: %v", err)
	}
	if list, _ := s.ListClients(ctx, admin.CLI); len(list) != 2 {
		t.Fatalf("%d applications", len(list))
	}
}
