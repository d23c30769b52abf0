package systemtest

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// TestConsoleScopedHelpdeskRoles: saving the roles form as shown keeps a
// group-limited Help Desk role; the form adds and removes such roles, and
// refuses a group name that can't exist without changing anything.
func TestConsoleScopedHelpdeskRoles(t *testing.T) {
	r := newConsoleRig(t)
	r.person("boss", identity.RoleAdmin)
	office := r.person("office", identity.HelpdeskScopePrefix+"school-a")
	b, _ := r.signIn("boss")
	page := "/admin/users/" + office.ID
	action := page + "/roles"
	roles := func() []string {
		u, err := r.gh.App.Users.Get(t.Context(), office.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u.Roles
	}

	p := b.get(r.gh.Issuer + page)
	mustSee(t, p, "Help Desk for groups")
	post(b, p, action, formFields(t, p, action))
	if got := roles(); !slices.Equal(got, []string{"helpdesk:school-a"}) {
		t.Fatalf("saving the form unchanged left roles %q", got)
	}

	fields := formFields(t, p, action)
	fields.Set("helpdesk_groups", "school-a, School-B")
	mustSee(t, post(b, p, action, fields), "Their roles were updated", "helpdesk:school-b")
	if got := roles(); !slices.Equal(got, []string{"helpdesk:school-a", "helpdesk:school-b"}) {
		t.Fatalf("adding a group: %q", got)
	}

	fields.Set("helpdesk_groups", "school a!")
	if p := post(b, p, action, fields); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "may use only letters") {
		t.Fatalf("an invalid group: %d\n%s", p.Status, p.Body)
	}
	if got := roles(); len(got) != 2 {
		t.Fatalf("a refused form changed the roles: %q", got)
	}

	fields.Set("helpdesk_groups", "")
	post(b, p, action, fields)
	if got := roles(); len(got) != 0 {
		t.Fatalf("removing the groups left %q", got)
	}
}
