package clients

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// fakeStore is an in-memory Store; it hands out copies, like a database.
type fakeStore struct {
	mu      sync.Mutex
	clients map[string]Client
}

func newFakeStore() *fakeStore { return &fakeStore{clients: map[string]Client{}} }

func cloneClient(c Client) *Client {
	c.SecretHash = slices.Clone(c.SecretHash)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.ResponseTypes = slices.Clone(c.ResponseTypes)
	c.Scopes = slices.Clone(c.Scopes)
	return &c
}

func (f *fakeStore) CreateClient(_ context.Context, c *Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[c.ID]; ok {
		return store.ErrAlreadyExists
	}
	f.clients[c.ID] = *cloneClient(*c)
	return nil
}

func (f *fakeStore) GetClient(_ context.Context, id string) (*Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return cloneClient(c), nil
}

func (f *fakeStore) ListClients(context.Context) ([]Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Client
	for _, c := range f.clients {
		out = append(out, *cloneClient(c))
	}
	return out, nil
}

func (f *fakeStore) UpdateClient(_ context.Context, c *Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[c.ID]; !ok {
		return store.ErrNotFound
	}
	f.clients[c.ID] = *cloneClient(*c)
	return nil
}

func (f *fakeStore) DeleteClient(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[id]; !ok {
		return store.ErrNotFound
	}
	delete(f.clients, id)
	return nil
}

var testNow = time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)

func newTestService() (*Service, *fakeStore) {
	st := newFakeStore()
	s := NewService(st)
	s.now = func() time.Time { return testNow }
	return s, st
}

const testJWKS = `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`

