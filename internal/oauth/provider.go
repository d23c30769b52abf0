package oauth

import (
	"context"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/keys"
)

// Endpoint paths, relative to the issuer.
const (
	PathAuthorize  = "/oauth2/authorize"
	PathToken      = "/oauth2/token"
	PathUserinfo   = "/oauth2/userinfo"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathLogout     = "/oauth2/logout"
	PathJWKS       = "/.well-known/jwks.json"
	PathDiscovery  = "/.well-known/openid-configuration"
)

// Lifetimes of what the provider issues.
type Lifetimes struct {
	AuthorizationCode, AccessToken, IDToken, RefreshToken time.Duration
}

// Options configure the provider.
type Options struct {
	Issuer    string
	HMACKey   []byte // 32 bytes, shared by every replica so opaque tokens verify anywhere
	Lifetimes Lifetimes
	Debug     bool // send fosite's debug detail to clients (development only)
}

// NewProvider composes fosite with exactly the handlers Gatehouse offers:
// code flow with PKCE, refresh with rotation, client credentials, OpenID
// Connect, introspection and revocation. No implicit or password grants.
func NewProvider(opt Options, st *Storage, km *keys.Manager) fosite.OAuth2Provider {
	cfg := &fosite.Config{
		IDTokenIssuer:                  opt.Issuer,
		AccessTokenIssuer:              opt.Issuer,
		TokenURL:                       opt.Issuer + PathToken,
		GlobalSecret:                   opt.HMACKey,
		AuthorizeCodeLifespan:          opt.Lifetimes.AuthorizationCode,
		AccessTokenLifespan:            opt.Lifetimes.AccessToken,
		IDTokenLifespan:                opt.Lifetimes.IDToken,
		RefreshTokenLifespan:           opt.Lifetimes.RefreshToken,
		RefreshTokenScopes:             []string{"offline_access"},
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AllowedPromptValues:            []string{"login", "none", "consent"},
		SendDebugMessagesToClients:     opt.Debug,
		ClientSecretsHasher:            secretHasher{},
		MinParameterEntropy:            fosite.MinParameterEntropy,
		FormPostHTMLTemplate:           FormPostTemplate,
	}
	sig := &signer{keys: km}
	strategy := &compose.CommonStrategy{
		CoreStrategy:               compose.NewOAuth2HMACStrategy(cfg),
		OpenIDConnectTokenStrategy: &idTokenStrategy{DefaultStrategy: openid.DefaultStrategy{Signer: sig, Config: cfg}, defaultAlg: km.DefaultAlgorithm()},
		Signer:                     sig,
	}
	provider := compose.Compose(cfg, st, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
	)
	cfg.ClientAuthenticationStrategy = authenticateClient(provider.(*fosite.Fosite))
	return provider
}

// secretHasher checks client secrets as clients.HashSecret stored them.
type secretHasher struct{}

func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if !clients.SecretMatches(hash, string(data)) {
		return fosite.ErrRequestUnauthorized
	}
	return nil
}

func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return clients.HashSecret(string(data)), nil
}
