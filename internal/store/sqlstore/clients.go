package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
)

type clientRow struct {
	ID                      string     `gorm:"column:id;primaryKey"`
	Name                    string     `gorm:"column:name"`
	Description             string     `gorm:"column:description"`
	SecretHash              []byte     `gorm:"column:secret_hash"`
	PreviousSecretHash      []byte     `gorm:"column:previous_secret_hash"`
	PreviousSecretExpiresAt *time.Time `gorm:"column:previous_secret_expires_at"`
	Public                  bool       `gorm:"column:public"`
	RedirectURIs            stringList `gorm:"column:redirect_uris"`
	PostLogoutRedirectURIs  stringList `gorm:"column:post_logout_redirect_uris"`
	GrantTypes              stringList `gorm:"column:grant_types"`
	ResponseTypes           stringList `gorm:"column:response_types"`
	Scopes                  stringList `gorm:"column:scopes"`
	TokenEndpointAuthMethod string     `gorm:"column:token_endpoint_auth_method"`
	JWKSURI                 string     `gorm:"column:jwks_uri"`
	JWKS                    string     `gorm:"column:jwks"`
	RequirePKCE             bool       `gorm:"column:require_pkce"`
	RequireConsent          bool       `gorm:"column:require_consent"`
	RequiredACR             string     `gorm:"column:required_acr"`
	IDTokenSigningAlg       string     `gorm:"column:id_token_signed_response_alg"`
	MayIntrospect           bool       `gorm:"column:may_introspect"`
	Disabled                bool       `gorm:"column:disabled"`
	CreatedAt               time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt               time.Time  `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (clientRow) TableName() string { return "clients" }

func toClientRow(c *clients.Client) clientRow {
	var previousUntil *time.Time
	if !c.PreviousSecretExpiresAt.IsZero() {
		t := c.PreviousSecretExpiresAt.UTC()
		previousUntil = &t
	}
	return clientRow{
		PreviousSecretHash: nilIfEmpty(c.PreviousSecretHash), PreviousSecretExpiresAt: previousUntil,
		ID: c.ID, Name: c.Name, Description: c.Description, SecretHash: nilIfEmpty(c.SecretHash),
		Public: c.Public, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.GrantTypes, ResponseTypes: c.ResponseTypes, Scopes: c.Scopes,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, JWKSURI: c.JWKSURI, JWKS: c.JWKS,
		RequirePKCE: c.RequirePKCE, RequireConsent: c.RequireConsent, RequiredACR: c.RequiredACR,
		IDTokenSigningAlg: c.IDTokenSigningAlg, MayIntrospect: c.MayIntrospect, Disabled: c.Disabled, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func (r *clientRow) client() clients.Client {
	var previousUntil time.Time
	if r.PreviousSecretExpiresAt != nil {
		previousUntil = r.PreviousSecretExpiresAt.UTC()
	}
	return clients.Client{
		PreviousSecretHash: nilIfEmpty(r.PreviousSecretHash), PreviousSecretExpiresAt: previousUntil,
		ID: r.ID, Name: r.Name, Description: r.Description, SecretHash: nilIfEmpty(r.SecretHash),
		Public: r.Public, RedirectURIs: r.RedirectURIs, PostLogoutRedirectURIs: r.PostLogoutRedirectURIs,
		GrantTypes: r.GrantTypes, ResponseTypes: r.ResponseTypes, Scopes: r.Scopes,
		TokenEndpointAuthMethod: r.TokenEndpointAuthMethod, JWKSURI: r.JWKSURI, JWKS: r.JWKS,
		RequirePKCE: r.RequirePKCE, RequireConsent: r.RequireConsent, RequiredACR: r.RequiredACR,
		IDTokenSigningAlg: r.IDTokenSigningAlg, MayIntrospect: r.MayIntrospect, Disabled: r.Disabled, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// nilIfEmpty stores a public client's missing secret as NULL and reads it
// back as nil on both dialects.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// CreateClient inserts c.
func (d *DB) CreateClient(ctx context.Context, c *clients.Client) error {
	stampNew(&c.CreatedAt, &c.UpdatedAt)
	row := toClientRow(c)
	return wrap(d.db.WithContext(ctx).Create(&row).Error, "create client %q", c.ID)
}

func (d *DB) GetClient(ctx context.Context, id string) (*clients.Client, error) {
	var row clientRow
	if err := d.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return nil, wrap(err, "get client %q", id)
	}
	c := row.client()
	return &c, nil
}

// ListClients returns every client ordered by ID.
func (d *DB) ListClients(ctx context.Context) ([]clients.Client, error) {
	var rows []clientRow
	if err := d.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list clients")
	}
	out := make([]clients.Client, len(rows))
	for i := range rows {
		out[i] = rows[i].client()
	}
	return out, nil
}

// UpdateClient writes every field but ID and CreatedAt.
func (d *DB) UpdateClient(ctx context.Context, c *clients.Client) error {
	c.UpdatedAt = stamp(c.UpdatedAt)
	row := toClientRow(c)
	res := d.db.WithContext(ctx).Model(&clientRow{}).Where("id = ?", c.ID).
		Select("*").Omit("id", "created_at").Updates(&row)
	return affected(res, "update client %q", c.ID)
}

func (d *DB) DeleteClient(ctx context.Context, id string) error {
	return affected(d.db.WithContext(ctx).Where("id = ?", id).Delete(&clientRow{}), "delete client %q", id)
}
