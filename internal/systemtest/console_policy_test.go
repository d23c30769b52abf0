package systemtest

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/policy"
)

var (
	inputTag   = regexp.MustCompile(`<input ([^>]*)>`)
	attribute  = regexp.MustCompile(`([\w-]+)(?:="([^"]*)")?`)
	selectTag  = regexp.MustCompile(`(?s)<select [^>]*name="([^"]+)"[^>]*>(.*?)</select>`)
	selected   = regexp.MustCompile(`<option value="([^"]*)" selected>`)
	policyLink = regexp.MustCompile(`id="effective-policy">(?:<a [^>]*>)?([^<]+)`)
)

// formFields reads the values the form posting to action would send as it
// stands: inputs, ticked boxes and chosen options (not the CSRF token,
// which post adds).
func formFields(t *testing.T, p pageResp, action string) url.Values {
	t.Helper()
	start := strings.Index(p.Body, `<form method="post" action="`+action+`"`)
	if start < 0 {
		t.Fatalf("no form for %s on %s (status %d):\n%s", action, p.URL, p.Status, p.Body)
	}
	form := p.Body[start:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, tag := range inputTag.FindAllStringSubmatch(form, -1) {
		attrs := map[string]string{}
		for _, a := range attribute.FindAllStringSubmatch(tag[1], -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		_, checked := attrs["checked"]
		if attrs["name"] == "" || attrs["name"] == "csrf_token" || (attrs["type"] == "checkbox" || attrs["type"] == "radio") && !checked {
			continue
		}
		v.Add(attrs["name"], attrs["value"])
	}
	for _, s := range selectTag.FindAllStringSubmatch(form, -1) {
		if o := selected.FindStringSubmatch(s[2]); o != nil {
			v.Add(s[1], html.UnescapeString(o[1]))
		}
	}
	return v
}

func storedPolicy(t *testing.T, r *consoleRig, name string) *policy.Record {
	t.Helper()
	list, err := r.gh.App.Admin.ListPolicies(t.Context(), admin.CLI)
	if err != nil {
		t.Fatal(err)
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// TestConsolePolicies: an administrator edits the default policy through
// the console's form, which keeps every setting it doesn't change; refused
// input comes back with the problem and every typed value, and saves
// nothing; a group policy is created, a person put in its group, and their
// page names it; a group policy is deleted after a confirmation, the
// default never; forged forms change nothing.
func TestConsolePolicies(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	principal := r.person("principal", identity.RoleAdmin)
	kid := r.person("kid")

	b, p := r.signIn("principal")
	mustSee(t, p, "Policies", "Registration report")
	p = b.get(r.gh.Issuer + "/admin/policies")
	mustSee(t, p, "default", "Everyone else", "the configuration file", "New group policy")

	// Saving the form with one change changes only that.
	before := storedPolicy(t, r, policy.DefaultName)
	edit := b.get(r.gh.Issuer + "/admin/policies/default/edit")
	mustSee(t, edit, "Default policy", "Allowed methods", "Registration order", "Skips allowed", "Remember a device for",
		"Blocked email domains", "Self-service password reset", "within a few seconds")
	fields := formFields(t, edit, "/admin/policies/default/edit")
	fields.Set("grace_skips", "2")
	p = post(b, edit, "/admin/policies/default/edit", fields)
	mustSee(t, p, fmt.Sprintf("Saved as version %d", before.Version+1), "Every Gatehouse server applies it within a few seconds")
	after := storedPolicy(t, r, policy.DefaultName)
	want := before.Policy
	want.Grace.Skips = 2
	if got := fmt.Sprintf("%+v", after.Policy); got != fmt.Sprintf("%+v", want) || after.UpdatedBy != principal.ID {
		t.Fatalf("saved default policy:\n got %s\nwant %+v\nby %s", got, want, after.UpdatedBy)
	}
	events, err := r.gh.App.Audit.List(ctx, audit.Filter{Type: "policy.saved"})
	if err != nil || len(events) != 1 || events[0].ActorID != principal.ID {
		t.Fatalf("policy.saved: %+v %v", events, err)
	}

	// Refused: the service's problem, or a number that isn't one, with
	// every typed value kept and nothing saved.
	fields = formFields(t, p, "/admin/policies/default/edit")
	fields.Set("required_methods", "9")
	fields.Set("grace_days", "14")
	p = post(b, p, "/admin/policies/default/edit", fields)
	if p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("required methods 9: %d", p.Status)
	}
	mustSee(t, p, "nothing was changed", "Methods to register: between 0 and 3")
	if kept := formFields(t, p, "/admin/policies/default/edit"); kept.Get("required_methods") != "9" || kept.Get("grace_days") != "14" || kept.Get("grace_skips") != "2" {
		t.Fatalf("the refused form lost values: %v", kept)
	}
	fields.Set("required_methods", "1")
	fields.Set("grace_days", "two weeks")
	p = post(b, p, "/admin/policies/default/edit", fields)
	mustSee(t, p, "Days allowed: enter a whole number")
	if !strings.Contains(p.Body, `value="two weeks"`) {
		t.Fatal("the refused form lost the typed text")
	}
	if now := storedPolicy(t, r, policy.DefaultName); now.Version != after.Version {
		t.Fatalf("a refused form saved version %d", now.Version)
	}

	// A group policy starts from the default and needs a group.
	form := b.get(r.gh.Issuer + "/admin/policies/new")
	mustSee(t, form, "New group policy", "Groups", "Priority")
	fields = formFields(t, form, "/admin/policies/new")
	if fields.Get("grace_skips") != "2" || fields.Get("name") != "" {
		t.Fatalf("the new policy's form: %v", fields)
	}
	fields.Set("name", "k2")
	fields.Del("require_mfa")
	fields.Set("required_methods", "0")
	p = post(b, form, "/admin/policies/new", fields)
	mustSee(t, p, "Groups: a policy other than the default needs at least one group")
	fields.Set("groups", "Students-K2, students-pk")
	p = post(b, p, "/admin/policies/new", fields)
	mustSee(t, p, "Policy k2", "Saved as version")
	k2 := storedPolicy(t, r, "k2")
	if k2 == nil || !slices.Equal(k2.Groups, []string{"students-k2", "students-pk"}) || k2.Policy.RequireMFA || k2.Policy.RequiredMethods != 0 {
		t.Fatalf("k2: %+v", k2)
	}
	if p := post(b, form, "/admin/policies/new", fields); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a second policy named k2: %d", p.Status)
	} else {
		mustSee(t, p, "a policy called “k2” already exists")
	}

	// Saved elsewhere since the form was opened: shown, not overwritten,
	// until saved again.
	stale := b.get(r.gh.Issuer + "/admin/policies/k2/edit")
	elsewhere := *k2
	elsewhere.Priority = 20
	if _, err := r.gh.App.Admin.SavePolicy(ctx, admin.CLI, elsewhere); err != nil {
		t.Fatal(err)
	}
	fields = formFields(t, stale, "/admin/policies/k2/edit")
	fields.Set("grace_days", "30")
	p = post(b, stale, "/admin/policies/k2/edit", fields)
	mustSee(t, p, "Someone else saved this policy since you opened it", "by the server CLI")
	if now := storedPolicy(t, r, "k2"); now.Priority != 20 || now.Policy.Grace.Days != 0 {
		t.Fatalf("a stale form overwrote k2: %+v", now)
	}
	p = post(b, p, "/admin/policies/k2/edit", formFields(t, p, "/admin/policies/k2/edit"))
	mustSee(t, p, "Saved as version")
	if now := storedPolicy(t, r, "k2"); now.Priority != 10 || now.Policy.Grace.Days != 30 {
		t.Fatalf("saving again: %+v", now)
	}

	// Their groups choose the policy the person's page names.
	page := b.get(r.gh.Issuer + "/admin/users/" + kid.ID)
	mustSee(t, page, "Groups", "Sign-in policy", "Save groups")
	p = post(b, page, "/admin/users/"+kid.ID+"/groups", url.Values{"groups": {"students-k2"}})
	mustSee(t, p, "Their groups were updated", "students-k2")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m := policyLink.FindStringSubmatch(b.get(r.gh.Issuer + "/admin/users/" + kid.ID).Body)
		if m != nil && m[1] == "k2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the user page names the policy %v", m)
		}
	}
	if p := post(b, page, "/admin/users/"+kid.ID+"/groups", url.Values{"groups": {"room 4!"}}); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad group name: %d", p.Status)
	}
	if u, _ := r.gh.App.Users.Get(ctx, kid.ID); !slices.Equal(u.Groups, []string{"students-k2"}) {
		t.Fatalf("groups: %v", u.Groups)
	}
	report := b.get(r.gh.Issuer + "/admin/registration")
	mustSee(t, report, "Registration report", "Within grace", "students-k2", "k2", "No group")

	// Forged policy forms change nothing.
	other, _ := r.signIn("principal")
	foreign := csrfField.FindStringSubmatch(other.get(r.gh.Issuer + "/admin/").Body)[1]
	fields = formFields(t, edit, "/admin/policies/default/edit")
	fields.Set("grace_skips", "7")
	for _, token := range []string{"", "forged", foreign} {
		fields.Set("csrf_token", token)
		if p := b.postForm(r.gh.Issuer+"/admin/policies/default/edit", fields); p.Status != http.StatusForbidden {
			t.Fatalf("policy form with token %q: %d", token, p.Status)
		}
		if p := b.postForm(r.gh.Issuer+"/admin/policies/k2/delete", fields); p.Status != http.StatusForbidden {
			t.Fatalf("policy delete with token %q: %d", token, p.Status)
		}
	}
	if now := storedPolicy(t, r, policy.DefaultName); now.Version != after.Version || storedPolicy(t, r, "k2") == nil {
		t.Fatal("a forged form changed a policy")
	}

	// Deleting asks first; the default can't be deleted.
	if p := b.get(r.gh.Issuer + "/admin/policies/default/delete"); p.Status != http.StatusConflict {
		t.Fatalf("delete the default: %d", p.Status)
	}
	if p := b.postForm(r.gh.Issuer+"/admin/policies/default/delete", url.Values{"csrf_token": {html.UnescapeString(csrfField.FindStringSubmatch(edit.Body)[1])}}); p.Status != http.StatusConflict {
		t.Fatalf("delete the default: %d", p.Status)
	}
	p = b.get(r.gh.Issuer + "/admin/policies/k2/edit")
	mustSee(t, p, "Delete this policy")
	p = b.get(r.gh.Issuer + "/admin/policies/k2/delete")
	mustSee(t, p, "Delete policy k2?", "can't be undone", "students-k2")
	p = post(b, p, "/admin/policies/k2/delete", nil)
	mustSee(t, p, "The policy was deleted")
	if storedPolicy(t, r, "k2") != nil || storedPolicy(t, r, policy.DefaultName) == nil {
		t.Fatal("after deleting k2")
	}
	if p := b.get(r.gh.Issuer + "/admin/policies/k2/edit"); p.Status != http.StatusNotFound {
		t.Fatalf("a deleted policy: %d", p.Status)
	}

	// Every version stays readable, with who saved it and what changed,
	// after the policy itself is gone.
	if p := b.get(r.gh.Issuer + "/admin/policies"); !strings.Contains(p.Body, `href="/admin/policies/default/history"`) {
		t.Fatal("the policy list does not link to the history")
	}
	p = b.get(r.gh.Issuer + "/admin/policies/default/history")
	mustSee(t, p, "History of default", "principal", "grace.skips: 0 → 2", "Created", "the configuration file")
	p = b.get(r.gh.Issuer + "/admin/policies/k2/history")
	mustSee(t, p, "History of k2", "Deleted", "grace.days: 0 → 30", "priority: 20 → 10", "the server CLI", "Created")
	if p := b.get(r.gh.Issuer + "/admin/policies/k9/history"); p.Status != http.StatusNotFound {
		t.Fatalf("the history of a policy never saved: %d", p.Status)
	}
}

