// Package clients owns the applications registered to sign users in.
package clients

import (
	"context"
	"time"
)

// Token endpoint authentication methods.
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthNone          = "none"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// Client is a registered relying party.
type Client struct {
	ID          string
	Name        string
	Description string
	SecretHash  []byte // SHA-256 of a generated 256-bit secret; empty for public clients
	// PreviousSecretHash is the secret a rotation replaced, hashed alike; it
	// keeps working until PreviousSecretExpiresAt.
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt time.Time
	Public                  bool
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	GrantTypes              []string
	ResponseTypes           []string
	Scopes                  []string
	TokenEndpointAuthMethod string
	JWKSURI                 string
	JWKS                    string // inline JWKS document for private_key_jwt
	RequirePKCE             bool
	RequireConsent          bool
	RequiredACR             string // the lowest assurance level whose tokens this client accepts
	IDTokenSigningAlg       string // id_token_signed_response_alg; empty: the server's default (keys.algorithm)
	// MayIntrospect lets the client introspect tokens issued to other
	// clients: for APIs (resource servers) that check apps' tokens.
	MayIntrospect bool
	Disabled      bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// PreviousSecretValid reports whether the rotated-out secret still works at now.
func (c *Client) PreviousSecretValid(now time.Time) bool {
	return len(c.PreviousSecretHash) > 0 && now.Before(c.PreviousSecretExpiresAt)
}

// Store is what the clients package needs from persistent storage.
type Store interface {
	CreateClient(ctx context.Context, c *Client) error // store.ErrAlreadyExists on a taken ID
	GetClient(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	UpdateClient(ctx context.Context, c *Client) error
	DeleteClient(ctx context.Context, id string) error
}
