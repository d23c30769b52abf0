package adminapi

import "github.com/gatehouse/gatehouse/pkg/assurance"

// Prefix is where Gatehouse serves the API, below its issuer URL.
const Prefix = "/admin/api/v1"

// Route is one endpoint of the API and the admin scope its token must
// carry.
type Route struct {
	Method string
	Path   string // below Prefix, with {id} or {name} for the path parameter
	Scope  string
}

// Pattern is the route as net/http.ServeMux writes it, below Prefix:
// "GET /users/{id}".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Routes lists every endpoint that needs a token, each with its scope;
// Gatehouse serves exactly these, and Client has a method for each.
func Routes() []Route {
	return []Route{
		{"GET", "/clients", assurance.ScopeClients},
		{"POST", "/clients", assurance.ScopeClients},
		{"GET", "/clients/{id}", assurance.ScopeClients},
		{"PATCH", "/clients/{id}", assurance.ScopeClients},
		{"DELETE", "/clients/{id}", assurance.ScopeClients},
		{"POST", "/clients/{id}/rotate-secret", assurance.ScopeClients},
		{"POST", "/clients/{id}/disable", assurance.ScopeClients},
		{"POST", "/clients/{id}/enable", assurance.ScopeClients},
		{"GET", "/users", assurance.ScopeUsersRead},
		{"POST", "/users", assurance.ScopeUsersWrite},
		{"POST", "/users/import", assurance.ScopeUsersImport},
		{"GET", "/users/{id}", assurance.ScopeUsersRead},
		{"DELETE", "/users/{id}", assurance.ScopeUsersWrite},
		{"PUT", "/users/{id}/roles", assurance.ScopeUsersRoles},
		{"PUT", "/users/{id}/groups", assurance.ScopeUsersGroups},
		{"GET", "/users/{id}/policy", assurance.ScopeUsersRead},
		{"POST", "/users/{id}/disable", assurance.ScopeUsersWrite},
		{"POST", "/users/{id}/enable", assurance.ScopeUsersWrite},
		{"POST", "/users/{id}/reset-password", assurance.ScopeUsersWrite},
		{"POST", "/users/{id}/reset-methods", assurance.ScopeUsersWrite},
		{"POST", "/users/{id}/revoke-sessions", assurance.ScopeUsersWrite},
		{"POST", "/users/{id}/unlock", assurance.ScopeUsersWrite},
		{"POST", "/users/{id}/access-code", assurance.ScopeUsersWrite},
		{"GET", "/audit", assurance.ScopeAuditRead},
		{"GET", "/policies", assurance.ScopePolicies},
		{"PUT", "/policies/{name}", assurance.ScopePolicies},
		{"DELETE", "/policies/{name}", assurance.ScopePolicies},
		{"GET", "/policies/{name}/versions", assurance.ScopePolicies},
		{"GET", "/reports/registration", assurance.ScopeUsersRead},
	}
}
