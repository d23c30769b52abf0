package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Users looks up the people tokens are issued for.
type Users interface {
	Get(ctx context.Context, id string) (*identity.User, error)
}

// MethodResets tells when a person's MFA methods were last reset: grants
// from sign-ins before that stop working.
type MethodResets interface {
	MethodsResetAt(ctx context.Context, userID string) (*time.Time, error)
}

// Assurance tells whether a person's sign-in policy now demands a second
// factor they can give: a grant from a password-only sign-in then buys
// nothing more, as a browser session from one does not.
type Assurance interface {
	MFARequired(ctx context.Context, u *identity.User) (bool, error)
}

// Endpoints serves the back-channel protocol endpoints. Every error is
// written by fosite's writers, shaped as the RFCs say.
type Endpoints struct {
	Provider fosite.OAuth2Provider
	Storage  *Storage
	Keys     *keys.Manager
	Users    Users
	Resets   MethodResets
	Assure   Assurance
	Audit    *audit.Recorder
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Issuer   string

	discovery []byte
}

// Mount registers the endpoints on mux.
func (e *Endpoints) Mount(mux *http.ServeMux) {
	e.discovery = e.discoveryDocument()
	mux.HandleFunc("GET "+PathDiscovery, e.Discovery)
	mux.HandleFunc("GET "+PathJWKS, e.JWKS)
	mux.HandleFunc("POST "+PathToken, e.Token)
	mux.HandleFunc("POST "+PathIntrospect, e.Introspect)
	mux.HandleFunc("POST "+PathRevoke, e.Revoke)
	for _, path := range []string{PathToken, PathIntrospect, PathRevoke} {
		mux.HandleFunc(path, postOnly)
	}
	mux.HandleFunc("GET "+PathUserinfo, e.Userinfo)
	mux.HandleFunc("POST "+PathUserinfo, e.Userinfo)
}

func (e *Endpoints) discoveryDocument() []byte {
	doc := map[string]any{
		"issuer":                                e.Issuer,
		"authorization_endpoint":                e.Issuer + PathAuthorize,
		"token_endpoint":                        e.Issuer + PathToken,
		"userinfo_endpoint":                     e.Issuer + PathUserinfo,
		"jwks_uri":                              e.Issuer + PathJWKS,
		"revocation_endpoint":                   e.Issuer + PathRevoke,
		"introspection_endpoint":                e.Issuer + PathIntrospect,
		"end_session_endpoint":                  e.Issuer + PathLogout,
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query", "form_post"},
		"grant_types_supported":                 clients.SupportedGrantTypes,
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"scopes_supported":                      clients.DefaultScopes,
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash",
			"name", "preferred_username", "email", "email_verified"},
		"token_endpoint_auth_methods_supported":            clients.SupportedAuthMethods,
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "ES256"},
		"revocation_endpoint_auth_methods_supported":       clients.SupportedAuthMethods,
		"introspection_endpoint_auth_methods_supported":    []string{clients.AuthSecretBasic},
		"code_challenge_methods_supported":                 []string{"S256"},
		"acr_values_supported":                             []string{assurance.Password, assurance.MFA},
		"prompt_values_supported":                          []string{"none", "login", "consent"},
		"authorization_response_iss_parameter_supported":   true,
		"claims_parameter_supported":                       false,
		"request_parameter_supported":                      false,
		"request_uri_parameter_supported":                  false,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// Discovery serves the OpenID Provider metadata, built once at start-up.
func (e *Endpoints) Discovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(e.discovery)
}

// JWKS serves the published signing keys.
func (e *Endpoints) JWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	json.NewEncoder(w).Encode(e.Keys.JWKS())
}

// Token issues tokens, after re-checking that the grant's assurance level
// still meets what the client requires: a code or refresh token minted at a
// lower level can never buy a token for a client that demands more.
func (e *Endpoints) Token(w http.ResponseWriter, r *http.Request) {
	ctx := WithRequestCache(r.Context())
	if err := checkTokenRequest(r); err != nil {
		e.tokenError(ctx, w, nil, err)
		return
	}
	ar, err := e.Provider.NewAccessRequest(ctx, r, NewSession())
	if err != nil {
		challengeBasic(w, r, err)
		e.tokenError(ctx, w, ar, err)
		return
	}
	client := ar.GetClient().(*Client)
	grant := ar.GetGrantTypes()
	switch {
	case grant.ExactOne("client_credentials"):
		for _, scope := range ar.GetRequestedScopes() {
			if scope != "openid" && scope != "offline_access" {
				ar.GrantScope(scope)
			}
		}
	default:
		if err := e.checkGrant(ctx, client, ar); err != nil {
			e.tokenError(ctx, w, ar, err)
			return
		}
	}
	resp, err := e.Provider.NewAccessResponse(ctx, ar)
	if err != nil {
		e.tokenError(ctx, w, ar, err)
		return
	}
	e.Metrics.TokensIssued.WithLabelValues(strings.Join(grant, " ")).Inc()
	e.Provider.WriteAccessResponse(ctx, w, ar, resp)
}

