package clients

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Grant types and scopes Gatehouse supports.
var (
	SupportedGrantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}
	// DefaultScopes are the OpenID Connect scopes every app gets unless told otherwise.
	DefaultScopes        = []string{"openid", "profile", "email", "offline_access"}
	SupportedScopes      = append(slices.Clone(DefaultScopes), assurance.AdminScopes...)
	SupportedAuthMethods = []string{AuthSecretBasic, AuthSecretPost, AuthNone, AuthPrivateKeyJWT}
)

// ValidationError is a refused registration, in words for the admin.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

// HashSecret hashes a generated client secret. Generated secrets carry 256
// bits of entropy, so a fast hash is as safe as a slow KDF against guessing
// (2^256 work either way) while keeping the token endpoint fast; a slow KDF
// only helps low-entropy, human-chosen secrets, which Gatehouse never accepts.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// SecretMatches compares in constant time.
func SecretMatches(hash []byte, secret string) bool {
	return len(hash) == sha256.Size && subtle.ConstantTimeCompare(hash, HashSecret(secret)) == 1
}

// Registration is the input to Create and Update.
type Registration struct {
	Name                    string
	Description             string
	Public                  bool
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	GrantTypes              []string // default: authorization_code, refresh_token
	Scopes                  []string // default: openid profile email offline_access
	TokenEndpointAuthMethod string   // default: none for public, client_secret_basic otherwise
	JWKSURI                 string
	JWKS                    string
	RequireConsent          bool
	RequiredACR             string
	IDTokenSigningAlg       string // empty: the server's default
	MayIntrospect           bool   // may introspect other clients' tokens
}

// Service registers and manages clients.
type Service struct {
	store Store
	now   func() time.Time
	// SecretOverlap is how long a rotated-out secret keeps working
	// (clients.secret_rotation_overlap); zero ends it at once.
	SecretOverlap time.Duration
}

// NewService returns a Service over st.
func NewService(st Store) *Service { return &Service{store: st, now: time.Now} }

