package oauth

import (
	"time"

	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// NewSession returns an empty session: fosite unmarshals stored sessions into it.
func NewSession() *openid.DefaultSession {
	return &openid.DefaultSession{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}}
}

// Authentication is what the sign-in established about a person.
type Authentication struct {
	Subject  string
	Username string
	AuthTime time.Time
	AMR      []string // RFC 8176 values, e.g. ["pwd"]
	ACR      string
	// Claims are the profile claims released for the granted scopes.
	Claims map[string]any
}

// SessionFor builds the session an authorization is issued with; auth_time,
// acr and amr ride along into every ID token and refresh of this grant.
func SessionFor(a Authentication, issuer string, requestedAt time.Time) *openid.DefaultSession {
	s := NewSession()
	s.Subject, s.Username = a.Subject, a.Username
	s.Claims.Subject = a.Subject
	s.Claims.Issuer = issuer
	s.Claims.AuthTime = a.AuthTime.UTC().Truncate(time.Second)
	s.Claims.RequestedAt = requestedAt.UTC().Truncate(time.Second)
	s.Claims.AuthenticationMethodsReferences = a.AMR
	s.Claims.AuthenticationContextClassReference = a.ACR
	s.Claims.Extra = a.Claims
	return s
}
