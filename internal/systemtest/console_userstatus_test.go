package systemtest

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/identity"
)

var lockedUntil = regexp.MustCompile(`id="status"><span class="tag off">Locked</span> until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC`)

// TestConsoleUserStatus: a person locked out by wrong passwords shows as
// locked, with the end of the lock, not "Active"; someone whose policy asks
// for no methods is not told they'll be asked for some.
func TestConsoleUserStatus(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	r.person("boss", identity.RoleAdmin)
	kid := r.person("kid")
	b, _ := r.signIn("boss")
	page := r.gh.Issuer + "/admin/users/" + kid.ID

	p := b.get(page)
	mustSee(t, p, "Active", "None registered. They'll be asked to set methods up at their next sign-in.")
	for range 10 {
		other := newBrowser(t, rpRedirect)
		other.signIn(other.get(r.gh.Issuer+"/admin/login"), "kid", "not the password")
	}
	p = b.get(page)
	if !lockedUntil.MatchString(p.Body) {
		t.Fatalf("a locked account doesn't show the lock's end:\n%s", p.Body)
	}
	if strings.Contains(p.Body, "Active") {
		t.Fatalf("a locked account shows as active:\n%s", p.Body)
	}
	mustSee(t, post(b, p, "/admin/users/"+kid.ID+"/unlock", nil), "Their sign-in lockout was cleared", "Active")

	k2 := *storedPolicy(t, r, "default")
	k2.Name, k2.Groups, k2.Priority, k2.Version = "k2", []string{"students-k2"}, 10, 0
	k2.Policy.RequiredMethods, k2.Policy.RequireMFA = 0, false
	if _, err := r.gh.App.Admin.SavePolicy(ctx, admin.CLI, k2); err != nil {
		t.Fatal(err)
	}
	if _, err := r.gh.App.Admin.SetGroups(ctx, admin.CLI, kid.ID, []string{"students-k2"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if p = b.get(page); strings.Contains(p.Body, `id="effective-policy"><a href="/admin/policies/k2/edit">`) || time.Now().After(deadline) {
			break
		}
	}
	mustSee(t, p, "None registered. Their sign-in policy requires none")
	if strings.Contains(p.Body, "asked to set methods up") {
		t.Fatalf("a policy asking for no methods still promises a prompt:\n%s", p.Body)
	}
}
