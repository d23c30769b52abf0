package adminapi

import (
	"encoding/json"
	"time"
)

// ApplicationInput registers an application (POST /clients) or changes one
// (PATCH /clients/{id}): on a change, a nil field keeps its value.
type ApplicationInput struct {
	Name                   *string   `json:"name,omitempty"`
	Description            *string   `json:"description,omitempty"`
	Public                 *bool     `json:"public,omitempty"`
	RedirectURIs           *[]string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris,omitempty"`
	// GrantTypes: authorization_code, refresh_token, client_credentials.
	GrantTypes *[]string `json:"grant_types,omitempty"`
	Scopes     *[]string `json:"scopes,omitempty"`
	// TokenEndpointAuthMethod: client_secret_basic, client_secret_post,
	// none or private_key_jwt.
	TokenEndpointAuthMethod *string          `json:"token_endpoint_auth_method,omitempty"`
	JWKSURI                 *string          `json:"jwks_uri,omitempty"`
	JWKS                    *json.RawMessage `json:"jwks,omitempty"`
	RequireConsent          *bool            `json:"require_consent,omitempty"`
	// RequiredACR is an assurance level of pkg/assurance, or "" for none.
	RequiredACR       *string `json:"required_acr,omitempty"`
	IDTokenSigningAlg *string `json:"id_token_signed_response_alg,omitempty"`
	// MayIntrospect lets the client introspect tokens issued to others.
	MayIntrospect *bool `json:"may_introspect,omitempty"`
}

// Application is a registered client application as admins see it: never its secret hash, nor a
// JWKS given inline.
type Application struct {
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
	// working; nil when none does.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	Disabled                bool       `json:"disabled"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	// Secret is set only when the call just created one: a new
	// confidential client, or a change that made a client confidential.
	Secret string `json:"client_secret,omitempty"`
}

// ApplicationList is GET /clients.
type ApplicationList struct {
	Items []Application `json:"items"`
}

// RotatedSecret is a client's new secret; the old one keeps working for a
// while (Application.PreviousSecretExpiresAt) so deployments can roll over.
type RotatedSecret struct {
	ClientID string `json:"client_id"`
	Secret   string `json:"client_secret"`
}

// UserInput creates a person (POST /users).
type UserInput struct {
	Username    string `json:"username"`
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// Password is the first password; empty leaves the account without
	// one until an admin resets it.
	Password string `json:"password,omitempty"`
	// Roles: admin, helpdesk.
	Roles              []string `json:"roles,omitempty"`
	MustChangePassword bool     `json:"must_change_password,omitempty"`
}

