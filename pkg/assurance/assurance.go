// Package assurance is what a district app or tool compares a Gatehouse
// token against: the assurance levels people sign in at (the ID token's
// `acr`) and their order, the RFC 8176 method references Gatehouse puts in
// `amr`, and the scopes of its admin API. It imports nothing of Gatehouse's.
package assurance

import "slices"

// Assurance levels, lowest first: the `acr` ladder Gatehouse publishes.
const (
	Password = "pwd" // the password alone
	MFA      = "mfa" // the password and a second factor
)

// Rank orders assurance levels; an unknown level ranks below all.
func Rank(acr string) int {
	switch acr {
	case Password:
		return 1
	case MFA:
		return 2
	}
	return 0
}

// AtLeast reports whether a sign-in at acr meets the level required.
func AtLeast(acr, required string) bool { return Rank(acr) >= Rank(required) }

// Method references (RFC 8176) Gatehouse puts in `amr`.
const (
	AMRPassword = "pwd"   // a password
	AMROTP      = "otp"   // a one-time code: an authenticator app or a Help Desk access code
	AMRSMS      = "sms"   // a code sent by text message
	AMRTel      = "tel"   // a code read out in a phone call
	AMREmail    = "email" // a code sent by email (RFC 8176 registers no value for it)
	AMRMFA      = "mfa"   // more than one factor was proved
)

// Admin API scopes, each one job, so an automation holds only what it
// needs (a SIS sync: users.import and users.read). Only client-credentials
// tokens carry them: no person's sign-in ever grants one.
const (
	ScopeUsersRead   = "gatehouse:users.read"   // find people, their policy, the registration report
	ScopeUsersWrite  = "gatehouse:users.write"  // create, disable, delete, reset passwords and methods, sessions, unlock, access codes
	ScopeUsersImport = "gatehouse:users.import" // CSV imports
	ScopeUsersGroups = "gatehouse:users.groups" // set groups, directly or by an import's groups column
	ScopeUsersRoles  = "gatehouse:users.roles"  // set roles, directly or by an import's roles column, and act on people who hold one
	ScopeClients     = "gatehouse:clients"      // register and manage applications
	ScopePolicies    = "gatehouse:policies"     // read and edit MFA and SSPR policies
	ScopeAuditRead   = "gatehouse:audit.read"   // read and export the audit log
)

// AdminScopes are every admin API scope.
var AdminScopes = []string{ScopeUsersRead, ScopeUsersWrite, ScopeUsersImport, ScopeUsersGroups, ScopeUsersRoles,
	ScopeClients, ScopePolicies, ScopeAuditRead}

// IsAdminScope reports whether scope is one of the admin API's.
func IsAdminScope(scope string) bool { return slices.Contains(AdminScopes, scope) }
