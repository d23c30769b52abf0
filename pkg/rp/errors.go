package rp

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

var (
	// ErrStateMismatch: the response's state is not the one this Login
	// sent, so the response was not started in this browser (login CSRF).
	ErrStateMismatch = errors.New("rp: the response's state does not match this sign-in")
	// ErrLoginExpired: the sign-in took longer than Config.LoginLifetime.
	ErrLoginExpired = errors.New("rp: the sign-in took too long")
	// ErrNonceMismatch: the ID token was not issued for this sign-in.
	ErrNonceMismatch = errors.New("rp: the ID token's nonce does not match this sign-in")
	// ErrUnavailable: Gatehouse did not answer (a network error or a 5xx):
	// try again later, rather than treating it as a refusal.
	ErrUnavailable = errors.New("rp: Gatehouse is unavailable")
)

// IssuerError is an authorization response from another issuer than the
// one configured (RFC 9207), or without the iss parameter the provider
// promised (Got is then empty).
type IssuerError struct{ Got, Want string }

func (e *IssuerError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("rp: the response carries no iss parameter, though issuer %q always sends one", e.Want)
	}
	return fmt.Sprintf("rp: the response came from issuer %q, not %q", e.Got, e.Want)
}

// ResponseError is an error the provider answered the authorization request
// with (RFC 6749 §4.1.2.1), e.g. access_denied or login_required.
type ResponseError struct{ Code, Description, URI string }

func (e *ResponseError) Error() string {
	if e.Description == "" {
		return "rp: the provider answered " + e.Code
	}
	return "rp: the provider answered " + e.Code + ": " + e.Description
}

// AssuranceError is a sign-in at a lower assurance level (acr) than the
// one required.
type AssuranceError struct{ ACR, Required string }

func (e *AssuranceError) Error() string {
	return fmt.Sprintf("rp: the sign-in's acr is %q, below the %q required", e.ACR, e.Required)
}

// StaleSignInError is a sign-in older than the max_age asked for, or one
// whose ID token does not say when it happened (AuthTime zero).
type StaleSignInError struct {
	AuthTime time.Time
	MaxAge   time.Duration
}

func (e *StaleSignInError) Error() string {
	if e.AuthTime.IsZero() {
		return "rp: the ID token has no auth_time, though a max_age was asked for"
	}
	return fmt.Sprintf("rp: the sign-in at %s is older than the max_age of %s", e.AuthTime.UTC().Format(time.RFC3339), e.MaxAge)
}

// tokenEndpointError wraps a failed token request, marking the failures
// that are Gatehouse not answering rather than refusing.
func tokenEndpointError(doing string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode >= http.StatusInternalServerError {
		return fmt.Errorf("rp: %s: %w: %w", doing, ErrUnavailable, err)
	}
	return fmt.Errorf("rp: %s: %w", doing, err)
}
