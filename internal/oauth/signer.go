package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/internal/keys"
)

// signer signs with whichever key of the token's algorithm (chosen by
// idTokenStrategy; the default otherwise) the key manager says is active now
// and stamps its kid, so a rotation takes effect without rebuilding fosite.
type signer struct{ keys *keys.Manager }

var _ jwt.Signer = (*signer)(nil)

type algKey struct{}

func (s *signer) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	alg, _ := ctx.Value(algKey{}).(string)
	k, err := s.keys.Signing(alg)
	if err != nil {
		return "", "", err
	}
	h := &jwt.Headers{Extra: map[string]any{}}
	for k, v := range header.ToMap() {
		h.Extra[k] = v
	}
	h.Extra["kid"] = k.ID
	// The key's type sets the alg header.
	d := &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return k.Private, nil }}
	return d.Generate(ctx, claims, h)
}

// idTokenStrategy signs each client's ID tokens with the algorithm it
// registered (OpenID Connect Registration's id_token_signed_response_alg),
// looked up at every issue so a change applies to the next refresh.
type idTokenStrategy struct {
	openid.DefaultStrategy
	defaultAlg string
}

func (s *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester) (string, error) {
	alg := s.defaultAlg
	if c, ok := r.GetClient().(*Client); ok && c.IDTokenSigningAlg != "" {
		alg = c.IDTokenSigningAlg
	}
	// fosite picks the at_hash function from the session's alg header.
	if sess, ok := r.GetSession().(openid.Session); ok {
		sess.IDTokenHeaders().Add("alg", alg)
	}
	return s.DefaultStrategy.GenerateIDToken(context.WithValue(ctx, algKey{}, alg), lifespan, r)
}

// Decode verifies a token signed by any published key (for id_token_hint).
func (s *signer) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	return jwt.Parse(token, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, err := s.keys.PublicKey(ctx, kid)
		if err != nil {
			return nil, err
		}
		switch pub.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			return pub, nil
		}
		return nil, errors.New("unsupported key type")
	})
}

func (s *signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

func (s *signer) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("malformed token")
	}
	return parts[2], nil
}

func (s *signer) Hash(ctx context.Context, in []byte) ([]byte, error) {
	return (&jwt.DefaultSigner{}).Hash(ctx, in)
}

func (s *signer) GetSigningMethodLength(ctx context.Context) int {
	return (&jwt.DefaultSigner{}).GetSigningMethodLength(ctx)
}
