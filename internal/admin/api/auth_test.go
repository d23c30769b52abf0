package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// fixedToken answers every introspection with one grant.
type fixedToken struct {
	subject string
	scopes  []string
}

func (f fixedToken) IntrospectToken(context.Context, string, fosite.TokenUse, fosite.Session, ...string) (fosite.TokenUse, fosite.AccessRequester, error) {
	s := oauth.NewSession()
	s.Subject = f.subject
	ar := fosite.NewAccessRequest(s)
	ar.Client = &fosite.DefaultClient{ID: "sync", Scopes: append([]string{"openid"}, assurance.AdminScopes...)}
	for _, sc := range f.scopes {
		ar.GrantScope(sc)
	}
	return fosite.AccessToken, ar, nil
}

// TestAuthorizedOnlyClientTokens: a token issued to a person is refused
// whatever scopes it carries; a client's token acts with exactly its
// granted admin scopes, and none other.
func TestAuthorizedOnlyClientTokens(t *testing.T) {
	var got *admin.Actor
	h := func(_ http.ResponseWriter, _ *http.Request, a admin.Actor) { got = &a }
	call := func(tok fixedToken) int {
		got = nil
		a := &API{Tokens: tok}
		req := httptest.NewRequest("GET", "/admin/api/v1/users", nil)
		req.Header.Set("Authorization", "Bearer x")
		rec := httptest.NewRecorder()
		a.authorized(assurance.ScopeUsersRead, h)(rec, req)
		return rec.Code
	}
	if code := call(fixedToken{subject: "a-person", scopes: []string{assurance.ScopeUsersRead}}); code != http.StatusForbidden || got != nil {
		t.Errorf("a person's token: %d, acted as %+v", code, got)
	}
	if code := call(fixedToken{scopes: []string{assurance.ScopeUsersImport}}); code != http.StatusForbidden || got != nil {
		t.Errorf("a token without the route's scope: %d, acted as %+v", code, got)
	}
	call(fixedToken{scopes: []string{"openid", assurance.ScopeUsersRead, assurance.ScopeUsersImport}})
	if got == nil || len(got.Roles) != 0 || len(got.Scopes) != 2 || got.ID != "client:sync" {
		t.Errorf("a client's token acted as %+v", got)
	}
}