// User is a person as admins see them: never a password hash.
type User struct {
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

// UserList is one page of GET /users.
type UserList struct {
	Items []User `json:"items"`
	// NextOffset is where the next page starts; nil on the last page.
	NextOffset *int `json:"next_offset"`
}

// RolesInput is PUT /users/{id}/roles: the person's roles, replacing
// theirs.
type RolesInput struct {
	Roles []string `json:"roles"`
}

// GroupsInput is PUT /users/{id}/groups: the person's groups, replacing
// theirs.
type GroupsInput struct {
	Groups []string `json:"groups"`
}

// TemporaryPassword is what a password reset hands the Help Desk to read
// out; the person must change it at their next sign-in.
type TemporaryPassword struct {
	Password string `json:"temporary_password"`
}

// AccessCode is a one-time sign-in code the Help Desk reads out to a
// person who lost their methods.
type AccessCode struct {
	Code      string `json:"access_code"`
	ExpiresIn int    `json:"expires_in"` // seconds
}

// ImportResult is an import's outcome: what was (or, in a dry run, would
// be) written, row by row.
type ImportResult struct {
	DryRun    bool        `json:"dry_run"`
	Written   bool        `json:"written"`
	Created   int         `json:"created"`
	Updated   int         `json:"updated"`
	Unchanged int         `json:"unchanged"`
	Rejected  int         `json:"rejected"`
	Rows      []ImportRow `json:"rows"`
}

// Import row outcomes.
const (
	OutcomeCreate    = "create"
	OutcomeUpdate    = "update"
	OutcomeUnchanged = "unchanged"
	OutcomeReject    = "reject"
)

// ImportRow is the outcome of one CSV row.
type ImportRow struct {
	Line     int           `json:"line"`
	Username string        `json:"username"`
	Outcome  string        `json:"outcome"`
	Changes  []FieldChange `json:"changes"`
	// Message is every problem of a rejected row, "; "-separated.
	Message string `json:"message,omitempty"`
}

// FieldChange is one field an import row sets: email, display_name, roles,
// groups or password. A password's value is never shown.
type FieldChange struct {
	Field  string `json:"field"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// AuditEvent is one audited action.
type AuditEvent struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`    // e.g. "signin.success", "client.created"
	Outcome string    `json:"outcome"` // "success" or "failure"
	// ActorID is who acted: a user ID, "client:<id>", "cli", or empty for
	// anonymous.
	ActorID   string            `json:"actor_id"`
	SubjectID string            `json:"subject_id,omitempty"` // the person acted upon, when there is one
	ClientID  string            `json:"client_id,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// AuditList is GET /audit.
type AuditList struct {
	Items []AuditEvent `json:"items"`
}

// PolicySettings is what a sign-in policy asks of the people it applies to.
type PolicySettings struct {
	// RequireMFA makes every application require a second factor.
	RequireMFA bool `json:"require_mfa"`
	// AllowedMethods are the factors a person may prove themselves with.
	AllowedMethods []string `json:"allowed_methods"`
	// RequiredMethods is how many methods registration asks for, in
	// RegistrationOrder.
	RequiredMethods    int      `json:"required_methods"`
	RegistrationOrder  []string `json:"registration_order"`
	Grace              Grace    `json:"grace"`
	RememberDeviceDays int      `json:"remember_device_days"`
	Limits             Limits   `json:"limits"`
	// AllowedCountries are the phone regions codes may be sent to.
	AllowedCountries []string `json:"allowed_countries"`
	// BlockedEmailDomains may not be registered as a personal email.
	BlockedEmailDomains []string `json:"blocked_email_domains"`
	SSPR                SSPR     `json:"sspr"`
}

// Grace is how long registration may be put off; all zero: not at all.
type Grace struct {
	Skips    int       `json:"skips"`    // how many times "Skip setup" may be used
	Days     int       `json:"days"`     // days from the first prompt
	Deadline time.Time `json:"deadline"` // a fixed date after which registration is required
}

// Limits bound how often codes are sent and checked.
type Limits struct {
	SendsPerUser        int           `json:"sends_per_user"`
	SendsPerIP          int           `json:"sends_per_ip"`
	SendsPerDestination int           `json:"sends_per_destination"`
	SendsPerCountry     int           `json:"sends_per_country"`
	VerifiesPerUser     int           `json:"verifies_per_user"`
	VerifiesPerIP       int           `json:"verifies_per_ip"`
	ResendCooldown      time.Duration `json:"resend_cooldown_ns"`
}

// SSPR is the self-service password reset policy.
type SSPR struct {
	Enabled bool `json:"enabled"`
	// MethodsRequired proofs, each on a different channel (1 or 2).
	MethodsRequired     int `json:"methods_required"`
	QuestionsToRegister int `json:"questions_to_register"`
	QuestionsToAnswer   int `json:"questions_to_answer"`
}

// PolicyInput is PUT /policies/{name}: a policy without its name, which
// the path gives.
type PolicyInput struct {
	Priority int            `json:"priority"`
	Groups   []string       `json:"groups"`
	Settings PolicySettings `json:"settings"`
}

// Policy is a saved policy: the default, or one for some groups.
type Policy struct {
	Name string `json:"name"`
	// Priority decides between policies when a person is in several
	// groups: the higher wins.
	Priority  int            `json:"priority"`
	Groups    []string       `json:"groups"`
	Settings  PolicySettings `json:"settings"`
	Version   int64          `json:"version"`
	UpdatedBy string         `json:"updated_by"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// PolicyList is GET /policies.
type PolicyList struct {
	Items []Policy `json:"items"`
}

// PolicyVersion is one saved version of a policy, or its deletion, with
// what changed from the version before it.
type PolicyVersion struct {
	Policy
	Deleted bool           `json:"deleted"`
	Changes []PolicyChange `json:"changes"`
}

// PolicyChange is one setting that differs from the version before, named
// by its JSON path (grace.days, sspr.enabled).
type PolicyChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// PolicyVersionList is GET /policies/{name}/versions, newest first.
type PolicyVersionList struct {
	Items []PolicyVersion `json:"items"`
}

// EffectivePolicy is the policy a person signs in under.
type EffectivePolicy struct {
	Name     string         `json:"policy"`
	Settings PolicySettings `json:"settings"`
}

// GroupReport is how far one group is with registering its methods.
type GroupReport struct {
	Group      string `json:"group"` // "" for people in no group
	Policy     string `json:"policy"`
	Users      int    `json:"users"`
	Registered int    `json:"registered"` // have the methods their policy asks for
	InGrace    int    `json:"in_grace"`   // not yet, but may still skip
	Pending    int    `json:"pending"`    // not yet, and must register at next sign-in
	// Deadline is the grace's fixed date, when the policy has one.
	Deadline *time.Time `json:"deadline,omitempty"`
}

// RegistrationReport is GET /reports/registration.
type RegistrationReport struct {
	Items []GroupReport `json:"items"`
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error Error `json:"error"`
}