func TestCreateConfidentialDefaults(t *testing.T) {
	ctx := context.Background()
	s, st := newTestService()
	c, secret, err := s.Create(ctx, Registration{Name: "  Grades  ", RedirectURIs: []string{"https://grades.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Grades" || c.Public || c.TokenEndpointAuthMethod != AuthSecretBasic || c.RequirePKCE {
		t.Errorf("client = %+v", c)
	}
	if len(c.ID) != 32 || secret == "" || !c.CreatedAt.Equal(testNow) || !c.UpdatedAt.Equal(testNow) {
		t.Errorf("id %q, secret %q, created %v", c.ID, secret, c.CreatedAt)
	}
	if !slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) ||
		!slices.Equal(c.Scopes, DefaultScopes) || !slices.Equal(c.ResponseTypes, []string{"code"}) {
		t.Errorf("defaults: grants %v scopes %v response types %v", c.GrantTypes, c.Scopes, c.ResponseTypes)
	}
	stored := st.clients[c.ID]
	if string(stored.SecretHash) != string(HashSecret(secret)) || !SecretMatches(stored.SecretHash, secret) {
		t.Error("the stored hash is not HashSecret(secret)")
	}
	if SecretMatches(stored.SecretHash, secret+"x") || SecretMatches(nil, secret) || SecretMatches(stored.SecretHash[:16], secret) {
		t.Error("SecretMatches accepted a wrong secret or hash")
	}
	if strings.Contains(string(stored.SecretHash), secret) {
		t.Error("the secret itself was stored")
	}
}

func TestCreatePublicDefaults(t *testing.T) {
	ctx := context.Background()
	s, st := newTestService()
	c, secret, err := s.Create(ctx, Registration{Name: "App", Public: true, RedirectURIs: []string{"com.example.app:/cb", "http://127.0.0.1/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || len(st.clients[c.ID].SecretHash) != 0 {
		t.Error("a public client got a secret")
	}
	if c.TokenEndpointAuthMethod != AuthNone || !c.RequirePKCE || !c.Public {
		t.Errorf("client = %+v", c)
	}
	if _, err := s.RotateSecret(ctx, c.ID); err == nil {
		t.Error("RotateSecret gave a public client a secret")
	}
}

func TestCreateClientCredentialsOnly(t *testing.T) {
	s, _ := newTestService()
	c, secret, err := s.Create(context.Background(), Registration{Name: "Sync job", GrantTypes: []string{"client_credentials"}})
	if err != nil || secret == "" || c.ResponseTypes != nil || len(c.RedirectURIs) != 0 {
		t.Fatalf("Create = %+v, %q, %v", c, secret, err)
	}
}

func TestGrantsAndScopesNormalized(t *testing.T) {
	s, _ := newTestService()
	c, _, err := s.Create(context.Background(), Registration{
		Name: "x", RedirectURIs: []string{"https://x.example/cb"},
		GrantTypes: []string{"refresh_token", "authorization_code", "refresh_token"},
		Scopes:     []string{"profile", "openid", "openid"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.GrantTypes, []string{"authorization_code", "refresh_token"}) || !slices.Equal(c.Scopes, []string{"openid", "profile"}) {
		t.Fatalf("grants %v scopes %v", c.GrantTypes, c.Scopes)
	}
}

func TestValidateRedirectURI(t *testing.T) {
	tests := []struct {
		uri          string
		confidential bool // accepted for a confidential client
		public       bool // accepted for a public client
	}{
		{"https://app.example/cb", true, true},
		{"https://app.example:8443/cb?x=1", true, true},
		{"HTTPS://App.Example/cb", true, true},
		{"http://localhost/cb", true, true},
		{"http://localhost:8080/cb", true, true},
		{"http://127.0.0.1/cb", true, true},
		{"http://127.0.0.1:53123/cb", true, true},
		{"http://127.1.2.3/cb", true, true},
		{"http://[::1]/cb", true, true},
		{"http://[::1]:8080/cb", true, true},
		{"http://app.example/cb", false, false},
		{"http://10.0.0.1/cb", false, false},
		{"http://localhost.evil.example/cb", false, false},
		{"http://127.0.0.1.nip.io/cb", false, false},
		{"https://app.example/cb#frag", false, false},
		{"https://app.example/cb#", false, false},
		{"https://*.app.example/cb", false, false},
		{"https://app.example/*", false, false},
		{"/cb", false, false},
		{"cb", false, false},
		{"//app.example/cb", false, false},
		{"", false, false},
		{"https://", false, false},
		{"https:///cb", false, false},
		{"https:opaque", false, false},
		{"com.example.app:/cb", false, true},
		{"com.example.app:/cb#x", false, false},
		{"myapp:/cb", false, false},
		{"javascript:alert(1)", false, false},
		{"ftp://app.example/cb", false, false},
		{"https://app.example/%zz", false, false},
		{"https://app example/cb", false, false},
	}
	for _, tt := range tests {
		for _, public := range []bool{false, true} {
			want := tt.confidential
			if public {
				want = tt.public
			}
			if err := ValidateRedirectURI(tt.uri, public); (err == nil) != want {
				t.Errorf("ValidateRedirectURI(%q, public=%v) = %v, want accepted=%v", tt.uri, public, err, want)
			}
		}
	}
}

func TestRegistrationValidation(t *testing.T) {
	good := func() Registration {
		return Registration{Name: "App", RedirectURIs: []string{"https://app.example/cb"}}
	}
	tests := []struct {
		name string
		edit func(*Registration)
		want string // substring of the ValidationError
	}{
		{"no name", func(r *Registration) { r.Name = "  " }, "name"},
		{"long name", func(r *Registration) { r.Name = strings.Repeat("n", 101) }, "name"},
		{"public client_credentials", func(r *Registration) {
			r.Public, r.GrantTypes = true, []string{"client_credentials"}
		}, "public client cannot use client_credentials"},
		{"unknown grant", func(r *Registration) { r.GrantTypes = []string{"password"} }, `grant type "password"`},
		{"implicit grant", func(r *Registration) { r.GrantTypes = []string{"implicit", "authorization_code"} }, `grant type "implicit"`},
		{"unknown scope", func(r *Registration) { r.Scopes = []string{"openid", "admin"} }, `scope "admin"`},
		{"unknown method", func(r *Registration) { r.TokenEndpointAuthMethod = "tls_client_auth" }, "tls_client_auth"},
		{"confidential with none", func(r *Registration) { r.TokenEndpointAuthMethod = AuthNone }, "only they"},
		{"public with secret", func(r *Registration) {
			r.Public, r.TokenEndpointAuthMethod = true, AuthSecretPost
		}, "only they"},
		{"private_key_jwt without JWKS", func(r *Registration) { r.TokenEndpointAuthMethod = AuthPrivateKeyJWT }, "needs a JWKS"},
		{"private_key_jwt with both", func(r *Registration) {
			r.TokenEndpointAuthMethod, r.JWKSURI, r.JWKS = AuthPrivateKeyJWT, "https://app.example/jwks", testJWKS
		}, "not both"},
		{"private_key_jwt http JWKS URL", func(r *Registration) {
			r.TokenEndpointAuthMethod, r.JWKSURI = AuthPrivateKeyJWT, "http://app.example/jwks"
		}, "https URL"},
		{"private_key_jwt empty JWKS", func(r *Registration) {
			r.TokenEndpointAuthMethod, r.JWKS = AuthPrivateKeyJWT, `{"keys":[]}`
		}, "at least one key"},
		{"private_key_jwt bad JWKS", func(r *Registration) {
			r.TokenEndpointAuthMethod, r.JWKS = AuthPrivateKeyJWT, `not json`
		}, "at least one key"},
		{"JWKS without private_key_jwt", func(r *Registration) { r.JWKS = testJWKS }, "only used with"},
		{"unknown ID token algorithm", func(r *Registration) { r.IDTokenSigningAlg = "HS256" }, `ID token signing algorithm "HS256"`},
		{"no redirect URI", func(r *Registration) { r.RedirectURIs = nil }, "at least one redirect URI"},
		{"bad redirect URI", func(r *Registration) { r.RedirectURIs = []string{"http://app.example/cb"} }, "redirect URI"},
		{"bad post-logout URI", func(r *Registration) { r.PostLogoutRedirectURIs = []string{"https://x.example/#f"} }, "post-logout redirect URI"},
		{"unknown ACR", func(r *Registration) { r.RequiredACR = "gold" }, `"gold"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newTestService()
			r := good()
			tt.edit(&r)
			_, _, err := s.Create(context.Background(), r)
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a ValidationError mentioning %q", err, tt.want)
			}
			if len(st.clients) != 0 {
				t.Fatal("a refused client was stored")
			}
		})
	}
}

func TestRegistrationValidationAccepts(t *testing.T) {
	tests := []struct {
		name string
		r    Registration
	}{
		{"private_key_jwt inline", Registration{Name: "a", RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: AuthPrivateKeyJWT, JWKS: testJWKS}},
		{"private_key_jwt URL", Registration{Name: "a", RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: AuthPrivateKeyJWT, JWKSURI: "https://a.example/jwks"}},
		{"private_key_jwt loopback URL", Registration{Name: "a", RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: AuthPrivateKeyJWT, JWKSURI: "http://127.0.0.1:9/jwks"}},
		{"secret_post with ACR", Registration{Name: "a", RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: AuthSecretPost, RequiredACR: assurance.MFA}},
	}
	for _, tt := range tests {
		s, _ := newTestService()
		c, secret, err := s.Create(context.Background(), tt.r)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		wantSecret := c.TokenEndpointAuthMethod == AuthSecretPost
		if (secret != "") != wantSecret || (len(c.SecretHash) != 0) != wantSecret {
			t.Errorf("%s: secret %q, hash %x", tt.name, secret, c.SecretHash)
		}
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	s, _ := newTestService()
	_, _, err := s.Create(context.Background(), Registration{
		Public: true, GrantTypes: []string{"client_credentials", "password"}, Scopes: []string{"admin"},
		RedirectURIs: []string{"http://app.example/cb"}, RequiredACR: "gold",
	})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"name", `"password"`, "client_credentials", `"admin"`, "redirect URI", `"gold"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems %q lack %q", ve.Problems, want)
		}
	}
	if len(ve.Problems) < 6 {
		t.Errorf("%d problems reported, want at least 6: %q", len(ve.Problems), ve.Problems)
	}
}

func TestRotateSecret(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService()
	c, old, err := s.Create(ctx, Registration{Name: "App", RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	later := testNow.Add(time.Hour)
	s.now = func() time.Time { return later }
	fresh, err := s.RotateSecret(ctx, c.ID)
	if err != nil || fresh == "" || fresh == old {
		t.Fatalf("RotateSecret = %q, %v", fresh, err)
	}
	got, _ := s.Get(ctx, c.ID)
	if SecretMatches(got.SecretHash, old) {
		t.Error("the old secret still works")
	}
	if !SecretMatches(got.SecretHash, fresh) || !got.UpdatedAt.Equal(later) {
		t.Error("the new secret does not work")
	}
	if _, err := s.RotateSecret(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RotateSecret(missing) = %v", err)
	}
}

func TestUpdateSecretHandling(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService()
	c, secret, err := s.Create(ctx, Registration{Name: "App", RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}

	// Staying secret-based keeps the secret.
	r := c.Registration()
	r.Description = "changed"
	r.TokenEndpointAuthMethod = AuthSecretPost
	u, again, err := s.Update(ctx, c.ID, r)
	if err != nil || again != "" || !SecretMatches(u.SecretHash, secret) || u.Description != "changed" {
		t.Fatalf("Update = %+v, %q, %v", u, again, err)
	}

	// Moving to private_key_jwt clears the secret.
	r.TokenEndpointAuthMethod, r.JWKS = AuthPrivateKeyJWT, testJWKS
	u, again, err = s.Update(ctx, c.ID, r)
	if err != nil || again != "" || u.SecretHash != nil {
		t.Fatalf("to private_key_jwt = %x, %q, %v", u.SecretHash, again, err)
	}
	if got, _ := s.Get(ctx, c.ID); got.SecretHash != nil || SecretMatches(got.SecretHash, secret) {
		t.Fatal("stored secret hash survived a move to private_key_jwt")
	}

	// And back to a secret method issues a fresh one.
	r.TokenEndpointAuthMethod, r.JWKS = AuthSecretBasic, ""
	u, fresh, err := s.Update(ctx, c.ID, r)
	if err != nil || fresh == "" || fresh == secret || !SecretMatches(u.SecretHash, fresh) {
		t.Fatalf("back to secret = %q, %v", fresh, err)
	}

	// Becoming public clears it too.
	r.Public, r.TokenEndpointAuthMethod, r.RedirectURIs = true, "", []string{"com.example.app:/cb"}
	u, _, err = s.Update(ctx, c.ID, r)
	if err != nil || u.SecretHash != nil || !u.RequirePKCE || u.TokenEndpointAuthMethod != AuthNone {
		t.Fatalf("to public = %+v, %v", u, err)
	}
}

func TestUpdateInvalidChangesNothing(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService()
	c, _, err := s.Create(ctx, Registration{Name: "App", RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Registration()
	r.RedirectURIs = []string{"https://app.example/*"}
	if _, _, err := s.Update(ctx, c.ID, r); err == nil {
		t.Fatal("an invalid update was accepted")
	}
	got, _ := s.Get(ctx, c.ID)
	if !slices.Equal(got.RedirectURIs, c.RedirectURIs) {
		t.Fatalf("redirect URIs became %v", got.RedirectURIs)
	}
	if _, _, err := s.Update(ctx, "missing", r); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update(missing) = %v", err)
	}
}

func TestSetDisabledAndDelete(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService()
	c, _, err := s.Create(ctx, Registration{Name: "App", RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, c.ID); !got.Disabled {
		t.Fatal("not disabled")
	}
	if list, _ := s.List(ctx); len(list) != 1 {
		t.Fatalf("List = %d clients", len(list))
	}
	if err := s.Delete(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete = %v", err)
	}
}

func TestACRRank(t *testing.T) {
	if !(assurance.Rank("") < assurance.Rank(assurance.Password) && assurance.Rank(assurance.Password) < assurance.Rank(assurance.MFA)) || assurance.Rank("gold") != 0 {
		t.Fatal("ACR ladder out of order")
	}
}

func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{
		"https://app.example/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost/cb",
		"com.example.app:/cb", "https://app.example/cb#x", "https://*.example/cb", "/relative", "https:opaque",
		"http://[::ffff:127.0.0.1]/cb", "https://app.example/%2A",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, public bool) {
		if ValidateRedirectURI(raw, public) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() {
			t.Fatalf("accepted %q, which is not an absolute URI (%v)", raw, err)
		}
		if u.Fragment != "" || strings.ContainsAny(raw, "#*") {
			t.Fatalf("accepted %q with a fragment or wildcard", raw)
		}
		switch u.Scheme {
		case "https":
			if u.Host == "" {
				t.Fatalf("accepted https URI %q without a host", raw)
			}
		case "http":
			if !isLoopback(u.Hostname()) {
				t.Fatalf("accepted non-loopback http URI %q", raw)
			}
		default:
			if !public {
				t.Fatalf("accepted private-use scheme %q for a confidential client", raw)
			}
		}
	})
}

// TestAdminScopesNeedClientCredentialsAlone: an admin scope is the
// client's own right, so only a confidential client that no person signs
// in through may hold one.
func TestAdminScopesNeedClientCredentialsAlone(t *testing.T) {
	s, _ := newTestService()
	ctx := context.Background()
	for name, r := range map[string]Registration{
		"authorization_code": {Name: "Gradebook", RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid", assurance.ScopeUsersRead}},
		"beside client_credentials": {Name: "Mixed", RedirectURIs: []string{"https://app.example/cb"},
			GrantTypes: []string{"client_credentials", "authorization_code"}, Scopes: []string{assurance.ScopeClients}},
		"public": {Name: "SPA", Public: true, RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{assurance.ScopeAuditRead}},
	} {
		var ve *ValidationError
		if _, _, err := s.Create(ctx, r); !errors.As(err, &ve) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := s.Create(ctx, Registration{Name: "SIS sync", GrantTypes: []string{"client_credentials"},
		Scopes: []string{assurance.ScopeUsersImport, assurance.ScopeUsersRead}}); err != nil {
		t.Fatal(err)
	}
}

// TestRotateSecretOverlap: the replaced secret is kept, hashed, for the
// overlap and no longer; a second rotation replaces it rather than keeping
// two; without an overlap nothing is kept.
func TestRotateSecretOverlap(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService()
	s.SecretOverlap = 24 * time.Hour
	c, first, err := s.Create(ctx, Registration{Name: "App", RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateSecret(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, c.ID)
	if !SecretMatches(got.PreviousSecretHash, first) || !got.PreviousSecretExpiresAt.Equal(testNow.Add(24*time.Hour)) {
		t.Fatalf("previous secret kept as %x until %s", got.PreviousSecretHash, got.PreviousSecretExpiresAt)
	}
	if !got.PreviousSecretValid(testNow.Add(23*time.Hour)) || got.PreviousSecretValid(testNow.Add(24*time.Hour)) {
		t.Fatal("the previous secret's overlap is not 24 hours")
	}
	second := got.SecretHash
	if _, err := s.RotateSecret(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Get(ctx, c.ID); !slices.Equal(got.PreviousSecretHash, second) {
		t.Fatal("a second rotation kept the first secret")
	}
	s.SecretOverlap = 0
	if _, err := s.RotateSecret(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Get(ctx, c.ID); got.PreviousSecretHash != nil || got.PreviousSecretValid(testNow) {
		t.Fatal("a rotation without overlap kept the old secret")
	}
}
