package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// Users: admins and the Help Desk. The service decides what each may do to
// whom (the Help Desk never touches an administrator); the pages only hide
// what would be refused.

const usersPerPage = 50

var userNotices = map[string]string{
	"reset-methods":   "Their security methods were removed. They'll set them up again at their next sign-in.",
	"revoke-sessions": "They were signed out everywhere: browsers and apps.",
	"unlock":          "Their sign-in lockout was cleared.",
	"disable":         "The account was disabled and signed out everywhere.",
	"enable":          "The account was enabled.",
	"roles":           "Their roles were updated.",
	"groups":          "Their groups were updated. Their sign-in policy below follows from them.",
}

type usersPage struct {
	Query      string
	Users      []admin.UserView
	Prev, Next string // links to the neighbouring pages, when there are any
}

func (c *Console) listUsers(q *request) {
	query := strings.TrimSpace(q.r.URL.Query().Get("q"))
	offset, _ := strconv.Atoi(q.r.URL.Query().Get("offset"))
	offset = max(offset, 0)
	users, err := c.svc.SearchUsers(q.r.Context(), q.actor, identity.ListQuery{Search: query, Limit: usersPerPage, Offset: offset})
	if err != nil {
		c.serviceError(q, "user", err)
		return
	}
	p := usersPage{Query: query, Users: users}
	link := func(off int) string {
		return Prefix + "/users?" + url.Values{"q": {query}, "offset": {strconv.Itoa(off)}}.Encode()
	}
	if offset > 0 {
		p.Prev = link(max(offset-usersPerPage, 0))
	}
	if len(users) == usersPerPage {
		p.Next = link(offset + usersPerPage)
	}
	c.render(q.w, http.StatusOK, "users", c.view(q, "Users", p))
}

type userForm struct {
	Username, DisplayName, Email string
	Roles                        []string
}

func (c *Console) newUser(q *request) {
	c.render(q.w, http.StatusOK, "user_form", c.view(q, "Create a user", userForm{}))
}

// createUser adds a person with a temporary password they must change at
// their first sign-in, shown once to whoever created them.
func (c *Console) createUser(q *request) {
	v := q.r.PostForm
	f := userForm{Username: strings.TrimSpace(v.Get("username")), DisplayName: v.Get("display_name"), Email: v.Get("email"), Roles: v["roles"]}
	temp := c.svc.Users.GeneratePassword(&identity.User{Username: f.Username, DisplayName: f.DisplayName})
	u, err := c.svc.CreateUser(q.r.Context(), q.actor, identity.NewUser{Username: f.Username, DisplayName: f.DisplayName,
		Email: f.Email, Roles: f.Roles, Password: temp, MustChangePassword: true})
	var pe *identity.PolicyError
	switch {
	case errors.As(err, &pe):
		page := c.view(q, "Create a user", f)
		page.Error = "The user can't be created: " + pe.Msg + "."
		c.render(q.w, http.StatusUnprocessableEntity, "user_form", page)
	case err != nil:
		c.serviceError(q, "user", err)
	default:
		c.showOnce(q, oneTimeResult{Title: "User created", Password: &passwordPage{User: *u, Password: temp, Created: true}})
	}
}

type passwordPage struct {
	User       admin.UserView
	Password   string
	Created    bool // a new account rather than a reset
	AccessCode bool // a temporary access code rather than a password
}

type userPage struct {
	User    admin.UserView
	Methods []admin.MethodView
	// RecoveryCodes is how many unused recovery codes they have.
	RecoveryCodes int
	SignIns       []audit.Event
	Policy        string // the name of the policy they sign in under
	// RequiredMethods is how many methods that policy asks them to register.
	RequiredMethods int
	LockedUntil     time.Time // zero when their sign-in is not locked
	// CanAct is false for the Help Desk looking at an administrator or
	// another Help Desk account: the service would refuse every action.
	CanAct bool
	// CanAssign: roles and groups are set by administrators only.
	CanAssign bool
	// HelpdeskFor is the groups their group-limited Help Desk roles serve.
	HelpdeskFor []string
}