// checkGrant refuses a user grant whose assurance is below the client's
// requirement, or whose user has since been disabled or deleted.
func (e *Endpoints) checkGrant(ctx context.Context, client *Client, ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok || sess.Claims == nil {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	if required := client.RequiredACR; required != "" && assurance.Rank(sess.Claims.AuthenticationContextClassReference) < assurance.Rank(required) {
		e.Audit.Record(ctx, audit.Event{
			Type: "token.refused", Outcome: "failure", SubjectID: sess.Subject, ClientID: client.ID,
			Details: map[string]string{"reason": "insufficient assurance", "acr": sess.Claims.AuthenticationContextClassReference, "required": required},
		})
		return fosite.ErrInvalidGrant.WithHintf("The sign-in behind this grant (acr %q) is below the level this application requires (%q); sign in again.",
			sess.Claims.AuthenticationContextClassReference, required)
	}
	u, err := e.Users.Get(ctx, sess.Subject)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Disabled {
		if rerr := e.Storage.RevokeRefreshToken(ctx, ar.GetID()); rerr != nil {
			e.Logger.Error("revoking grant of a disabled user", "err", rerr)
		}
		return fosite.ErrInvalidGrant.WithHint("The account behind this grant is no longer active.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	// A code or refresh token from a sign-in begun before the person was
	// signed out everywhere (a password reset) buys nothing afterwards. The
	// session keeps that moment to the second: one begun in the stamp's own
	// second still counts.
	if !u.SessionValid(sess.Claims.RequestedAt.Add(time.Second)) {
		if rerr := e.Storage.RevokeRefreshToken(ctx, ar.GetID()); rerr != nil {
			e.Logger.Error("revoking grant after sign-out everywhere", "err", rerr)
		}
		return fosite.ErrInvalidGrant.WithHint("The account was signed out everywhere since this sign-in; sign in again.")
	}
	resetAt, err := e.Resets.MethodsResetAt(ctx, sess.Subject)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if resetAt != nil && sess.Claims.AuthTime.Before(resetAt.Truncate(time.Second)) {
		if rerr := e.Storage.RevokeRefreshToken(ctx, ar.GetID()); rerr != nil {
			e.Logger.Error("revoking grant after a method reset", "err", rerr)
		}
		return fosite.ErrInvalidGrant.WithHint("The account's security methods were reset; sign in again.")
	}
	return e.checkPolicyAssurance(ctx, client, ar, sess, u)
}

// checkPolicyAssurance refuses a password-only grant once the person's
// policy requires a second factor they have registered (MFA turned on for
// their group, or registration put off and a method registered since).
func (e *Endpoints) checkPolicyAssurance(ctx context.Context, client *Client, ar fosite.AccessRequester, sess *openid.DefaultSession, u *identity.User) error {
	acr := sess.Claims.AuthenticationContextClassReference
	if assurance.Rank(acr) >= assurance.Rank(assurance.MFA) {
		return nil
	}
	required, err := e.Assure.MFARequired(ctx, u)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if !required {
		return nil
	}
	if rerr := e.Storage.RevokeRefreshToken(ctx, ar.GetID()); rerr != nil {
		e.Logger.Error("revoking a grant below the person's policy", "err", rerr)
	}
	e.Audit.Record(ctx, audit.Event{
		Type: "token.refused", Outcome: "failure", SubjectID: u.ID, ClientID: client.ID,
		Details: map[string]string{"reason": "below the person's policy", "acr": acr, "required": assurance.MFA},
	})
	return fosite.ErrInvalidGrant.WithHint("The sign-in behind this grant is below what the account's policy now requires; sign in again.")
}

func (e *Endpoints) tokenError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	if unavailable(ctx, err) {
		w.Header().Set("Retry-After", "1")
		err = fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		e.Logger.Error("token endpoint", "err", err, "debug", rfc.DebugField)
	}
	e.Provider.WriteAccessError(ctx, w, ar, err)
}

// Introspect implements RFC 7662 for authenticated clients. A client
// learns only about its own tokens unless it is registered to introspect
// others' (an API checking apps' tokens); any other token is inactive to it.
func (e *Endpoints) Introspect(w http.ResponseWriter, r *http.Request) {
	ctx := WithRequestCache(r.Context())
	if fosite.AccessTokenFromRequest(r) != "" {
		// fosite would let any access token, a user's included, stand in
		// for the caller's credentials.
		w.Header().Set("WWW-Authenticate", basicChallenge)
		e.Provider.WriteIntrospectionError(ctx, w, fosite.ErrRequestUnauthorized.WithHint("Authenticate with the client's ID and secret (HTTP Basic)."))
		return
	}
	ir, err := e.Provider.NewIntrospectionRequest(ctx, r, NewSession())
	if unavailable(ctx, err) {
		// fosite would answer {"active": false} or invalid_client: a token
		// is not inactive, nor a client unknown, because storage is down.
		writeBusy(w)
		return
	}
	if err != nil {
		challengeBasic(w, r, err)
		e.Provider.WriteIntrospectionError(ctx, w, err)
		return
	}
	if ir.IsActive() {
		// NewIntrospectionRequest has authenticated the caller by HTTP Basic.
		callerID, _, _ := r.BasicAuth()
		callerID, _ = url.QueryUnescape(callerID)
		if owner := ir.GetAccessRequester().GetClient().GetID(); owner != callerID {
			caller, err := e.Storage.GetClient(ctx, callerID)
			if err != nil {
				writeBusy(w) // it was found a moment ago: storage is failing
				return
			}
			if !caller.(*Client).MayIntrospect {
				ir = &fosite.IntrospectionResponse{Active: false}
			}
		}
	}
	if ir.IsActive() && ir.GetTokenUse() == fosite.AccessToken {
		active, err := e.holderActive(ctx, ir.GetAccessRequester())
		if err != nil {
			e.Logger.Error("introspection", "err", err)
			writeBusy(w)
			return
		}
		if !active {
			e.Provider.WriteIntrospectionError(ctx, w, fosite.ErrInactiveToken)
			return
		}
	}
	if ir.IsActive() {
		if sess, ok := ir.GetAccessRequester().GetSession().(*openid.DefaultSession); ok {
			ir.GetAccessRequester().SetSession(introspectedSession{sess})
		}
	}
	e.Provider.WriteIntrospectionResponse(ctx, w, ir)
}

// introspectedSession adds the sign-in's acr, amr and auth_time to an
// introspection response, so an API can ask for a stronger or more recent
// sign-in for one route (RFC 9470 step-up).
type introspectedSession struct{ *openid.DefaultSession }

func (s introspectedSession) GetExtraClaims() map[string]any {
	c := s.Claims
	extra := map[string]any{}
	if c == nil {
		return extra
	}
	if c.AuthenticationContextClassReference != "" {
		extra["acr"] = c.AuthenticationContextClassReference
	}
	if len(c.AuthenticationMethodsReferences) > 0 {
		extra["amr"] = c.AuthenticationMethodsReferences
	}
	if !c.AuthTime.IsZero() {
		extra["auth_time"] = c.AuthTime.Unix()
	}
	return extra
}

// Revoke implements RFC 7009.
func (e *Endpoints) Revoke(w http.ResponseWriter, r *http.Request) {
	ctx := WithRequestCache(r.Context())
	err := e.Provider.NewRevocationRequest(ctx, r)
	if store.Unavailable(err) || StorageOutage(ctx) != nil {
		// fosite would answer 200 even when a revocation did not reach
		// storage: the client must not believe the token revoked.
		writeBusy(w)
		return
	}
	challengeBasic(w, r, err)
	e.Provider.WriteRevocationResponse(ctx, w, err)
}

// Userinfo returns the claims the access token's scopes release (OIDC Core §5.3).
func (e *Endpoints) Userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := WithRequestCache(r.Context())
	token := fosite.AccessTokenFromRequest(r)
	if token == "" {
		bearerError(w, http.StatusUnauthorized, "invalid_request", "An access token is required.")
		return
	}
	sess := NewSession()
	_, ar, err := e.Provider.IntrospectToken(ctx, token, fosite.AccessToken, sess)
	if unavailable(ctx, err) {
		writeBusy(w)
		return
	}
	if err != nil {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is not active.")
		return
	}
	if !ar.GetGrantedScopes().Has("openid") || sess.Subject == "" {
		bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
		return
	}
	u, err := e.Users.Get(ctx, sess.Subject)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		writeBusy(w)
		return
	}
	if err != nil || !u.SessionValid(ar.GetRequestedAt()) {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The account behind this token is no longer active.")
		return
	}
	claims := ProfileClaims(u, ar.GetGrantedScopes())
	claims["sub"] = u.ID
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(claims)
}

