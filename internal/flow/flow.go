// Package flow is the sign-in state machine: one Flow per authorization
// request, kept in Redis, advanced step by step until a code is issued.
package flow

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Step names a stage of sign-in.
type Step string

// The steps, in the order they are taken. Enrollment and the MFA challenge
// slot in between the password and consent.
const (
	StepAuthenticate   Step = "authenticate"
	StepChangePassword Step = "change_password"
	StepMFA            Step = "mfa"
	StepEnroll         Step = "enroll"
	StepConsent        Step = "consent"
	StepIssue          Step = "issue"
	// StepRefuse: MFA is required and nothing is registered to challenge
	// (registration was put off), so the application is told no.
	StepRefuse Step = "refuse"
)

// Enrollment stages, in the order the "Keep your account secure" wizard
// shows them.
const (
	StageIntro    = "intro"
	StageSetup    = "setup"
	StageCode     = "code"
	StageVerified = "verified"
	StageChoose   = "choose"
	StageComplete = "complete"
)

// Flow is one authorization request on its way through sign-in. Next derives
// the current step from the facts gathered so far, so there is no separate
// "current step" to fall out of step with them.
type Flow struct {
	ID             string    `json:"-"`
	Browser        string    `json:"browser"`                // binds the flow to the browser that started it
	Query          string    `json:"query"`                  // the authorization request, replayed to fosite at the end
	ReturnTo       string    `json:"return_to,omitempty"`    // instead of Query: a Gatehouse page (My Account) to return to
	RedirectURI    string    `json:"redirect_uri,omitempty"` // where the application gets the answer; the pages' forms may end there
	ClientID       string    `json:"client_id"`
	ClientName     string    `json:"client_name"`
	RequiredACR    string    `json:"required_acr"`
	RequireConsent bool      `json:"require_consent"`
	CreatedAt      time.Time `json:"created_at"`

	Username           string    `json:"username,omitempty"` // as typed on the first screen
	UserID             string    `json:"user_id,omitempty"`
	AuthTime           time.Time `json:"auth_time,omitzero"`
	PasswordAt         time.Time `json:"password_at,omitzero"` // when the password was typed in this flow
	AMR                []string  `json:"amr,omitempty"`
	ACR                string    `json:"acr,omitempty"`
	MustChangePassword bool      `json:"must_change_password,omitempty"`
	Consented          bool      `json:"consented,omitempty"`

	// PolicyMFA is set when the sign-in policy requires MFA of this person
	// (cleared when they skip registration within its grace).
	PolicyMFA  bool        `json:"policy_mfa,omitempty"`
	HasMethods bool        `json:"has_methods,omitempty"` // registered MFA methods before this sign-in
	Enroll     *Enrollment `json:"enroll,omitempty"`
	Challenge  *Challenge  `json:"challenge,omitempty"`
	Remember   bool        `json:"remember,omitempty"` // "Don't ask again" was ticked
	MFAAt      time.Time   `json:"mfa_at,omitzero"`    // when a second factor was last proved
	// AccessCode is set when the Help Desk issued a temporary access code to
	// someone who lost every method: it must be entered before registering
	// new ones, so a stolen password alone cannot register an attacker's.
	AccessCode bool `json:"access_code,omitempty"`
	// Deferred is set when the person put registration off within the
	// policy's grace.
	Deferred bool `json:"deferred,omitempty"`
}

// Enrollment is the "Keep your account secure" wizard's progress.
type Enrollment struct {
	Stage    string   `json:"stage"`              // intro, setup, code, verified, choose, complete
	Plan     []string `json:"plan"`               // method kinds still to register, the current one first
	Done     []string `json:"done,omitempty"`     // kinds registered in this sign-in
	Existing int      `json:"existing,omitempty"` // methods registered before this sign-in
	Finished bool     `json:"finished,omitempty"` // "Done" on "Setup is now complete"
	Adding   bool     `json:"adding,omitempty"`   // a method added from My Account, not required registration

	Secret  []byte `json:"secret,omitempty"`  // the sealed TOTP secret being set up
	Phone   string `json:"phone,omitempty"`   // E.164 being verified
	Country string `json:"country,omitempty"` // its region
	Factor  string `json:"factor,omitempty"`  // sms or voice
	Email   string `json:"email,omitempty"`   // address being verified
}

// Current is the kind being set up, or "".
func (e *Enrollment) Current() string {
	if len(e.Plan) == 0 {
		return ""
	}
	return e.Plan[0]
}

