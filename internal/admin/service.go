// Package admin is the one service layer behind the admin API, the console
// and the CLI: every operation checks the actor's role and is audited with
// its before and after, so the three cannot drift apart.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Actor is who asks: a person (console), a client (API token) or the CLI.
type Actor struct {
	ID    string // user ID, "client:<id>", or "cli"
	Roles []string
	// Scopes are an API client's admin scopes (clients.Scope*): a client
	// holds no role, only the rights its token was granted.
	Scopes []string
	IP     string
}

// CLI is the operator at the server's console, with every right.
var CLI = Actor{ID: "cli", Roles: []string{identity.RoleAdmin}}

func (a Actor) is(role string) bool { return slices.Contains(a.Roles, role) }

// may reports whether the actor is an administrator or holds one of scopes.
func (a Actor) may(scopes ...string) bool {
	return a.is(identity.RoleAdmin) || slices.ContainsFunc(scopes, func(s string) bool { return slices.Contains(a.Scopes, s) })
}

// ErrForbidden is returned when the actor's role does not allow the action.
var ErrForbidden = errors.New("you don't have permission to do that")

// What each role may do: admins everything; the Help Desk people, never
// clients or policy.
func (a Actor) canManageUsers() bool {
	return a.is(identity.RoleHelpdesk) || len(a.scope()) > 0 ||
		a.may(assurance.ScopeUsersRead, assurance.ScopeUsersWrite, assurance.ScopeUsersImport)
}

// scope is the groups a group-limited Help Desk actor serves; nil means
// no limit (an administrator, or the Help Desk for everyone).
func (a Actor) scope() []string {
	if a.is(identity.RoleAdmin) || a.is(identity.RoleHelpdesk) {
		return nil
	}
	var groups []string
	for _, r := range a.Roles {
		if g, ok := strings.CutPrefix(r, identity.HelpdeskScopePrefix); ok {
			groups = append(groups, g)
		}
	}
	return groups
}

// serves reports whether the actor may act on u: a group-limited Help Desk
// only on people in one of its groups.
func (a Actor) serves(u *identity.User) bool {
	scope := a.scope()
	return scope == nil || slices.ContainsFunc(u.Groups, func(g string) bool { return slices.Contains(scope, g) })
}
func (a Actor) canManageClients() bool { return a.may(assurance.ScopeClients) }

// errScopesNotHeld refuses a client manager an application with admin
// scopes it does not hold itself: registering one, or taking one over by
// its settings or secret, would give it those scopes.
var errScopesNotHeld = &ForbiddenError{Msg: "Only a holder of every admin scope an application has may register or change it."}

// holdsAll reports whether the actor holds every admin scope in scopes.
func (a Actor) holdsAll(scopes []string) bool {
	return !slices.ContainsFunc(scopes, func(s string) bool { return assurance.IsAdminScope(s) && !a.may(s) })
}

// canAssignRoles also guards every change to a person who holds a role:
// whoever could reset an administrator's password could become one.
func (a Actor) canAssignRoles() bool { return a.may(assurance.ScopeUsersRoles) }
func (a Actor) canSetGroups() bool   { return a.may(assurance.ScopeUsersGroups) }
func (a Actor) canReadAudit() bool   { return a.may(assurance.ScopeAuditRead) }

// Dependencies that live outside the database.
type (
	// Methods resets a person's registered security methods.
	Methods interface {
		// ResetMethods removes the methods and recovery codes and writes
		// audited in the same transaction.
		ResetMethods(ctx context.Context, userID string, at time.Time, audited audit.Event) error
	}
	// Grants revokes the refresh tokens apps hold for a person.
	Grants interface {
		RevokeSubject(ctx context.Context, subject string) error
	}
	// Sessions ends a person's browser sessions.
	Sessions interface {
		RevokeAll(ctx context.Context, userID, keep string) error
	}
	// AccessCodes issues the Help Desk's temporary access codes.
	AccessCodes interface {
		IssueAccessCode(ctx context.Context, userID string) (string, error)
	}
	// Locks reads and clears sign-in lockouts.
	Locks interface {
		LockedAnywhere(ctx context.Context, key string) (time.Time, error)
		Unlock(ctx context.Context, key string) error
	}
	// Notifier tells a person about something done to their account.
	Notifier func(ctx context.Context, u *identity.User, text string)
	// MethodLister reads a person's registered security methods.
	MethodLister interface {
		ListMethods(ctx context.Context, userID string) ([]mfa.Method, error)
		RecoveryCodes(ctx context.Context, userID string) (mfa.RecoveryStatus, error)
	}
)

