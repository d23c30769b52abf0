package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/store"
)

func newClient(id string) clients.Client {
	return clients.Client{
		ID: id, Name: "App " + id, Description: "a test client",
		SecretHash:              []byte{0, 1, 2, 0xff},
		RedirectURIs:            []string{"https://app.example/cb", "https://app.example/cb2"},
		PostLogoutRedirectURIs:  []string{"https://app.example/"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email"},
		TokenEndpointAuthMethod: clients.AuthSecretBasic,
		JWKSURI:                 "https://app.example/jwks", JWKS: `{"keys":[]}`,
		RequirePKCE: true, RequireConsent: true, RequiredACR: "mfa",
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func testClientCRUD(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)

	c := newClient("b-confidential")
	if err := db.CreateClient(ctx, &c); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, *got, c)

	// A public client: no secret, empty lists, zero stamps filled in.
	pub := clients.Client{ID: "a-public", Public: true, TokenEndpointAuthMethod: clients.AuthNone}
	if err := db.CreateClient(ctx, &pub); err != nil {
		t.Fatal(err)
	}
	if pub.CreatedAt.IsZero() || !pub.UpdatedAt.Equal(pub.CreatedAt) {
		t.Fatalf("stamps not filled: %v %v", pub.CreatedAt, pub.UpdatedAt)
	}
	got, err = db.GetClient(ctx, pub.ID)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, *got, pub)

	list, err := db.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, list, []clients.Client{pub, c})

	// Update writes every field but ID and CreatedAt, including zero values.
	created := c.CreatedAt
	c.Name, c.Description, c.SecretHash, c.Public = "Renamed", "", nil, true
	c.RedirectURIs, c.Scopes, c.RequirePKCE, c.RequireConsent, c.Disabled = []string{"https://new.example/cb"}, nil, false, false, true
	c.CreatedAt, c.UpdatedAt = t0.Add(time.Hour), t0.Add(time.Hour)
	if err := db.UpdateClient(ctx, &c); err != nil {
		t.Fatal(err)
	}
	c.CreatedAt = created
	got, _ = db.GetClient(ctx, c.ID)
	mustEqual(t, *got, c)

	if err := db.DeleteClient(ctx, pub.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.ListClients(ctx); len(list) != 1 {
		t.Fatalf("%d clients after delete, want 1", len(list))
	}
}

func testClientErrors(t *testing.T, b Backend) {
	ctx := t.Context()
	db := b.New(t)
	c := newClient("app")
	if err := db.CreateClient(ctx, &c); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"create taken ID", func() error { d := newClient("app"); return db.CreateClient(ctx, &d) }, store.ErrAlreadyExists},
		{"get missing", func() error { _, err := db.GetClient(ctx, "nope"); return err }, store.ErrNotFound},
		{"update missing", func() error { d := newClient("nope"); return db.UpdateClient(ctx, &d) }, store.ErrNotFound},
		{"delete missing", func() error { return db.DeleteClient(ctx, "nope") }, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustIs(t, tt.run(), tt.want) })
	}
	list, err := db.ListClients(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListClients = %d clients, %v", len(list), err)
	}
}
