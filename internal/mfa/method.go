// Package mfa owns the security methods people register (authenticator
// app, phone, email) and the primitives that check them: TOTP, one-time
// codes, send and verify limits.
package mfa

import (
	"context"
	"time"

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
	case FactorApp, FactorAccessCode:
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
	// ResetMethods removes every method of a user and records when.
	ResetMethods(ctx context.Context, userID string, at time.Time) error
	GetState(ctx context.Context, userID string) (*State, error) // a zero State when none is stored
	SaveState(ctx context.Context, s *State) error
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
