// Package policy decides what each person must do to sign in: which
// methods they may and must register, how long they may put it off, and
// how codes are limited. Everything asks For(user), so policies can later
// differ by group without the sign-in flows changing.
package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
)

// Policy is the sign-in policy for one person.
type Policy struct {
	// RequireMFA makes every application require MFA ("All district users
	// will have this turned on"); an application can also require it alone.
	RequireMFA bool `json:"require_mfa"`
	// AllowedFactors are the ways a person may prove who they are.
	AllowedFactors []mfa.Factor `json:"allowed_methods"`
	// RequiredMethods is how many methods registration asks for, in
	// RegistrationOrder (further kinds come from what is allowed).
	RequiredMethods   int        `json:"required_methods"`
	RegistrationOrder []mfa.Kind `json:"registration_order"`
	// Grace lets people put registration off.
	Grace Grace `json:"grace"`
	// RememberDeviceDays > 0 offers "Don't ask again for N days".
	RememberDeviceDays int        `json:"remember_device_days"`
	Limits             mfa.Limits `json:"limits"`
	AllowedCountries   []string   `json:"allowed_countries"` // phone regions codes may be sent to
	// BlockedEmailDomains may not be registered as a personal email: the
	// district's own mailboxes are behind the sign-in they would protect.
	BlockedEmailDomains []string `json:"blocked_email_domains"`
	SSPR                SSPR     `json:"sspr"`
}

// SSPR is the self-service password reset policy.
type SSPR struct {
	Enabled bool `json:"enabled"`
	// MethodsRequired proofs, each a different method on a different
	// channel (1 or 2). Administrators and the Help Desk always need two.
	MethodsRequired int `json:"methods_required"`
	// QuestionsToRegister and QuestionsToAnswer (≤ to register) size the
	// security questions; they count only for password reset, never MFA.
	QuestionsToRegister int `json:"questions_to_register"`
	QuestionsToAnswer   int `json:"questions_to_answer"`
}

// Grace is how long registration may be skipped. Zero values mean "not at
// all": no skipping unless Skips or Days or Deadline allow it.
type Grace struct {
	Skips    int       `json:"skips"`    // how many times "Skip setup" may be used
	Days     int       `json:"days"`     // days from the first prompt
	Deadline time.Time `json:"deadline"` // a fixed date after which registration is required
}

// SkipAllowance tells whether a person may skip registration now, and the
// words for what is left.
type SkipAllowance struct {
	Allowed bool
	Left    string // e.g. "2 skips left, required from 9 March"
}

// CanSkip applies the grace to a person's enrollment state at now.
func (p Policy) CanSkip(st *mfa.State, now time.Time) SkipAllowance {
	g := p.Grace
	if g.Skips == 0 && g.Days == 0 && g.Deadline.IsZero() {
		return SkipAllowance{}
	}
	deadline := g.Deadline
	if g.Days > 0 {
		start := now
		if st.FirstPromptedAt != nil {
			start = *st.FirstPromptedAt
		}
		if d := start.AddDate(0, 0, g.Days); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if !deadline.IsZero() && !now.Before(deadline) {
		return SkipAllowance{}
	}
	var parts []string
	if g.Skips > 0 {
		left := g.Skips - st.Skips
		if left <= 0 {
			return SkipAllowance{}
		}
		parts = append(parts, fmt.Sprintf("%d skip%s left", left, map[bool]string{true: "", false: "s"}[left == 1]))
	}
	if !deadline.IsZero() {
		parts = append(parts, "required from "+deadline.Format("2 January"))
	}
	return SkipAllowance{Allowed: true, Left: strings.Join(parts, ", ")}
}

// AllowedKinds are the method kinds that may be registered, in the
// registration order first.
func (p Policy) AllowedKinds() []mfa.Kind {
	var kinds []mfa.Kind
	add := func(k mfa.Kind) {
		if k != "" && !slices.Contains(kinds, k) && p.allowsKind(k) {
			kinds = append(kinds, k)
		}
	}
	for _, k := range p.RegistrationOrder {
		add(k)
	}
	for _, f := range p.AllowedFactors {
		add(f.Kind())
	}
	return kinds
}

func (p Policy) allowsKind(k mfa.Kind) bool {
	for _, f := range p.AllowedFactors {
		if f.Kind() == k {
			return true
		}
	}
	return false
}

// Allows reports whether a factor may be used.
func (p Policy) Allows(f mfa.Factor) bool { return slices.Contains(p.AllowedFactors, f) }

// Missing lists, in order, the kinds a person with these methods still has
// to register. Recovery codes are not methods and never count here: they
// back a method up, so "register N methods" is not met by a sheet of codes.
func (p Policy) Missing(methods []mfa.Method) []mfa.Kind {
	have := map[mfa.Kind]bool{}
	for _, m := range methods {
		have[m.Kind] = true
	}
	need := p.RequiredMethods - len(have)
	var out []mfa.Kind
	for _, k := range p.AllowedKinds() {
		if need <= 0 {
			break
		}
		if !have[k] {
			out = append(out, k)
			need--
		}
	}
	return out
}

// Resolver finds the policy for a person.
type Resolver interface {
	For(ctx context.Context, u *identity.User) Policy
}
