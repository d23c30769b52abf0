package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/store"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// RepeatedParameter returns an error naming a parameter sent more than once
// (RFC 6749 §3.1): fosite would silently take the first value, so two
// parties reading the same request could disagree on what it asked for.
func RepeatedParameter(values url.Values) error {
	var repeated []string
	for name, v := range values {
		if len(v) > 1 {
			repeated = append(repeated, name)
		}
	}
	if len(repeated) == 0 {
		return nil
	}
	sort.Strings(repeated)
	return fosite.ErrInvalidRequest.WithHintf("The %q parameter was sent more than once.", repeated[0])
}

// checkTokenRequest refuses, before any client authentication, a token
// request with a repeated parameter or a grant type Gatehouse never offers
// (fosite reports the latter as a generic invalid_request).
func checkTokenRequest(r *http.Request) error {
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return fosite.ErrInvalidRequest.WithHint("The request body is not a valid form.").WithWrap(err)
	}
	if err := RepeatedParameter(r.PostForm); err != nil {
		return err
	}
	if grant := r.PostForm.Get("grant_type"); grant != "" && !slices.Contains(clients.SupportedGrantTypes, grant) {
		return fosite.ErrUnsupportedGrantType.WithHintf("The grant type %q is not supported.", grant)
	}
	return nil
}

// challengeBasic adds the HTTP authentication challenge RFC 6749 §5.2
// requires when a client that used HTTP Basic fails to authenticate
// (fosite's introspection calls that request_unauthorized).
func challengeBasic(w http.ResponseWriter, r *http.Request, err error) {
	_, _, basic := r.BasicAuth()
	if basic && (errors.Is(err, fosite.ErrInvalidClient) || errors.Is(err, fosite.ErrRequestUnauthorized)) {
		w.Header().Set("WWW-Authenticate", basicChallenge)
	}
}

const basicChallenge = `Basic realm="gatehouse", charset="UTF-8"`

// postOnly answers a method other than POST at a POST-only endpoint.
func postOnly(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "This endpoint accepts only POST."})
}

// authenticateClient is fosite's client authentication with its one loose
// end tied: an expired or not-yet-valid client_assertion comes back as a
// bare JWT validation error, which fosite would answer 500.
func authenticateClient(f *fosite.Fosite) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		client, err := f.DefaultClientAuthenticationStrategy(ctx, r, form)
		var rfc *fosite.RFC6749Error
		if err != nil && !errors.As(err, &rfc) && !store.Unavailable(err) {
			return nil, fosite.ErrInvalidClient.WithHint("The client_assertion is expired, not yet valid or otherwise unusable.").WithWrap(err)
		}
		return client, err
	}
}
