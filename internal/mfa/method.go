// Package mfa owns the security methods people register (authenticator
// app, phone, email) and the primitives that check them: TOTP, one-time
// codes, send and verify limits.
package mfa

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Kind is a registered method.
type Kind string

// The method kinds a user can register for sign-in.
const (
	App   Kind = "app"
	Phone Kind = "phone"
	Email Kind = "email"
	// AltPhone is a second number, for sign-in only (never password reset).
	AltPhone Kind = "alt_phone"
)

// IsPhone reports whether the kind is proved by a text or a call.
func (k Kind) IsPhone() bool { return k == Phone || k == AltPhone }

// Factor is one way of proving a method: the policy allows factors, and a
// phone offers two (a text or a call).
type Factor string

// The factors, by the names the policy uses.
const (
	FactorApp   Factor = "app"
	FactorSMS   Factor = "sms"
	FactorVoice Factor = "voice"
	FactorEmail Factor = "email"
	// FactorAccessCode is the Help Desk's one-time temporary access code.
	FactorAccessCode Factor = "access_code"
	// FactorRecoveryCode is one of the person's own printed recovery codes.
	FactorRecoveryCode Factor = "recovery_code"
)

// Kind is the method kind a factor proves.
func (f Factor) Kind() Kind {
	switch f {
	case FactorApp:
		return App
	case FactorSMS, FactorVoice:
		return Phone
	case FactorEmail:
		return Email
	}
	return ""
}

// AMR is the RFC 8176 method reference a factor adds to a sign-in.
func (f Factor) AMR() string {
	switch f {
	// A recovery code is a one-time password in RFC 8176's sense; the
	// registry has no value of its own for it, and an unregistered one
	// would mean nothing to the applications reading amr.
	case FactorApp, FactorAccessCode, FactorRecoveryCode:
		return assurance.AMROTP
	case FactorSMS:
		return assurance.AMRSMS
	case FactorVoice:
		return assurance.AMRTel
	case FactorEmail:
		return assurance.AMREmail
	}
	return string(f)
}

// Method is one registered security method.
type Method struct {
	ID        string
	UserID    string
	Kind      Kind
	Secret    []byte // the sealed TOTP secret (app)
	Phone     string // E.164 (phone)
	Email     string // (email)
	Factor    Factor // how this method is proved by default: sms or voice for a phone
	IsDefault bool   // the user's default sign-in method
	CreatedAt time.Time
}

// State is what enrollment remembers about a user between sign-ins.
type State struct {
	UserID          string
	Skips           int        // times "Skip setup" was used
	FirstPromptedAt *time.Time // when registration was first asked for (grace runs from here)
	MethodsResetAt  *time.Time // when an admin removed every method; earlier grants and remembered devices stop working
}

// Store keeps methods and enrollment state.
type Store interface {
	CreateMethod(ctx context.Context, m *Method) error
	ListMethods(ctx context.Context, userID string) ([]Method, error) // oldest first
	// SetDefaultMethod makes one method the default and clears the others.
	SetDefaultMethod(ctx context.Context, userID, id string) error
	DeleteMethod(ctx context.Context, userID, id string) error
	// ResetMethods removes every method and recovery code of a user,
	// records when, and appends audited, all in one transaction.
	ResetMethods(ctx context.Context, userID string, at time.Time, audited audit.Event) error
	GetState(ctx context.Context, userID string) (*State, error) // a zero State when none is stored
	SaveState(ctx context.Context, s *State) error
	RecoveryStore
}

// RecoveryStore keeps recovery codes, by their hashes only.
type RecoveryStore interface {
	// ReplaceRecoveryCodes voids a user's codes, used or not, stores
	// hashes as the new set and appends audited, in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, at time.Time, audited audit.Event) error
	// UseRecoveryCode marks the unused code with hash as used, in one
	// conditional write: of two racing uses exactly one succeeds. In the
	// same transaction it appends audited with Details["left"] set to how
	// many unused codes are left, which it returns. A code already used is
	// store.ErrConflict; one not in the set, store.ErrNotFound.
	UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time, audited audit.Event) (left int, err error)
	// RecoveryCodes counts a user's unused codes and tells when one was
	// last used.
	RecoveryCodes(ctx context.Context, userID string) (RecoveryStatus, error)
}

// RecoveryStatus is what a person may know of their recovery codes: never
// the codes themselves.
type RecoveryStatus struct {
	Left     int        // unused codes
	LastUsed *time.Time // when a code of the current set was last used; nil if none was
	Made     *time.Time // when the current set was made; nil when there is none
}

// Limits bound what one sign-in can cost the district and how fast codes
// can be guessed. Each limit counts per hour-long window.
type Limits struct {
	SendsPerUser        int           `json:"sends_per_user"`
	SendsPerIP          int           `json:"sends_per_ip"`
	SendsPerDestination int           `json:"sends_per_destination"`
	SendsPerCountry     int           `json:"sends_per_country"`
	VerifiesPerUser     int           `json:"verifies_per_user"`
	VerifiesPerIP       int           `json:"verifies_per_ip"`
	ResendCooldown      time.Duration `json:"resend_cooldown_ns"`
}
