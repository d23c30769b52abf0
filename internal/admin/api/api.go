// Package api serves the admin JSON API under /admin/api/v1, authorized by
// OAuth2 bearer tokens that carry the gatehouse:admin scope.
package api

import (
	"context"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Prefix is where the API is mounted.
const Prefix = "/admin/api/v1"

//go:embed openapi.json
var openAPI []byte

// Tokens checks bearer tokens (fosite's provider does).
type Tokens interface {
	IntrospectToken(ctx context.Context, token string, use fosite.TokenUse, session fosite.Session, scope ...string) (fosite.TokenUse, fosite.AccessRequester, error)
}

// API is the admin API.
type API struct {
	Service *admin.Service
	Tokens  Tokens
	Logger  *slog.Logger
}

// Mount registers the API's routes.
func (a *API) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request, actor admin.Actor)) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+Prefix+path, a.authorized(h))
	}
	route("GET /clients", a.listClients)
	route("POST /clients", a.createClient)
	route("GET /clients/{id}", a.getClient)
	route("PATCH /clients/{id}", a.updateClient)
	route("DELETE /clients/{id}", a.deleteClient)
	route("POST /clients/{id}/rotate-secret", a.rotateSecret)
	route("POST /clients/{id}/disable", a.setClientDisabled(true))
	route("POST /clients/{id}/enable", a.setClientDisabled(false))
	route("GET /users", a.listUsers)
	route("POST /users", a.createUser)
	route("POST /users/import", a.importUsers)
	route("GET /users/{id}", a.getUser)
	route("DELETE /users/{id}", a.deleteUser)
	route("PUT /users/{id}/roles", a.setRoles)
	route("POST /users/{id}/disable", a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
		return nil, a.Service.SetUserDisabled(ctx, act, id, true)
	}))
	route("POST /users/{id}/enable", a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
		return nil, a.Service.SetUserDisabled(ctx, act, id, false)
	}))
	route("POST /users/{id}/reset-password", a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
		temp, err := a.Service.ResetPassword(ctx, act, id)
		return map[string]string{"temporary_password": temp}, err
	}))
	route("POST /users/{id}/reset-methods", a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
		return nil, a.Service.ResetMethods(ctx, act, id)
	}))
	route("POST /users/{id}/revoke-sessions", a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
		return nil, a.Service.RevokeSessions(ctx, act, id)
	}))
	route("POST /users/{id}/unlock", a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
		return nil, a.Service.Unlock(ctx, act, id)
	}))
	route("POST /users/{id}/access-code", a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
		code, err := a.Service.IssueAccessCode(ctx, act, id)
		return map[string]any{"access_code": code, "expires_in": int(mfa.AccessCodeLifetime.Seconds())}, err
	}))
	route("GET /audit", a.listAudit)
	route("GET /policies", a.listPolicies)
	route("PUT /policies/{name}", a.savePolicy)
	route("DELETE /policies/{name}", a.deletePolicy)
	route("GET /policies/{name}/versions", a.policyVersions)
	route("GET /users/{id}/policy", a.userPolicy)
	route("PUT /users/{id}/groups", a.setGroups)
	route("GET /reports/registration", a.registrationReport)
}

// authorized accepts a bearer access token granted the gatehouse:admin
// scope (client credentials): such a client acts as an administrator.
func (a *API) authorized(h func(http.ResponseWriter, *http.Request, admin.Actor)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := fosite.AccessTokenFromRequest(r)
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "An access token with the "+clients.ScopeAdmin+" scope is required.")
			return
		}
		_, ar, err := a.Tokens.IntrospectToken(r.Context(), token, fosite.AccessToken, oauth.NewSession())
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "The access token is not active.")
			return
		}
		if !ar.GetGrantedScopes().Has(clients.ScopeAdmin) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin", error="insufficient_scope", scope="`+clients.ScopeAdmin+`"`)
			writeError(w, http.StatusForbidden, "forbidden", "The access token was not granted the "+clients.ScopeAdmin+" scope.")
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		h(w, r, admin.Actor{ID: "client:" + ar.GetClient().GetID(), Roles: []string{identity.RoleAdmin}, IP: host})
	}
}

