package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/pkg/adminapi"
)

// TestClientCallsEveryRoute: pkg/adminapi's Client has a method for every
// route, sends the body the document names with only the query parameters
// it documents, and the document lists them all.
func TestClientCallsEveryRoute(t *testing.T) {
	doc := loadDocument(t)
	var mu sync.Mutex
	called := map[string]bool{}
	mux := http.NewServeMux()
	record := func(w http.ResponseWriter, r *http.Request) {
		pattern := r.Method + " " + strings.TrimPrefix(r.Pattern, r.Method+" "+Prefix)
		mu.Lock()
		called[pattern] = true
		mu.Unlock()
		method, path, _ := strings.Cut(pattern, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		for name := range r.URL.Query() {
			if !slices.Contains(op.Parameters, parameter{Name: name, In: "query"}) {
				t.Errorf("%s: the client sends the undocumented parameter %s", pattern, name)
			}
		}
		if body := exchanges[pattern].body; body != "" && body != "csv" {
			dec := json.NewDecoder(r.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(reflect.New(wireTypes[body]).Interface()); err != nil {
				t.Errorf("%s: the client's body is no %s: %v", pattern, body, err)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	}
	for _, rt := range adminapi.Routes() {
		mux.HandleFunc(rt.Method+" "+Prefix+rt.Path, record)
	}
	mux.HandleFunc("GET "+Prefix+"/openapi.json", record)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := &adminapi.Client{BaseURL: srv.URL, HTTPClient: srv.Client()}
	ctx := t.Context()
	name := "Library"
	calls := []func(context.Context) error{
		func(ctx context.Context) error { _, err := c.ListClients(ctx); return err },
		func(ctx context.Context) error {
			_, err := c.CreateClient(ctx, adminapi.ApplicationInput{Name: &name})
			return err
		},
		func(ctx context.Context) error { _, err := c.GetClient(ctx, "lib"); return err },
		func(ctx context.Context) error {
			_, err := c.UpdateClient(ctx, "lib", adminapi.ApplicationInput{JWKS: new(json.RawMessage(`{"keys":[]}`))})
			return err
		},
		func(ctx context.Context) error { return c.DeleteClient(ctx, "lib") },
		func(ctx context.Context) error { _, err := c.RotateClientSecret(ctx, "lib"); return err },
		func(ctx context.Context) error { return c.DisableClient(ctx, "lib") },
		func(ctx context.Context) error { return c.EnableClient(ctx, "lib") },
		func(ctx context.Context) error {
			_, err := c.ListUsers(ctx, adminapi.UserQuery{Search: "kid", Limit: 10, Offset: 10})
			return err
		},
		func(ctx context.Context) error {
			_, err := c.CreateUser(ctx, adminapi.UserInput{Username: "kid", Roles: []string{"helpdesk"}, MustChangePassword: true})
			return err
		},
		func(ctx context.Context) error {
			_, err := c.ImportUsers(ctx, strings.NewReader("username\nkid\n"), adminapi.ImportOptions{DryRun: true, ContinueOnError: true, ResetPasswords: true})
			return err
		},
		func(ctx context.Context) error { _, err := c.GetUser(ctx, "kid"); return err },
		func(ctx context.Context) error { return c.DeleteUser(ctx, "kid") },
		func(ctx context.Context) error { _, err := c.SetRoles(ctx, "kid", nil); return err },
		func(ctx context.Context) error { _, err := c.SetGroups(ctx, "kid", []string{"staff"}); return err },
		func(ctx context.Context) error { _, err := c.UserPolicy(ctx, "kid"); return err },
		func(ctx context.Context) error { return c.DisableUser(ctx, "kid") },
		func(ctx context.Context) error { return c.EnableUser(ctx, "kid") },
		func(ctx context.Context) error { _, err := c.ResetPassword(ctx, "kid"); return err },
		func(ctx context.Context) error { return c.ResetMethods(ctx, "kid") },
		func(ctx context.Context) error { return c.RevokeSessions(ctx, "kid") },
		func(ctx context.Context) error { return c.Unlock(ctx, "kid") },
		func(ctx context.Context) error { _, err := c.IssueAccessCode(ctx, "kid"); return err },
		func(ctx context.Context) error {
			_, err := c.ListAudit(ctx, adminapi.AuditQuery{User: "u1", Type: "user.disabled", Since: time.Now().Add(-time.Hour), Until: time.Now(), Limit: 5})
			return err
		},
		func(ctx context.Context) error { return c.ExportAudit(ctx, adminapi.AuditQuery{}, &bytes.Buffer{}) },
		func(ctx context.Context) error { _, err := c.ListPolicies(ctx); return err },
		func(ctx context.Context) error {
			_, err := c.SavePolicy(ctx, "staff", adminapi.PolicyInput{Priority: 1, Groups: []string{"staff"}})
			return err
		},
		func(ctx context.Context) error { return c.DeletePolicy(ctx, "staff") },
		func(ctx context.Context) error { _, err := c.PolicyVersions(ctx, "staff"); return err },
		func(ctx context.Context) error { _, err := c.RegistrationReport(ctx); return err },
		func(ctx context.Context) error { _, err := c.OpenAPI(ctx); return err },
	}
	for i, call := range calls {
		if err := call(ctx); err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, pattern := range documented {
		if !called[pattern] {
			t.Errorf("no Client method calls %s", pattern)
		}
	}
}
