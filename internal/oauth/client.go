package oauth

import (
	"encoding/json"
	"strings"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/clients"
)

// Client adapts a registered client to fosite's client interfaces. fosite
// declares its JWKS type with go-jose v3, so inline JWKS are parsed with it.
type Client struct {
	*clients.Client
	jwks *josev3.JSONWebKeySet
}

var (
	_ fosite.Client                   = (*Client)(nil)
	_ fosite.ClientWithSecretRotation = (*Client)(nil)
	_ fosite.OpenIDConnectClient      = (*Client)(nil)
	_ fosite.ResponseModeClient       = (*Client)(nil)
)

func newClient(c *clients.Client) (*Client, error) {
	out := &Client{Client: c}
	if c.JWKS != "" {
		out.jwks = new(josev3.JSONWebKeySet)
		if err := json.Unmarshal([]byte(c.JWKS), out.jwks); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *Client) GetID() string             { return c.ID }
func (c *Client) GetHashedSecret() []byte   { return c.SecretHash }
func (c *Client) GetRedirectURIs() []string { return c.RedirectURIs }

// GetRotatedHashes offers fosite the secret a rotation replaced while its
// overlap lasts; fosite compares it like the current one (secretHasher).
func (c *Client) GetRotatedHashes() [][]byte {
	if c.PreviousSecretValid(time.Now()) {
		return [][]byte{c.PreviousSecretHash}
	}
	return nil
}
func (c *Client) GetGrantTypes() fosite.Arguments { return c.GrantTypes }
func (c *Client) GetResponseTypes() fosite.Arguments {
	return c.ResponseTypes
}
func (c *Client) GetScopes() fosite.Arguments   { return fosite.Arguments(c.Scopes) }
func (c *Client) IsPublic() bool                { return c.Public }
func (c *Client) GetAudience() fosite.Arguments { return nil }

func (c *Client) GetJSONWebKeysURI() string                { return c.JWKSURI }
func (c *Client) GetJSONWebKeys() *josev3.JSONWebKeySet    { return c.jwks }
func (c *Client) GetTokenEndpointAuthMethod() string       { return c.TokenEndpointAuthMethod }
func (c *Client) GetRequestURIs() []string                 { return nil }
func (c *Client) GetRequestObjectSigningAlgorithm() string { return "" }

// GetTokenEndpointAuthSigningAlgorithm accepts the algorithms a district's
// apps commonly hold keys for; fosite checks the assertion's alg against it.
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.jwks != nil && len(c.jwks.Keys) > 0 && strings.HasPrefix(c.jwks.Keys[0].Algorithm, "ES") {
		return c.jwks.Keys[0].Algorithm
	}
	return "RS256"
}

// GetResponseModes allows the query string and form_post (OAuth 2.0 Form
// Post Response Mode), never the fragment: the code flow needs no more.
func (c *Client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery, fosite.ResponseModeFormPost}
}
