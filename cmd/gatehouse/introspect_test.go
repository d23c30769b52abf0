package main

import (
	"strings"
	"testing"
)

// TestClientsMayIntrospect grants and withdraws the introspection
// permission, and keeps it from clients without a secret.
func TestClientsMayIntrospect(t *testing.T) {
	g := newGatehouse(t)
	var created map[string]any
	g.json(&created, "clients", "create", "--name", "Grades API", "--grant-type", "client_credentials", "--scope", "profile", "--may-introspect")
	id, _ := created["client_id"].(string)
	if created["may_introspect"] != true {
		t.Fatalf("clients create --may-introspect: %v", created)
	}
	if out := g.ok("clients", "get", id); !strings.Contains(out, "may_introspect") || !strings.Contains(out, "true") {
		t.Errorf("clients get:\n%s", out)
	}
	var updated map[string]any
	g.json(&updated, "clients", "update", id, "--may-introspect=false")
	if updated["may_introspect"] != false {
		t.Errorf("clients update --may-introspect=false: %v", updated)
	}
	if _, err := g.run("", "clients", "create", "--name", "SPA", "--public", "--redirect-uri", "http://localhost:9090/cb", "--may-introspect"); err == nil ||
		!strings.Contains(err.Error(), "introspection permission") {
		t.Errorf("a public client was let introspect: %v", err)
	}
}