func (c *Console) showUser(q *request) {
	ctx := q.r.Context()
	u, err := c.svc.GetUser(ctx, q.actor, q.r.PathValue("id"))
	if err != nil {
		c.serviceError(q, "user", err)
		return
	}
	p := userPage{User: admin.ViewUser(u), CanAct: q.isAdmin() || !u.Privileged(), CanAssign: q.isAdmin()}
	for _, r := range u.Roles {
		if g, ok := strings.CutPrefix(r, identity.HelpdeskScopePrefix); ok {
			p.HelpdeskFor = append(p.HelpdeskFor, g)
		}
	}
	if p.Methods, err = c.svc.UserMethods(ctx, q.actor, u.ID); err == nil {
		p.RecoveryCodes, err = c.svc.RecoveryCodesLeft(ctx, q.actor, u.ID)
	}
	if err == nil {
		p.SignIns, err = c.svc.RecentSignIns(ctx, q.actor, u.ID, 10)
	}
	if err == nil {
		var pol policy.Policy
		pol, p.Policy, err = c.svc.EffectivePolicy(ctx, q.actor, u.ID)
		p.RequiredMethods = pol.RequiredMethods
	}
	if err == nil {
		p.LockedUntil, err = c.svc.LockedUntil(ctx, q.actor, u.ID)
	}
	if err != nil {
		c.serviceError(q, "user", err)
		return
	}
	v := c.view(q, u.DisplayName, p)
	if v.Title == "" {
		v.Title = u.Username
	}
	v.Notice = userNotices[q.r.URL.Query().Get("done")]
	c.render(q.w, http.StatusOK, "user", v)
}

// userAction carries out one button on the user page.
func (c *Console) userAction(q *request) {
	ctx, id, action := q.r.Context(), q.r.PathValue("id"), q.r.PathValue("action")
	var err error
	switch action {
	case "reset-password", "access-code":
		c.resetPassword(q, id, action == "access-code")
		return
	case "reset-methods":
		err = c.svc.ResetMethods(ctx, q.actor, id)
	case "revoke-sessions":
		err = c.svc.RevokeSessions(ctx, q.actor, id)
	case "unlock":
		err = c.svc.Unlock(ctx, q.actor, id)
	case "disable", "enable":
		err = c.svc.SetUserDisabled(ctx, q.actor, id, action == "disable")
	case "roles":
		var roles []string
		if roles, err = rolesFromForm(q.r.PostForm); err == nil {
			_, err = c.svc.SetRoles(ctx, q.actor, id, roles)
		}
	case "groups":
		_, err = c.svc.SetGroups(ctx, q.actor, id, splitList(q.r.PostFormValue("groups")))
	default:
		c.failFor(q, http.StatusNotFound, "Page not found", "There is nothing at this address.", nil)
		return
	}
	var pe *identity.PolicyError
	switch {
	case errors.As(err, &pe):
		c.failFor(q, http.StatusUnprocessableEntity, "Not changed", pe.Msg+".", nil)
	case err != nil:
		c.serviceError(q, "user", err)
	default:
		http.Redirect(q.w, q.r, Prefix+"/users/"+url.PathEscape(id)+"?done="+action, http.StatusSeeOther)
	}
}

// rolesFromForm reads the roles form: the ticked roles, and a Help Desk
// role for each group typed under "Help Desk for groups", so a scoped role
// is kept, added or removed like any other.
func rolesFromForm(v url.Values) ([]string, error) {
	groups, err := identity.NormalizeGroups(splitList(v.Get("helpdesk_groups")))
	if err != nil {
		return nil, err
	}
	roles := v["roles"]
	for _, g := range groups {
		roles = append(roles, identity.HelpdeskScopePrefix+g)
	}
	return roles, nil
}

// resetPassword shows the temporary password, or a temporary access code,
// once, to whoever issued it.
func (c *Console) resetPassword(q *request, id string, accessCode bool) {
	ctx := q.r.Context()
	issue, title := c.svc.ResetPassword, "Password reset"
	if accessCode {
		issue, title = c.svc.IssueAccessCode, "Temporary access code"
	}
	temp, err := issue(ctx, q.actor, id)
	var u *identity.User
	if err == nil {
		u, err = c.svc.GetUser(ctx, q.actor, id)
	}
	if err != nil {
		c.serviceError(q, "user", err)
		return
	}
	c.showOnce(q, oneTimeResult{Title: title, Password: &passwordPage{User: admin.ViewUser(u), Password: temp, AccessCode: accessCode}})
}