type apiError struct {
	Code     string   `json:"code"`
	Message  string   `json:"message"`
	Problems []string `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string, problems ...string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg, Problems: problems}})
}

// fail maps service errors to stable codes; unexpected ones are logged and
// answered generically.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *clients.ValidationError
	var pe *identity.PolicyError
	var polErr *admin.PolicyError
	switch {
	case errors.Is(err, admin.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "No such "+resource(r)+".")
	case errors.As(err, &ve):
		writeError(w, http.StatusUnprocessableEntity, "invalid", "The request was not valid.", ve.Problems...)
	case errors.As(err, &pe):
		writeError(w, http.StatusUnprocessableEntity, "invalid", pe.Msg)
	case errors.As(err, &polErr):
		writeError(w, http.StatusUnprocessableEntity, "invalid", "The policy was not valid.", polErr.Problems...)
	case errors.Is(err, identity.ErrImportRejected):
		writeError(w, http.StatusUnprocessableEntity, "import_rejected", err.Error())
	default:
		a.Logger.Error("admin api", "err", err, "path", r.URL.Path)
		writeError(w, http.StatusInternalServerError, "internal", "Something went wrong; try again.")
	}
}

func resource(r *http.Request) string {
	if strings.Contains(r.URL.Path, "/clients") {
		return "client"
	}
	if strings.Contains(r.URL.Path, "/policies") {
		return "policy"
	}
	return "user"
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "The body must be a JSON object with known fields: "+err.Error())
		return false
	}
	return true
}

// clientBody is a registration in JSON; absent fields keep their value on PATCH.
type clientBody struct {
	Name                    *string          `json:"name"`
	Description             *string          `json:"description"`
	Public                  *bool            `json:"public"`
	RedirectURIs            *[]string        `json:"redirect_uris"`
	PostLogoutRedirectURIs  *[]string        `json:"post_logout_redirect_uris"`
	GrantTypes              *[]string        `json:"grant_types"`
	Scopes                  *[]string        `json:"scopes"`
	TokenEndpointAuthMethod *string          `json:"token_endpoint_auth_method"`
	JWKSURI                 *string          `json:"jwks_uri"`
	JWKS                    *json.RawMessage `json:"jwks"`
	RequireConsent          *bool            `json:"require_consent"`
	RequiredACR             *string          `json:"required_acr"`
	IDTokenSigningAlg       *string          `json:"id_token_signed_response_alg"`
	MayIntrospect           *bool            `json:"may_introspect"`
}

func (b clientBody) apply(r *clients.Registration) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&r.Name, b.Name)
	set(&r.Description, b.Description)
	setList(&r.RedirectURIs, b.RedirectURIs)
	setList(&r.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs)
	setList(&r.GrantTypes, b.GrantTypes)
	setList(&r.Scopes, b.Scopes)
	set(&r.TokenEndpointAuthMethod, b.TokenEndpointAuthMethod)
	set(&r.JWKSURI, b.JWKSURI)
	set(&r.RequiredACR, b.RequiredACR)
	set(&r.IDTokenSigningAlg, b.IDTokenSigningAlg)
	if b.JWKS != nil {
		r.JWKS = string(*b.JWKS)
	}
	if b.Public != nil {
		r.Public = *b.Public
	}
	if b.RequireConsent != nil {
		r.RequireConsent = *b.RequireConsent
	}
	if b.MayIntrospect != nil {
		r.MayIntrospect = *b.MayIntrospect
	}
}

type clientWithSecret struct {
	admin.ClientView
	Secret string `json:"client_secret,omitempty"`
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	list, err := a.Service.ListClients(r.Context(), act)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body clientBody
	if !decode(w, r, &body) {
		return
	}
	var reg clients.Registration
	body.apply(&reg)
	c, secret, err := a.Service.CreateClient(r.Context(), act, reg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, clientWithSecret{ClientView: *c, Secret: secret})
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	c, err := a.Service.GetClient(r.Context(), act, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body clientBody
	if !decode(w, r, &body) {
		return
	}
	c, secret, err := a.Service.UpdateClient(r.Context(), act, r.PathValue("id"), body.apply)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, clientWithSecret{ClientView: *c, Secret: secret})
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	if err := a.Service.DeleteClient(r.Context(), act, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	secret, err := a.Service.RotateClientSecret(r.Context(), act, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"client_id": r.PathValue("id"), "client_secret": secret})
}

func (a *API) setClientDisabled(disabled bool) func(http.ResponseWriter, *http.Request, admin.Actor) {
	return func(w http.ResponseWriter, r *http.Request, act admin.Actor) {
		if err := a.Service.SetClientDisabled(r.Context(), act, r.PathValue("id"), disabled); err != nil {
			a.fail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func intParam(r *http.Request, name string, def, maxV int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || n < 0 {
		return def
	}
	return min(n, maxV)
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	limit, offset := intParam(r, "limit", 100, 1000), intParam(r, "offset", 0, 1<<30)
	if limit == 0 {
		limit = 100
	}
	users, err := a.Service.SearchUsers(r.Context(), act, identity.ListQuery{Search: r.URL.Query().Get("search"), Limit: limit, Offset: offset})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp := map[string]any{"items": users, "next_offset": nil}
	if len(users) == limit {
		resp["next_offset"] = offset + limit
	}
	writeJSON(w, http.StatusOK, resp)
}

type userBody struct {
	Username           string   `json:"username"`
	Email              string   `json:"email"`
	DisplayName        string   `json:"display_name"`
	Password           string   `json:"password"`
	Roles              []string `json:"roles"`
	MustChangePassword bool     `json:"must_change_password"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body userBody
	if !decode(w, r, &body) {
		return
	}
	u, err := a.Service.CreateUser(r.Context(), act, identity.NewUser{Username: body.Username, Email: body.Email,
		DisplayName: body.DisplayName, Password: body.Password, Roles: body.Roles, MustChangePassword: body.MustChangePassword})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	u, err := a.Service.GetUser(r.Context(), act, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, admin.ViewUser(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	if err := a.Service.DeleteUser(r.Context(), act, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) setRoles(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body struct {
		Roles []string `json:"roles"`
	}
	if !decode(w, r, &body) {
		return
	}
	u, err := a.Service.SetRoles(r.Context(), act, r.PathValue("id"), body.Roles)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (a *API) userAction(do func(context.Context, admin.Actor, string) (any, error)) func(http.ResponseWriter, *http.Request, admin.Actor) {
	return func(w http.ResponseWriter, r *http.Request, act admin.Actor) {
		out, err := do(r.Context(), act, r.PathValue("id"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if out == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// importUsers takes a CSV body. With dry_run=true it only reports what each
// row would do; imports match by username, so repeating one is harmless.
func (a *API) importUsers(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	q := r.URL.Query()
	report, err := a.Service.ImportUsers(r.Context(), act, http.MaxBytesReader(w, r.Body, 32<<20),
		q.Get("dry_run") == "true", q.Get("continue_on_error") == "true")
	if err != nil && !errors.Is(err, identity.ErrImportRejected) {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if err != nil {
		status = http.StatusUnprocessableEntity
	}
	rows := make([]map[string]any, len(report.Rows))
	for i, row := range report.Rows {
		rows[i] = map[string]any{"line": row.Line, "username": row.Username, "outcome": row.Outcome, "message": row.Message}
	}
	writeJSON(w, status, map[string]any{"dry_run": q.Get("dry_run") == "true", "written": err == nil && q.Get("dry_run") != "true",
		"created": report.Created, "updated": report.Updated, "rejected": len(report.Rejected), "rows": rows})
}

// listAudit filters events by user, type and time; format=csv exports.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	q := r.URL.Query()
	f := audit.Filter{SubjectID: q.Get("user"), Type: q.Get("type"), Limit: intParam(r, "limit", 100, 1000)}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad_request", name+" must be an RFC 3339 time, like 2026-09-01T08:00:00Z")
				return
			}
			*dst = t
		}
	}
	events, err := a.Service.AuditEvents(r.Context(), act, f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if q.Get("format") != "csv" {
		writeJSON(w, http.StatusOK, map[string]any{"items": events})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-audit.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"time", "type", "outcome", "actor_id", "subject_id", "client_id", "ip", "user_agent", "details"})
	for _, e := range events {
		details, _ := json.Marshal(e.Details)
		cw.Write([]string{e.Time.Format(time.RFC3339), e.Type, e.Outcome, e.ActorID, e.SubjectID, e.ClientID, e.IP, e.UserAgent, string(details)})
	}
	cw.Flush()
}

func (a *API) listPolicies(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	list, err := a.Service.ListPolicies(r.Context(), act)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

// policyVersions is a policy's history, newest first, each version with
// what changed from the one before.
func (a *API) policyVersions(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	versions, err := a.Service.PolicyHistory(r.Context(), act, r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": versions})
}

// savePolicy creates or replaces a policy; the body is a policy record
// (priority, groups, settings).
func (a *API) savePolicy(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body struct {
		Priority int           `json:"priority"`
		Groups   []string      `json:"groups"`
		Settings policy.Policy `json:"settings"`
	}
	if !decode(w, r, &body) {
		return
	}
	rec, err := a.Service.SavePolicy(r.Context(), act, policy.Record{Name: r.PathValue("name"), Priority: body.Priority,
		Groups: body.Groups, Policy: body.Settings})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	if err := a.Service.DeletePolicy(r.Context(), act, r.PathValue("name")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) userPolicy(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	p, name, err := a.Service.EffectivePolicy(r.Context(), act, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"policy": name, "settings": p})
}

func (a *API) setGroups(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body struct {
		Groups []string `json:"groups"`
	}
	if !decode(w, r, &body) {
		return
	}
	u, err := a.Service.SetGroups(r.Context(), act, r.PathValue("id"), body.Groups)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// registrationReport shows, per group, how many have registered their
// methods, how many are within grace, and the deadline.
func (a *API) registrationReport(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	report, err := a.Service.RegistrationReport(r.Context(), act)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": report})
}
