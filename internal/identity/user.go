// Package identity owns the people who sign in: their records, their
// passwords and the rules for usernames.
package identity

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
)

// Roles a user may hold.
const (
	RoleAdmin    = "admin"
	RoleHelpdesk = "helpdesk"
)

// User is a person known to Gatehouse. ID is the OIDC subject: random and
// stable, never derived from the username, so renames do not change `sub`.
type User struct {
	ID                 string
	Username           string // the district UPN, lower case: name@district.example
	Email              string
	EmailVerified      bool
	DisplayName        string
	PasswordHash       string // PHC string (argon2id), empty when no password is set
	Roles              []string
	Groups             []string // populations policies are chosen by, e.g. staff, students-k2
	Disabled           bool
	MustChangePassword bool
	// SessionsValidAfter ends every browser session, console session and
	// access token the person got before it (nil: none ended).
	SessionsValidAfter *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// SessionValid reports whether a session or token begun at start may still
// be used: the account is enabled and nothing ended its sessions since.
func (u *User) SessionValid(start time.Time) bool {
	return !u.Disabled && (u.SessionsValidAfter == nil || !start.Before(*u.SessionsValidAfter))
}

// HasRole reports whether the user holds role.
func (u *User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// HelpdeskScopePrefix starts a Help Desk role limited to one group:
// "helpdesk:school-a" serves only people in group school-a (a school's
// office staff and its students).
const HelpdeskScopePrefix = RoleHelpdesk + ":"

// Privileged reports whether the user administers others in any way; such
// accounts always need two strong proofs to reset a password.
func (u *User) Privileged() bool {
	for _, r := range u.Roles {
		if r == RoleAdmin || r == RoleHelpdesk || strings.HasPrefix(r, HelpdeskScopePrefix) {
			return true
		}
	}
	return false
}

// ValidRole reports whether role is one Gatehouse knows.
func ValidRole(role string) bool {
	if role == RoleAdmin || role == RoleHelpdesk {
		return true
	}
	group, ok := strings.CutPrefix(role, HelpdeskScopePrefix)
	if !ok {
		return false
	}
	g, err := NormalizeGroups([]string{group})
	return err == nil && len(g) == 1 && g[0] == group
}

// ListQuery narrows a user listing.
type ListQuery struct {
	Search string // matched against username, email and display name
	Limit  int
	Offset int
}

// Store is what identity needs from persistent storage.
type Store interface {
	CreateUser(ctx context.Context, u *User) error // store.ErrAlreadyExists on a taken username
	GetUser(ctx context.Context, id string) (*User, error)
	GetUserByUsername(ctx context.Context, username string) (*User, error)
	ListUsers(ctx context.Context, q ListQuery) ([]User, error)
	UpdateUser(ctx context.Context, u *User) error
	// EndSessions sets the user's SessionsValidAfter to at.
	EndSessions(ctx context.Context, id string, at time.Time) error
	DeleteUser(ctx context.Context, id string) error
	CountUsers(ctx context.Context) (int64, error)
	// UpsertUsers writes every user (matched by username) and the audit
	// events of the import in one transaction: either all land or none do.
	// An existing user gets email, display name, roles and groups when not
	// nil, and password hash and must-change flag when a hash is given.
	UpsertUsers(ctx context.Context, users []User, events []audit.Event) (created, updated int, err error)
	// PasswordHistory returns up to n of the user's recorded password
	// hashes, newest first.
	PasswordHistory(ctx context.Context, userID string, n int) ([]string, error)
	// AddPasswordHistory records hash as the newest and keeps only the
	// newest keep entries.
	AddPasswordHistory(ctx context.Context, userID, hash string, keep int) error
}