// Service carries out admin operations.
type Service struct {
	Users    *identity.Service
	Clients  *clients.Service
	Methods  Methods
	Grants   Grants
	Sessions Sessions    // nil where Redis is out of reach (the CLI on the embedded store)
	Locks    Locks       // likewise
	Access   AccessCodes // likewise
	Audit    *audit.Recorder
	Notify   Notifier // may be nil
	// Registered lists methods for the console; nil outside the server.
	Registered    MethodLister
	Policies      policy.Store
	Resolver      Effective // nil where policies are not loaded
	Registrations Registrations
}

func (s *Service) record(ctx context.Context, a Actor, typ, subject, clientID string, before, after any) {
	s.Audit.Record(ctx, s.event(a, typ, subject, clientID, before, after))
}

// event describes an admin action, for a store to record in the same
// transaction as the change.
func (s *Service) event(a Actor, typ, subject, clientID string, before, after any) audit.Event {
	details := map[string]string{}
	if before != nil {
		details["before"] = jsonText(before)
	}
	if after != nil {
		details["after"] = jsonText(after)
	}
	return audit.Event{Type: typ, Outcome: "success", ActorID: a.ID, SubjectID: subject, ClientID: clientID, IP: a.IP, Details: details}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// ClientView is a client as shown to admins: never its secret hash.
type ClientView struct {
	ID                      string   `json:"client_id"`
	Name                    string   `json:"name"`
	Description             string   `json:"description,omitempty"`
	Public                  bool     `json:"public"`
	RedirectURIs            []string `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	Scopes                  []string `json:"scopes"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	JWKSURI                 string   `json:"jwks_uri,omitempty"`
	RequireConsent          bool     `json:"require_consent"`
	RequiredACR             string   `json:"required_acr,omitempty"`
	IDTokenSigningAlg       string   `json:"id_token_signed_response_alg,omitempty"`
	MayIntrospect           bool     `json:"may_introspect"`
	// PreviousSecretExpiresAt is when the secret a rotation replaced stops
	// working; absent when none does.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	Disabled                bool       `json:"disabled"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// ViewClient hides what admins must not see.
func ViewClient(c *clients.Client) ClientView {
	var previousUntil *time.Time
	if c.PreviousSecretValid(time.Now()) {
		previousUntil = &c.PreviousSecretExpiresAt
	}
	return ClientView{PreviousSecretExpiresAt: previousUntil, ID: c.ID, Name: c.Name, Description: c.Description, Public: c.Public, RedirectURIs: c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, GrantTypes: c.GrantTypes, Scopes: c.Scopes,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, JWKSURI: c.JWKSURI, RequireConsent: c.RequireConsent,
		RequiredACR: c.RequiredACR, IDTokenSigningAlg: c.IDTokenSigningAlg, MayIntrospect: c.MayIntrospect, Disabled: c.Disabled, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// ListClients lists the registered applications.
func (s *Service) ListClients(ctx context.Context, a Actor) ([]ClientView, error) {
	if !a.canManageClients() {
		return nil, ErrForbidden
	}
	all, err := s.Clients.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ClientView, len(all))
	for i := range all {
		out[i] = ViewClient(&all[i])
	}
	return out, nil
}

// GetClient returns one application.
func (s *Service) GetClient(ctx context.Context, a Actor, id string) (*ClientView, error) {
	if !a.canManageClients() {
		return nil, ErrForbidden
	}
	c, err := s.Clients.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	v := ViewClient(c)
	return &v, nil
}

// CreateClient registers an application; the secret is returned only here.
func (s *Service) CreateClient(ctx context.Context, a Actor, r clients.Registration) (*ClientView, string, error) {
	if !a.canManageClients() {
		return nil, "", ErrForbidden
	}
	if !a.holdsAll(r.Scopes) {
		return nil, "", errScopesNotHeld
	}
	if err := s.nameFree(ctx, "", r); err != nil {
		return nil, "", err
	}
	c, secret, err := s.Clients.Create(ctx, r)
	if err != nil {
		return nil, "", err
	}
	v := ViewClient(c)
	s.record(ctx, a, "client.created", "", c.ID, nil, v)
	return &v, secret, nil
}

// manageableClient loads an application the actor may act on.
func (s *Service) manageableClient(ctx context.Context, a Actor, id string) (*clients.Client, error) {
	if !a.canManageClients() {
		return nil, ErrForbidden
	}
	c, err := s.Clients.Get(ctx, id)
	if err == nil && !a.holdsAll(c.Scopes) {
		return nil, errScopesNotHeld
	}
	return c, err
}

// nameFree refuses a name another application (not id) already has, in any
// case: people pick apps by name on the console, the sign-in pages and in
// the audit log, and two alike could not be told apart.
func (s *Service) nameFree(ctx context.Context, id string, r clients.Registration) error {
	all, err := s.Clients.List(ctx)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(r.Name)
	for _, c := range all {
		if c.ID != id && strings.EqualFold(strings.TrimSpace(c.Name), name) {
			// Listed with the registration's other problems, so one
			// attempt shows everything to fix.
			problems := []string{fmt.Sprintf("name: an application called “%s” is already registered (client ID %s); choose another name", c.Name, c.ID)}
			var ve *clients.ValidationError
			if errors.As(clients.Validate(r), &ve) {
				problems = append(problems, ve.Problems...)
			}
			return &clients.ValidationError{Problems: problems}
		}
	}
	return nil
}

// UpdateClient changes an application's settings.
func (s *Service) UpdateClient(ctx context.Context, a Actor, id string, edit func(*clients.Registration)) (*ClientView, string, error) {
	old, err := s.manageableClient(ctx, a, id)
	if err != nil {
		return nil, "", err
	}
	before := ViewClient(old)
	reg := old.Registration()
	edit(&reg)
	if !a.holdsAll(reg.Scopes) {
		return nil, "", errScopesNotHeld
	}
	if err := s.nameFree(ctx, id, reg); err != nil {
		return nil, "", err
	}
	c, secret, err := s.Clients.Update(ctx, id, reg)
	if err != nil {
		return nil, "", err
	}
	after := ViewClient(c)
	s.record(ctx, a, "client.updated", "", id, before, after)
	return &after, secret, nil
}

// RotateClientSecret replaces a secret; the old one keeps working for the
// configured overlap (clients.secret_rotation_overlap).
func (s *Service) RotateClientSecret(ctx context.Context, a Actor, id string) (string, error) {
	if _, err := s.manageableClient(ctx, a, id); err != nil {
		return "", err
	}
	secret, err := s.Clients.RotateSecret(ctx, id)
	if err == nil {
		s.record(ctx, a, "client.secret_rotated", "", id, nil, map[string]string{"previous_secret_works_for": s.Clients.SecretOverlap.String()})
	}
	return secret, err
}

// SetClientDisabled turns an application off or on.
func (s *Service) SetClientDisabled(ctx context.Context, a Actor, id string, disabled bool) error {
	if _, err := s.manageableClient(ctx, a, id); err != nil {
		return err
	}
	if err := s.Clients.SetDisabled(ctx, id, disabled); err != nil {
		return err
	}
	s.record(ctx, a, map[bool]string{true: "client.disabled", false: "client.enabled"}[disabled], "", id, nil, nil)
	return nil
}

// DeleteClient removes an application.
func (s *Service) DeleteClient(ctx context.Context, a Actor, id string) error {
	old, err := s.manageableClient(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.Clients.Delete(ctx, id); err != nil {
		return err
	}
	s.record(ctx, a, "client.deleted", "", id, ViewClient(old), nil)
	return nil
}

// UserView is a person as shown to admins: never a password hash.
type UserView struct {
	ID                 string    `json:"id"`
	Username           string    `json:"username"`
	Email              string    `json:"email,omitempty"`
	DisplayName        string    `json:"display_name"`
	Roles              []string  `json:"roles"`
	Groups             []string  `json:"groups"`
	Disabled           bool      `json:"disabled"`
	MustChangePassword bool      `json:"must_change_password"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// ViewUser hides what admins must not see.
func ViewUser(u *identity.User) UserView {
	return UserView{ID: u.ID, Username: u.Username, Email: u.Email, DisplayName: u.DisplayName,
		Roles: orEmpty(u.Roles), Groups: orEmpty(u.Groups),
		Disabled: u.Disabled, MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// orEmpty keeps JSON lists as [] rather than null.
func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// SearchUsers finds people by name, username or email.
func (s *Service) SearchUsers(ctx context.Context, a Actor, q identity.ListQuery) ([]UserView, error) {
	if !a.canManageUsers() {
		return nil, ErrForbidden
	}
	users, err := s.Users.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]UserView, 0, len(users))
	for i := range users {
		// A group-limited Help Desk sees only its groups (a page may then
		// hold fewer than the limit).
		if a.serves(&users[i]) {
			out = append(out, ViewUser(&users[i]))
		}
	}
	return out, nil
}

// GetUser returns a person by ID or username.
func (s *Service) GetUser(ctx context.Context, a Actor, ref string) (*identity.User, error) {
	if !a.canManageUsers() {
		return nil, ErrForbidden
	}
	u, err := s.Users.Find(ctx, ref)
	if err == nil && !a.serves(u) {
		return nil, &ForbiddenError{Msg: "This person is not in a group you serve."}
	}
	return u, err
}

// target is GetUser for an action on the person: only an administrator may
// act on someone who administers others (an administrator or Help Desk),
// so the Help Desk can never take over or lock out a more privileged account.
func (s *Service) target(ctx context.Context, a Actor, ref string) (*identity.User, error) {
	u, err := s.GetUser(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	if u.Privileged() && !a.canAssignRoles() {
		return nil, &ForbiddenError{Msg: "Only an administrator can act on an administrator's or Help Desk account."}
	}
	return u, nil
}

// CreateUser adds a person. Only admins may give roles.
func (s *Service) CreateUser(ctx context.Context, a Actor, nu identity.NewUser) (*UserView, error) {
	// Groups choose policies; a group-limited Help Desk could not see whom it created.
	if !a.canManageUsers() || a.scope() != nil || (len(nu.Roles) > 0 && !a.canAssignRoles()) || (len(nu.Groups) > 0 && !a.canSetGroups()) {
		return nil, ErrForbidden
	}
	u, err := s.Users.Create(ctx, nu)
	if err != nil {
		return nil, err
	}
	v := ViewUser(u)
	s.record(ctx, a, "user.created", u.ID, "", nil, v)
	return &v, nil
}

// SetUserDisabled blocks or restores sign-in; blocking also ends every
// session and app grant.
func (s *Service) SetUserDisabled(ctx context.Context, a Actor, ref string, disabled bool) error {
	u, err := s.target(ctx, a, ref)
	if err != nil {
		return err
	}
	if err := s.Users.SetDisabled(ctx, u.ID, disabled); err != nil {
		return err
	}
	if disabled {
		if err := s.endEverything(ctx, u.ID); err != nil {
			return err
		}
	}
	s.record(ctx, a, map[bool]string{true: "user.disabled", false: "user.enabled"}[disabled], u.ID, "", nil, nil)
	return nil
}

// DeleteUser removes a person and every grant they held.
func (s *Service) DeleteUser(ctx context.Context, a Actor, ref string) error {
	u, err := s.target(ctx, a, ref)
	if err != nil {
		return err
	}
	if err := s.endEverything(ctx, u.ID); err != nil {
		return err
	}
	if err := s.Users.Delete(ctx, u.ID); err != nil {
		return err
	}
	s.record(ctx, a, "user.deleted", u.ID, "", ViewUser(u), nil)
	return nil
}

// SetRoles replaces a person's roles (admins only).
func (s *Service) SetRoles(ctx context.Context, a Actor, ref string, roles []string) (*UserView, error) {
	if !a.canAssignRoles() {
		return nil, ErrForbidden
	}
	u, err := s.Users.Find(ctx, ref)
	if err != nil {
		return nil, err
	}
	before := ViewUser(u)
	if err := s.Users.SetRoles(ctx, u.ID, roles); err != nil {
		return nil, err
	}
	u, err = s.Users.Get(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	after := ViewUser(u)
	s.record(ctx, a, "user.roles_changed", u.ID, "", before, after)
	s.tell(ctx, u, "The roles on your account were changed. If you didn't expect this, contact the Help Desk.")
	return &after, nil
}

// ResetPassword gives a person a temporary password, which they must
// change at their next sign-in; every session and grant ends.
func (s *Service) ResetPassword(ctx context.Context, a Actor, ref string) (string, error) {
	u, err := s.target(ctx, a, ref)
	if err != nil {
		return "", err
	}
	temp := s.Users.GeneratePassword(u)
	if err := s.Users.SetPassword(ctx, u.ID, temp, true); err != nil {
		return "", err
	}
	if err := s.endEverything(ctx, u.ID); err != nil {
		return "", err
	}
	if s.Locks != nil {
		if err := s.Locks.Unlock(ctx, u.Username); err != nil {
			return "", err
		}
	}
	s.record(ctx, a, "user.password_reset", u.ID, "", nil, nil)
	s.tell(ctx, u, "The Help Desk reset your password. If you didn't ask for this, contact the Help Desk.")
	return temp, nil
}

// SetPassword gives a person a password the operator chose; every session
// and grant ends. The password itself never reaches the audit log.
func (s *Service) SetPassword(ctx context.Context, a Actor, ref, password string, mustChange bool) error {
	u, err := s.target(ctx, a, ref)
	if err != nil {
		return err
	}
	if err := s.Users.SetPassword(ctx, u.ID, password, mustChange); err != nil {
		return err
	}
	if err := s.endEverything(ctx, u.ID); err != nil {
		return err
	}
	s.record(ctx, a, "user.password_set", u.ID, "", nil, map[string]bool{"must_change_password": mustChange})
	s.tell(ctx, u, "Your password was changed by the Help Desk. If you didn't ask for this, contact the Help Desk.")
	return nil
}

// ResetMethods removes a person's security methods and voids their
// recovery codes (a lost phone, a lost sheet of codes): they register
// again at their next sign-in, and earlier grants stop working.
func (s *Service) ResetMethods(ctx context.Context, a Actor, ref string) error {
	u, err := s.target(ctx, a, ref)
	if err != nil {
		return err
	}
	s.tell(ctx, u, "The Help Desk removed the security methods on your account; you'll set them up again at your next sign-in. If you didn't ask for this, contact the Help Desk.")
	audited := s.event(a, "mfa.methods_reset", u.ID, "", nil, nil)
	audited.Details["recovery_codes"] = "voided"
	if err := s.Methods.ResetMethods(ctx, u.ID, time.Now().UTC(), audited); err != nil {
		return err
	}
	return s.endEverything(ctx, u.ID)
}

// RevokeSessions signs a person out everywhere: browsers and apps.
func (s *Service) RevokeSessions(ctx context.Context, a Actor, ref string) error {
	u, err := s.target(ctx, a, ref)
	if err != nil {
		return err
	}
	if err := s.endEverything(ctx, u.ID); err != nil {
		return err
	}
	s.record(ctx, a, "user.sessions_revoked", u.ID, "", nil, nil)
	s.tell(ctx, u, "The Help Desk signed you out everywhere. If you didn't ask for this, contact the Help Desk.")
	return nil
}

// Unlock clears a sign-in lockout.
func (s *Service) Unlock(ctx context.Context, a Actor, ref string) error {
	u, err := s.target(ctx, a, ref)
	if err != nil {
		return err
	}
	if s.Locks == nil {
		return errors.New("unlocking needs the shared Redis; use the admin API or console")
	}
	if err := s.Locks.Unlock(ctx, u.Username); err != nil {
		return err
	}
	s.record(ctx, a, "user.unlocked", u.ID, "", nil, nil)
	return nil
}

// LockedUntil returns when the latest sign-in lock of any device or address
// of the person ends: zero when none runs, or where lockouts are out of
// reach (the CLI on the embedded store).
func (s *Service) LockedUntil(ctx context.Context, a Actor, ref string) (time.Time, error) {
	u, err := s.GetUser(ctx, a, ref)
	if err != nil || s.Locks == nil {
		return time.Time{}, err
	}
	return s.Locks.LockedAnywhere(ctx, u.Username)
}

func (s *Service) endEverything(ctx context.Context, userID string) error {
	// The stamp in the database ends browser and console sessions and
	// access tokens on every replica, even from the CLI; the Redis clean-up
	// below only frees their keys early.
	if err := s.Users.EndSessions(ctx, userID); err != nil {
		return err
	}
	if err := s.Grants.RevokeSubject(ctx, userID); err != nil {
		return err
	}
	if s.Sessions != nil {
		return s.Sessions.RevokeAll(ctx, userID, "")
	}
	return nil
}

func (s *Service) tell(ctx context.Context, u *identity.User, text string) {
	if s.Notify != nil {
		s.Notify(ctx, u, text)
	}
}

// ImportOptions choose how ImportUsers runs.
type ImportOptions struct {
	DryRun bool // report every row's outcome and write nothing
	identity.ImportOptions
}

func (a Actor) canImport() bool {
	return a.is(identity.RoleHelpdesk) || a.may(assurance.ScopeUsersImport)
}

// ImportUsers previews or runs a CSV import. The actor's rights are checked
// on the importer's own reading of the file, row by row, so what is checked
// is what is written: a row may set roles or groups only for an actor who
// may set them, and change someone who holds a role only for one who may
// assign roles. A row that changes someone is audited with its changes, in
// the transaction that writes it. Resetting passwords ends the person's
// sessions and tells them.
func (s *Service) ImportUsers(ctx context.Context, a Actor, r io.Reader, opt ImportOptions) (*identity.ImportReport, error) {
	if !a.canImport() {
		return nil, ErrForbidden
	}
	plan, err := s.Users.PlanImport(ctx, r, opt.ImportOptions)
	if err != nil {
		return nil, err
	}
	if problems := a.importProblems(plan.Report); len(problems) > 0 {
		return plan.Report, &ForbiddenError{Msg: strings.Join(problems, " ")}
	}
	if opt.DryRun {
		return plan.Report, nil
	}
	var events []audit.Event
	var reset []string
	for _, row := range plan.Report.Rows {
		if row.Outcome != identity.OutcomeCreate && row.Outcome != identity.OutcomeUpdate {
			continue
		}
		events = append(events, s.Audit.Stamp(audit.Event{Type: "user.imported", ActorID: a.ID, SubjectID: row.UserID, IP: a.IP,
			Details: map[string]string{"outcome": row.Outcome, "changes": jsonText(row.Changes)}}))
		if row.Outcome == identity.OutcomeUpdate && row.Sets("password") {
			reset = append(reset, row.UserID)
		}
	}
	if err := s.Users.WriteImport(ctx, plan, events); err != nil {
		return plan.Report, err
	}
	for _, id := range reset {
		if err := s.endEverything(ctx, id); err != nil {
			return plan.Report, err
		}
		u, err := s.Users.Get(ctx, id)
		if err != nil {
			return plan.Report, err
		}
		s.tell(ctx, u, "Your password was reset by an import; you'll choose a new one at your next sign-in. If you didn't expect this, contact the Help Desk.")
	}
	return plan.Report, nil
}

// ForbiddenError is ErrForbidden with the reason, in words for the person.
type ForbiddenError struct{ Msg string }

func (e *ForbiddenError) Error() string        { return e.Msg }
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }

// importProblems explains, row by row, what in an import the actor may not
// do (none when they may do all of it).
func (a Actor) importProblems(report *identity.ImportReport) []string {
	var problems []string
	for _, row := range report.Rows {
		if row.Outcome != identity.OutcomeCreate && row.Outcome != identity.OutcomeUpdate {
			continue
		}
		switch {
		case row.Privileged && !a.canAssignRoles():
			problems = append(problems, fmt.Sprintf("Line %d would change %s, who is an administrator or on the Help Desk; only administrators can import changes to their accounts.", row.Line, row.Username))
		case row.Sets("roles") && !a.canAssignRoles():
			problems = append(problems, fmt.Sprintf("Line %d sets roles for %s; only administrators can give roles.", row.Line, row.Username))
		case row.Sets("groups") && !a.canSetGroups():
			problems = append(problems, fmt.Sprintf("Line %d sets groups for %s; only administrators can set groups.", row.Line, row.Username))
		}
	}
	return problems
}

// AuditEvents lists audit events, newest first.
func (s *Service) AuditEvents(ctx context.Context, a Actor, f audit.Filter) ([]audit.Event, error) {
	if !a.canReadAudit() {
		return nil, ErrForbidden
	}
	return s.Audit.List(ctx, f)
}

// ConsoleActor is a person signed in to the console, with the roles they
// hold now: it is re-read on every request, so a removed role or a disabled
// account takes effect at once. ErrForbidden when they may not use it.
func (s *Service) ConsoleActor(ctx context.Context, userID, ip string) (Actor, *identity.User, error) {
	u, err := s.Users.Get(ctx, userID)
	if err != nil {
		return Actor{}, nil, err
	}
	a := Actor{ID: u.ID, Roles: u.Roles, IP: ip}
	if u.Disabled || !a.canManageUsers() {
		return Actor{}, nil, ErrForbidden
	}
	return a, u, nil
}

// MethodView is a registered method as the Help Desk sees it: masked, and
// never its secret.
type MethodView struct {
	Kind      mfa.Kind   `json:"kind"`
	Factor    mfa.Factor `json:"factor,omitempty"`
	Detail    string     `json:"detail,omitempty"` // "+1 704 XXX XX12", "jd***@home.example"
	IsDefault bool       `json:"is_default"`
	CreatedAt time.Time  `json:"created_at"`
}

// UserMethods lists a person's registered methods, oldest first.
func (s *Service) UserMethods(ctx context.Context, a Actor, ref string) ([]MethodView, error) {
	u, err := s.GetUser(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	if s.Registered == nil {
		return nil, errors.New("listing methods needs the server; use the admin console")
	}
	methods, err := s.Registered.ListMethods(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]MethodView, len(methods))
	for i, m := range methods {
		out[i] = MethodView{Kind: m.Kind, Factor: m.Factor, IsDefault: m.IsDefault, CreatedAt: m.CreatedAt}
		switch {
		case m.Kind.IsPhone():
			out[i].Detail = mfa.MaskPhone(m.Phone)
		case m.Kind == mfa.Email:
			out[i].Detail = mfa.MaskEmail(m.Email)
		}
	}
	return out, nil
}

// RecoveryCodesLeft is how many unused recovery codes a person has: the
// count only, as the codes are kept as hashes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, a Actor, ref string) (int, error) {
	u, err := s.GetUser(ctx, a, ref)
	if err != nil {
		return 0, err
	}
	if s.Registered == nil {
		return 0, errors.New("counting recovery codes needs the server; use the admin console")
	}
	st, err := s.Registered.RecoveryCodes(ctx, u.ID)
	return st.Left, err
}

// signInTypes are the audit events a sign-in leaves.
var signInTypes = []string{"signin.success", "signin.failure", "signin.locked"}

// RecentSignIns returns a person's last n sign-in events, newest first. The
// Help Desk needs them to help someone who can't sign in, though the rest
// of the audit log is for admins.
func (s *Service) RecentSignIns(ctx context.Context, a Actor, ref string, n int) ([]audit.Event, error) {
	u, err := s.GetUser(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	var out []audit.Event
	for _, typ := range signInTypes {
		events, err := s.Audit.List(ctx, audit.Filter{SubjectID: u.ID, Type: typ, Limit: n})
		if err != nil {
			return nil, err
		}
		out = append(out, events...)
	}
	slices.SortFunc(out, func(x, y audit.Event) int { return y.Time.Compare(x.Time) })
	return out[:min(n, len(out))], nil
}

// IssueAccessCode gives someone who lost every method a one-time code to
// sign in with once and register again; it is read out to them, so it is
// returned here and never stored in clear.
func (s *Service) IssueAccessCode(ctx context.Context, a Actor, ref string) (string, error) {
	u, err := s.target(ctx, a, ref)
	if err != nil {
		return "", err
	}
	if s.Access == nil {
		return "", errors.New("temporary access codes need the shared Redis; use the admin API or console")
	}
	code, err := s.Access.IssueAccessCode(ctx, u.ID)
	if err != nil {
		return "", err
	}
	s.record(ctx, a, "mfa.access_code_issued", u.ID, "", nil, nil)
	s.tell(ctx, u, "The Help Desk issued a temporary access code for your account. If you didn't ask for one, contact the Help Desk.")
	return code, nil
}