// holderActive reports whether the person an access token was issued to
// may still use it: not disabled or deleted, and not signed out everywhere
// (a password reset, a method reset) since it was issued. Client
// credentials tokens have no person behind them.
func (e *Endpoints) holderActive(ctx context.Context, ar fosite.Requester) (bool, error) {
	subject := ar.GetSession().GetSubject()
	if subject == "" {
		return true, nil
	}
	u, err := e.Users.Get(ctx, subject)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return u.SessionValid(ar.GetRequestedAt()), nil
}

// unavailable reports whether a failed request failed because storage did
// not answer (or the request's deadline passed while it waited), whatever
// fosite made of that failure.
func unavailable(ctx context.Context, err error) bool {
	return err != nil && (store.Unavailable(err) || StorageOutage(ctx) != nil)
}

// writeBusy answers 503 with the RFC 6749 error for a server that cannot
// answer now, so the client retries rather than taking the failure as an
// answer.
func writeBusy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(map[string]string{"error": "temporarily_unavailable", "error_description": "The server cannot answer right now; retry in a moment."})
}

func bearerError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error=%q, error_description=%q`, code, desc))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// ProfileClaims are the claims the profile and email scopes release.
func ProfileClaims(u *identity.User, scopes fosite.Arguments) map[string]any {
	c := map[string]any{}
	if slices.Contains(scopes, "profile") {
		c["name"] = u.DisplayName
		c["preferred_username"] = u.Username
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	return c
}