// Challenge is the MFA challenge in progress.
type Challenge struct {
	MethodID string `json:"method_id"`
	Factor   string `json:"factor"`
	Sent     bool   `json:"sent,omitempty"`
	Choosing bool   `json:"choosing,omitempty"` // "Sign in another way" list shown
}

// RequiredMFA reports whether this sign-in must end at the MFA level.
func (f *Flow) RequiredMFA() bool {
	return f.PolicyMFA || assurance.Rank(f.RequiredACR) >= assurance.Rank(assurance.MFA)
}

// ValidFrom is the moment a "sign out everywhere" must come after to end
// this sign-in: when its password was typed, or, for a flow begun from a
// live session, when it began. So a sign-in resumed with the new password
// after a reset carries on, and one parked before it does not.
func (f *Flow) ValidFrom() time.Time {
	if f.PasswordAt.After(f.CreatedAt) {
		return f.PasswordAt
	}
	return f.CreatedAt
}

// CreditMFA records a second factor proved at at, named by its amr value.
func (f *Flow) CreditMFA(amr string, at time.Time) {
	f.AuthTime, f.MFAAt, f.ACR = at, at, assurance.MFA
	for _, v := range []string{amr, assurance.AMRMFA} {
		if !slices.Contains(f.AMR, v) {
			f.AMR = append(f.AMR, v)
		}
	}
}

// canChallenge reports whether there is anything to challenge: a method
// registered before or during this sign-in, or an access code.
func (f *Flow) canChallenge() bool {
	return f.HasMethods || f.AccessCode || f.Enroll != nil && len(f.Enroll.Done) > 0
}

func (f *Flow) hasMFA() bool { return assurance.Rank(f.ACR) >= assurance.Rank(assurance.MFA) }

// Next is the first step not yet done. Registering more methods is itself
// protected: someone who already has a method proves it before adding one.
func (f *Flow) Next() Step {
	enrolling := f.Enroll != nil && !f.Enroll.Finished
	switch {
	case f.UserID == "":
		return StepAuthenticate
	case f.MustChangePassword:
		return StepChangePassword
	case f.AccessCode && !f.hasMFA():
		return StepMFA
	case f.HasMethods && !f.hasMFA() && (f.RequiredMFA() || enrolling):
		return StepMFA
	case enrolling:
		return StepEnroll
	case f.RequiredMFA() && !f.hasMFA() && !f.canChallenge():
		return StepRefuse
	case f.RequiredMFA() && !f.hasMFA():
		return StepMFA
	case f.RequireConsent && !f.Consented:
		return StepConsent
	}
	return StepIssue
}

// Proof is what a completed sign-in established. A browser session keeps
// it, and the next sign-in in that browser starts from it.
type Proof struct {
	UserID   string    `json:"user_id"`
	AuthTime time.Time `json:"auth_time"`
	AMR      []string  `json:"amr"`
	ACR      string    `json:"acr"`
	// What the sign-in found, so later apps in the same session follow the
	// same policy without looking it up again.
	PolicyMFA  bool      `json:"policy_mfa,omitempty"`
	HasMethods bool      `json:"has_methods,omitempty"`
	MFAAt      time.Time `json:"mfa_at,omitzero"` // when a second factor was last proved
	// Deferred is set when the sign-in put registration off within the
	// policy's grace, so My Account does not demand a second factor the
	// person has not registered yet.
	Deferred bool `json:"deferred,omitempty"`
}

// Proved is what this completed sign-in established.
func (f *Flow) Proved() Proof {
	return Proof{UserID: f.UserID, AuthTime: f.AuthTime, AMR: f.AMR, ACR: f.ACR, MFAAt: f.MFAAt,
		PolicyMFA: f.PolicyMFA, HasMethods: f.HasMethods || f.Enroll != nil && len(f.Enroll.Done) > 0, Deferred: f.Deferred}
}

// Continue starts this sign-in from p, a signed-in browser's proof.
func (f *Flow) Continue(p Proof, username string, mustChangePassword bool) {
	f.UserID, f.Username, f.AuthTime, f.AMR, f.ACR = p.UserID, username, p.AuthTime, p.AMR, p.ACR
	f.PolicyMFA, f.HasMethods, f.MFAAt, f.Deferred = p.PolicyMFA, p.HasMethods, p.MFAAt, p.Deferred
	f.MustChangePassword = mustChangePassword
}

