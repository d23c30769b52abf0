package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"strings"

	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/internal/keys"
)

// signer signs with whichever key the key manager says is active now and
// stamps its kid, so a rotation takes effect without rebuilding fosite.
type signer struct{ keys *keys.Manager }

var _ jwt.Signer = (*signer)(nil)

func (s *signer) current() (*jwt.DefaultSigner, string, error) {
	k, err := s.keys.Signing()
	if err != nil {
		return nil, "", err
	}
	return &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return k.Private, nil }}, k.ID, nil
}

func (s *signer) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	d, kid, err := s.current()
	if err != nil {
		return "", "", err
	}
	h := &jwt.Headers{Extra: map[string]any{}}
	for k, v := range header.ToMap() {
		h.Extra[k] = v
	}
	h.Extra["kid"] = kid
	return d.Generate(ctx, claims, h)
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