// TestConsolePoliciesHelpdesk: the Help Desk sees the registration report
// and a person's policy, but can't open or post the policy pages or
// change groups.
func TestConsolePoliciesHelpdesk(t *testing.T) {
	r := newConsoleRig(t)
	ctx := t.Context()
	r.person("deskaid", identity.RoleHelpdesk)
	kid := r.person("kid")
	if _, err := r.gh.App.Admin.SetGroups(ctx, admin.CLI, kid.ID, []string{"students-k2"}); err != nil {
		t.Fatal(err)
	}

	b, p := r.signIn("deskaid")
	mustSee(t, p, "Registration report")
	if strings.Contains(p.Body, `href="/admin/policies"`) {
		t.Fatal("the Help Desk is offered policies")
	}
	for _, path := range []string{"/admin/policies", "/admin/policies/new", "/admin/policies/default/edit", "/admin/policies/default/delete"} {
		if p := b.get(r.gh.Issuer + path); p.Status != http.StatusForbidden {
			t.Fatalf("helpdesk %s: %d", path, p.Status)
		}
	}
	page := b.get(r.gh.Issuer + "/admin/users/" + kid.ID)
	mustSee(t, page, "Sign-in policy", "default", "students-k2")
	if strings.Contains(page.Body, "Save groups") {
		t.Fatal("the Help Desk is offered groups")
	}
	token := url.Values{"csrf_token": {html.UnescapeString(csrfField.FindStringSubmatch(page.Body)[1])}, "grace_skips": {"9"}, "groups": {"staff"}}
	for _, path := range []string{"/admin/policies/default/edit", "/admin/policies/new", "/admin/users/" + kid.ID + "/groups"} {
		if p := b.postForm(r.gh.Issuer+path, token); p.Status != http.StatusForbidden {
			t.Fatalf("helpdesk posting %s: %d", path, p.Status)
		}
	}
	if u, _ := r.gh.App.Users.Get(ctx, kid.ID); !slices.Equal(u.Groups, []string{"students-k2"}) {
		t.Fatalf("groups: %v", u.Groups)
	}
	p = b.get(r.gh.Issuer + "/admin/registration")
	if p.Status != http.StatusOK {
		t.Fatalf("helpdesk report: %d", p.Status)
	}
	mustSee(t, p, "Registration report", "students-k2", "Pending")
}