// NeedsMFA reports whether p falls short of a policy that requires MFA now
// (policyMFA). Registration put off within the grace waives it only while
// the person has nothing registered (hasMethodsNow): once they have a
// method, perhaps registered by the real owner, it must be proved.
func (p Proof) NeedsMFA(policyMFA, hasMethodsNow bool) bool {
	if assurance.AtLeast(p.ACR, assurance.MFA) || !policyMFA {
		return false
	}
	return !p.Deferred || hasMethodsNow
}

// SignIn is a sign-in from scratch for a Gatehouse page at returnTo; with
// a username it starts at the password.
func SignIn(returnTo, username string) *Flow { return &Flow{ReturnTo: returnTo, Username: username} }

// from is a sign-in for the page at returnTo that starts from who p
// signed in, and how.
func from(returnTo, username string, p Proof) *Flow {
	return &Flow{ReturnTo: returnTo, Username: username, UserID: p.UserID, AuthTime: p.AuthTime, AMR: p.AMR, ACR: p.ACR, PolicyMFA: p.PolicyMFA}
}

// StepUp is the sign-in that brings p up to MFA for the page at returnTo:
// the challenge, or with nothing registered to challenge, the password
// again and then registration.
func StepUp(returnTo, username string, p Proof) *Flow {
	if !p.HasMethods {
		return SignIn(returnTo, username)
	}
	f := from(returnTo, username, p)
	f.RequiredACR, f.HasMethods, f.PolicyMFA = assurance.MFA, true, true
	return f
}

// Recent is what a change to security info needs of p beyond being signed
// in: a second factor proved since since for someone who has methods; for
// someone with none, the Help Desk's access code when one is pending, or
// else a password typed since since. It returns nil when p is recent
// enough.
func Recent(returnTo, username string, p Proof, hasMethods, accessCodePending bool, since time.Time) *Flow {
	switch {
	case hasMethods && p.MFAAt.After(since):
		return nil
	case hasMethods:
		f := from(returnTo, username, p)
		f.ACR, f.RequiredACR, f.HasMethods = assurance.Password, assurance.MFA, true
		return f
	case accessCodePending:
		f := from(returnTo, username, p)
		f.AMR, f.ACR, f.AccessCode = []string{assurance.AMRPassword}, assurance.Password, true
		return f
	case p.AuthTime.After(since):
		return nil
	}
	return SignIn(returnTo, username)
}

// AddMethod registers one more method of kind, from My Account, for the
// person signed in with p, who has existing methods already.
func AddMethod(returnTo, username string, p Proof, kind string, existing int) *Flow {
	f := from(returnTo, username, p)
	f.MFAAt, f.HasMethods = p.MFAAt, existing > 0
	f.Enroll = &Enrollment{Stage: StageSetup, Plan: []string{kind}, Existing: existing, Adding: true}
	return f
}

// Store keeps flows for at most their lifetime.
type Store struct {
	kv  store.KV
	ttl time.Duration
}

// NewStore returns a Store whose flows expire after ttl.
func NewStore(kv store.KV, ttl time.Duration) *Store { return &Store{kv: kv, ttl: ttl} }

// ErrNotFound means the flow expired, finished, or belongs to another browser.
var ErrNotFound = errors.New("this sign-in has expired; start again from the application")

// key hashes the flow ID so Redis never holds a usable one.
func key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "flow:" + hex.EncodeToString(sum[:])
}

// Create stores a new flow and gives it an unguessable ID.
func (s *Store) Create(ctx context.Context, f *Flow) error {
	f.ID = base64.RawURLEncoding.EncodeToString(secrets.RandomToken(24))
	return s.Save(ctx, f)
}

// Save writes f back; its lifetime runs from creation, not from the last step.
func (s *Store) Save(ctx context.Context, f *Flow) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	ttl := s.ttl - time.Since(f.CreatedAt)
	if ttl <= 0 {
		return ErrNotFound
	}
	return s.kv.Put(ctx, key(f.ID), data, ttl)
}

// Load returns the flow with id if it belongs to browser.
func (s *Store) Load(ctx context.Context, id, browser string) (*Flow, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	data, err := s.kv.Get(ctx, key(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var f Flow
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(f.Browser), []byte(browser)) != 1 {
		return nil, ErrNotFound
	}
	f.ID = id
	return &f, nil
}

// Delete ends a flow.
func (s *Store) Delete(ctx context.Context, id string) error { return s.kv.Delete(ctx, key(id)) }