// Create registers a client and returns it with its secret, shown only now.
func (s *Service) Create(ctx context.Context, r Registration) (*Client, string, error) {
	c := &Client{ID: hex.EncodeToString(secrets.RandomToken(16)), CreatedAt: s.now().UTC()}
	if err := apply(c, r); err != nil {
		return nil, "", err
	}
	c.UpdatedAt = c.CreatedAt
	secret := s.issueSecret(c)
	if err := s.store.CreateClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// issueSecret gives secret-based clients a fresh secret, and keeps others
// secret-free (a rotated-out secret included).
func (s *Service) issueSecret(c *Client) string {
	if c.TokenEndpointAuthMethod != AuthSecretBasic && c.TokenEndpointAuthMethod != AuthSecretPost {
		c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt = nil, nil, time.Time{}
		return ""
	}
	secret := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	c.SecretHash = HashSecret(secret)
	return secret
}

// Update replaces a client's settings. It returns a new secret when the
// change moves the client to a secret-based authentication method.
func (s *Service) Update(ctx context.Context, id string, r Registration) (*Client, string, error) {
	c, err := s.store.GetClient(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if err := apply(c, r); err != nil {
		return nil, "", err
	}
	var secret string
	if len(c.SecretHash) == 0 {
		secret = s.issueSecret(c)
	} else if c.TokenEndpointAuthMethod != AuthSecretBasic && c.TokenEndpointAuthMethod != AuthSecretPost {
		c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt = nil, nil, time.Time{}
	}
	c.UpdatedAt = s.now().UTC()
	return c, secret, s.store.UpdateClient(ctx, c)
}

// RotateSecret replaces a confidential client's secret. The old one keeps
// working for SecretOverlap, so the app can be reconfigured without an
// outage; a secret rotated out before it is replaced, not kept.
func (s *Service) RotateSecret(ctx context.Context, id string) (string, error) {
	c, err := s.store.GetClient(ctx, id)
	if err != nil {
		return "", err
	}
	old := c.SecretHash
	secret := s.issueSecret(c)
	if secret == "" {
		return "", &ValidationError{[]string{fmt.Sprintf("client %s authenticates with %s and has no secret", id, c.TokenEndpointAuthMethod)}}
	}
	now := s.now().UTC()
	c.PreviousSecretHash, c.PreviousSecretExpiresAt = nil, time.Time{}
	if s.SecretOverlap > 0 && len(old) > 0 {
		c.PreviousSecretHash, c.PreviousSecretExpiresAt = old, now.Add(s.SecretOverlap)
	}
	c.UpdatedAt = now
	return secret, s.store.UpdateClient(ctx, c)
}

// SetDisabled turns a client off or on.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) error {
	c, err := s.store.GetClient(ctx, id)
	if err != nil {
		return err
	}
	c.Disabled = disabled
	c.UpdatedAt = s.now().UTC()
	return s.store.UpdateClient(ctx, c)
}

// Get returns one client.
func (s *Service) Get(ctx context.Context, id string) (*Client, error) {
	return s.store.GetClient(ctx, id)
}

// List returns every client.
func (s *Service) List(ctx context.Context) ([]Client, error) { return s.store.ListClients(ctx) }

// Delete removes a client.
func (s *Service) Delete(ctx context.Context, id string) error { return s.store.DeleteClient(ctx, id) }

// Registration returns the editable settings of c, for partial updates.
func (c *Client) Registration() Registration {
	return Registration{
		Name: c.Name, Description: c.Description, Public: c.Public,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.GrantTypes, Scopes: c.Scopes, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		JWKSURI: c.JWKSURI, JWKS: c.JWKS, RequireConsent: c.RequireConsent, RequiredACR: c.RequiredACR,
		IDTokenSigningAlg: c.IDTokenSigningAlg, MayIntrospect: c.MayIntrospect,
	}
}

// Validate reports every problem with r, as Create would.
func Validate(r Registration) error { return apply(&Client{}, r) }

// apply validates r and copies it onto c, collecting every problem.
func apply(c *Client, r Registration) error {
	var p []string
	name := strings.TrimSpace(r.Name)
	if name == "" || len(name) > 100 {
		p = append(p, "name: required, at most 100 characters")
	}
	grants := orDefault(r.GrantTypes, []string{"authorization_code", "refresh_token"})
	for _, g := range grants {
		if !slices.Contains(SupportedGrantTypes, g) {
			p = append(p, fmt.Sprintf("grant type %q is not supported (supported: %s)", g, strings.Join(SupportedGrantTypes, ", ")))
		}
	}
	if r.Public && slices.Contains(grants, "client_credentials") {
		p = append(p, "a public client cannot use client_credentials: it has no secret to prove who it is")
	}
	scopes := orDefault(r.Scopes, DefaultScopes)
	for _, sc := range scopes {
		if !slices.Contains(SupportedScopes, sc) {
			p = append(p, fmt.Sprintf("scope %q is not supported (supported: %s)", sc, strings.Join(SupportedScopes, ", ")))
		}
	}
	// An admin scope acts for the client itself: a grant a person signs in
	// through would let any user who signs in to the app carry it.
	if slices.ContainsFunc(scopes, assurance.IsAdminScope) && (r.Public || slices.ContainsFunc(grants, func(g string) bool { return g != "client_credentials" })) {
		p = append(p, "the gatehouse: admin scopes are only for confidential clients with the client_credentials grant alone")
	}
	method := r.TokenEndpointAuthMethod
	if method == "" {
		method = AuthSecretBasic
		if r.Public {
			method = AuthNone
		}
	}
	switch {
	case !slices.Contains(SupportedAuthMethods, method):
		p = append(p, fmt.Sprintf("auth method %q is not supported (supported: %s)", method, strings.Join(SupportedAuthMethods, ", ")))
	case r.Public != (method == AuthNone):
		p = append(p, "public clients, and only they, use auth method none")
	case method == AuthPrivateKeyJWT:
		p = append(p, checkJWKS(r.JWKSURI, r.JWKS)...)
	}
	if method != AuthPrivateKeyJWT && (r.JWKSURI != "" || r.JWKS != "") {
		p = append(p, "a JWKS is only used with auth method private_key_jwt")
	}
	needsRedirect := slices.Contains(grants, "authorization_code")
	if needsRedirect && len(r.RedirectURIs) == 0 {
		p = append(p, "at least one redirect URI is required for the authorization_code grant")
	}
	for _, u := range r.RedirectURIs {
		if err := ValidateRedirectURI(u, r.Public); err != nil {
			p = append(p, "redirect URI "+err.Error())
		}
	}
	for _, u := range r.PostLogoutRedirectURIs {
		if err := ValidateRedirectURI(u, r.Public); err != nil {
			p = append(p, "post-logout redirect URI "+err.Error())
		}
	}
	if r.RequiredACR != "" && assurance.Rank(r.RequiredACR) == 0 {
		p = append(p, fmt.Sprintf("required assurance level %q is unknown (known: %s, %s)", r.RequiredACR, assurance.Password, assurance.MFA))
	}
	if r.MayIntrospect && method != AuthSecretBasic && method != AuthSecretPost {
		p = append(p, "the introspection permission needs a client secret: the introspection endpoint authenticates with HTTP Basic")
	}
	if r.IDTokenSigningAlg != "" && !slices.Contains(keys.Supported, r.IDTokenSigningAlg) {
		p = append(p, fmt.Sprintf("ID token signing algorithm %q is not supported (supported: %s)", r.IDTokenSigningAlg, strings.Join(keys.Supported, ", ")))
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	c.Name, c.Description, c.Public = name, strings.TrimSpace(r.Description), r.Public
	c.RedirectURIs, c.PostLogoutRedirectURIs = slices.Clone(r.RedirectURIs), slices.Clone(r.PostLogoutRedirectURIs)
	c.GrantTypes, c.Scopes, c.TokenEndpointAuthMethod = grants, scopes, method
	c.ResponseTypes = nil
	if needsRedirect {
		c.ResponseTypes = []string{"code"}
	}
	c.JWKSURI, c.JWKS = r.JWKSURI, r.JWKS
	// PKCE is always required of public clients and always accepted from
	// confidential ones; fosite enforces both from the client type.
	c.RequirePKCE = r.Public
	c.RequireConsent, c.RequiredACR, c.IDTokenSigningAlg = r.RequireConsent, r.RequiredACR, r.IDTokenSigningAlg
	c.MayIntrospect = r.MayIntrospect
	return nil
}

func orDefault(v, def []string) []string {
	if len(v) == 0 {
		return slices.Clone(def)
	}
	return slices.Compact(slices.Sorted(slices.Values(v)))
}

func checkJWKS(uri, doc string) []string {
	switch {
	case uri == "" && doc == "":
		return []string{"private_key_jwt needs a JWKS URL or an inline JWKS"}
	case uri != "" && doc != "":
		return []string{"give a JWKS URL or an inline JWKS, not both"}
	case uri != "":
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
			return []string{"the JWKS URL must be an https URL"}
		}
	default:
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if json.Unmarshal([]byte(doc), &set) != nil || len(set.Keys) == 0 {
			return []string{`the inline JWKS must be a JSON object {"keys": [...]} with at least one key`}
		}
	}
	return nil
}

// ValidateRedirectURI applies RFC 6749 §3.1.2 and RFC 8252: absolute, no
// fragment, no wildcard; https, except http on a loopback address and, for
// public (native) clients, a private-use scheme such as com.example.app:/cb.
func ValidateRedirectURI(raw string, public bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("%q must be an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q must not contain a fragment", raw)
	}
	if strings.Contains(raw, "*") {
		return fmt.Errorf("%q must not contain a wildcard", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", raw)
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%q must use https (http is allowed only on loopback addresses)", raw)
		}
	default:
		if !public || !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("%q must use https; only public native apps may use a private-use scheme like com.example.app:/callback", raw)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
