// Package api serves the admin JSON API under /admin/api/v1, authorized by
// OAuth2 client-credentials bearer tokens, each route needing one of the
// gatehouse: admin scopes (assurance.AdminScopes).
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/adminapi"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

// Prefix is where the API is mounted.
const Prefix = adminapi.Prefix

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

// handler answers one route for the client the token belongs to.
type handler = func(w http.ResponseWriter, r *http.Request, actor admin.Actor)

// Mount registers the API's routes: adminapi.Routes, each demanding its
// scope.
func (a *API) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	handlers := a.handlers()
	for _, rt := range adminapi.Routes() {
		mux.HandleFunc(rt.Method+" "+Prefix+rt.Path, a.authorized(rt.Scope, handlers[rt.Pattern()]))
	}
}

// handlers serve adminapi.Routes, by pattern; a test holds the two lists,
// the client's methods and openapi.json together.
func (a *API) handlers() map[string]handler {
	return map[string]handler{
		"GET /clients":                     a.listClients,
		"POST /clients":                    a.createClient,
		"GET /clients/{id}":                a.getClient,
		"PATCH /clients/{id}":              a.updateClient,
		"DELETE /clients/{id}":             a.deleteClient,
		"POST /clients/{id}/rotate-secret": a.rotateSecret,
		"POST /clients/{id}/disable":       a.setClientDisabled(true),
		"POST /clients/{id}/enable":        a.setClientDisabled(false),
		"GET /users":                       a.listUsers,
		"POST /users":                      a.createUser,
		"POST /users/import":               a.importUsers,
		"GET /users/{id}":                  a.getUser,
		"DELETE /users/{id}":               a.deleteUser,
		"PUT /users/{id}/roles":            a.setRoles,
		"PUT /users/{id}/groups":           a.setGroups,
		"GET /users/{id}/policy":           a.userPolicy,
		"POST /users/{id}/disable": a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
			return nil, a.Service.SetUserDisabled(ctx, act, id, true)
		}),
		"POST /users/{id}/enable": a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
			return nil, a.Service.SetUserDisabled(ctx, act, id, false)
		}),
		"POST /users/{id}/reset-password": a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
			temp, err := a.Service.ResetPassword(ctx, act, id)
			return adminapi.TemporaryPassword{Password: temp}, err
		}),
		"POST /users/{id}/reset-methods": a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
			return nil, a.Service.ResetMethods(ctx, act, id)
		}),
		"POST /users/{id}/revoke-sessions": a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
			return nil, a.Service.RevokeSessions(ctx, act, id)
		}),
		"POST /users/{id}/unlock": a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
			return nil, a.Service.Unlock(ctx, act, id)
		}),
		"POST /users/{id}/access-code": a.userAction(func(ctx context.Context, act admin.Actor, id string) (any, error) {
			code, err := a.Service.IssueAccessCode(ctx, act, id)
			return adminapi.AccessCode{Code: code, ExpiresIn: int(mfa.AccessCodeLifetime.Seconds())}, err
		}),
		"GET /audit":                    a.listAudit,
		"GET /policies":                 a.listPolicies,
		"PUT /policies/{name}":          a.savePolicy,
		"DELETE /policies/{name}":       a.deletePolicy,
		"GET /policies/{name}/versions": a.policyVersions,
		"GET /reports/registration":     a.registrationReport,
	}
}

// authorized accepts a client-credentials access token granted scope. The
// client acts with exactly its granted admin scopes, never as a person: a
// token issued through a person's sign-in is refused even if it somehow
// carries an admin scope.
func (a *API) authorized(scope string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := fosite.AccessTokenFromRequest(r)
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin", scope="`+scope+`"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "An access token with the "+scope+" scope is required.")
			return
		}
		ctx := oauth.WithRequestCache(r.Context())
		_, ar, err := a.Tokens.IntrospectToken(ctx, token, fosite.AccessToken, oauth.NewSession())
		if err != nil && (store.Unavailable(err) || oauth.StorageOutage(ctx) != nil) {
			// The token could not be looked up: that says nothing about it.
			a.Logger.Error("admin api: checking a token", "err", err)
			writeUnavailable(w)
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "The access token is not active.")
			return
		}
		if ar.GetSession().GetSubject() != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin", error="invalid_token"`)
			writeError(w, http.StatusForbidden, "forbidden", "The admin API takes only client_credentials tokens, never one issued to a person.")
			return
		}
		// Only the scopes the client still holds: narrowing a client takes
		// effect at once, not when its tokens expire.
		held := ar.GetClient().GetScopes()
		granted := slices.DeleteFunc(slices.Clone(ar.GetGrantedScopes()), func(s string) bool { return !slices.Contains(held, s) })
		if !slices.Contains(granted, scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin", error="insufficient_scope", scope="`+scope+`"`)
			writeError(w, http.StatusForbidden, "forbidden", "The access token was not granted the "+scope+" scope.")
			return
		}
		h(w, r, admin.Actor{ID: "client:" + ar.GetClient().GetID(), Scopes: slices.DeleteFunc(granted, func(s string) bool {
			return !assurance.IsAdminScope(s)
		}), IP: clientip.From(r)})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string, problems ...string) {
	writeJSON(w, status, adminapi.ErrorBody{Error: adminapi.Error{Code: code, Message: msg, Problems: problems}})
}

// retryAfterSeconds is how long a 503 asks the caller to wait.
const retryAfterSeconds = "5"

// writeUnavailable answers that storage did not answer: the caller should
// try again, never take it as an answer about what it asked.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	writeError(w, http.StatusServiceUnavailable, "unavailable", "The server cannot answer right now; try again in a moment.")
}

// fail maps service errors to stable codes; unexpected ones are logged and
// answered generically.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ve *clients.ValidationError
	var pe *identity.PolicyError
	var polErr *admin.PolicyError
	var fileErr *identity.ImportFileError
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
	case errors.As(err, &fileErr):
		writeError(w, http.StatusUnprocessableEntity, "invalid", "The file can't be read: "+fileErr.Msg)
	case errors.Is(err, identity.ErrImportRejected):
		writeError(w, http.StatusUnprocessableEntity, "import_rejected", err.Error())
	case store.Unavailable(err):
		a.Logger.Error("admin api", "err", err, "path", r.URL.Path)
		writeUnavailable(w)
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

func (a *API) listClients(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	list, err := a.Service.ListClients(r.Context(), act)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminapi.ApplicationList{Items: each(list, func(c admin.ClientView) adminapi.Application { return toApplication(c, "") })})
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body adminapi.ApplicationInput
	if !decode(w, r, &body) {
		return
	}
	var reg clients.Registration
	applyApplication(body, &reg)
	c, secret, err := a.Service.CreateClient(r.Context(), act, reg)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toApplication(*c, secret))
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	c, err := a.Service.GetClient(r.Context(), act, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toApplication(*c, ""))
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body adminapi.ApplicationInput
	if !decode(w, r, &body) {
		return
	}
	c, secret, err := a.Service.UpdateClient(r.Context(), act, r.PathValue("id"), func(reg *clients.Registration) { applyApplication(body, reg) })
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toApplication(*c, secret))
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
	writeJSON(w, http.StatusOK, adminapi.RotatedSecret{ClientID: r.PathValue("id"), Secret: secret})
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
	page := adminapi.UserList{Items: each(users, toUser)}
	if len(users) == limit {
		next := offset + limit
		page.NextOffset = &next
	}
	writeJSON(w, http.StatusOK, page)
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body adminapi.UserInput
	if !decode(w, r, &body) {
		return
	}
	u, err := a.Service.CreateUser(r.Context(), act, identity.NewUser{Username: body.Username, Email: body.Email,
		DisplayName: body.DisplayName, Password: body.Password, Roles: body.Roles, MustChangePassword: body.MustChangePassword})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toUser(*u))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	u, err := a.Service.GetUser(r.Context(), act, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUser(admin.ViewUser(u)))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	if err := a.Service.DeleteUser(r.Context(), act, r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) setRoles(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body adminapi.RolesInput
	if !decode(w, r, &body) {
		return
	}
	u, err := a.Service.SetRoles(r.Context(), act, r.PathValue("id"), body.Roles)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUser(*u))
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
// row would do; imports match by username, so repeating one changes nothing.
func (a *API) importUsers(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	q := r.URL.Query()
	opt := admin.ImportOptions{DryRun: q.Get("dry_run") == "true", ImportOptions: identity.ImportOptions{
		ContinueOnError: q.Get("continue_on_error") == "true", ResetPasswords: q.Get("reset_passwords") == "true"}}
	report, err := a.Service.ImportUsers(r.Context(), act, http.MaxBytesReader(w, r.Body, 32<<20), opt)
	if err != nil && !errors.Is(err, identity.ErrImportRejected) {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if err != nil {
		status = http.StatusUnprocessableEntity
	}
	out := adminapi.ImportResult{DryRun: opt.DryRun, Written: err == nil && !opt.DryRun, Created: report.Created,
		Updated: report.Updated, Unchanged: report.Unchanged, Rejected: len(report.Rejected),
		Rows: make([]adminapi.ImportRow, len(report.Rows))}
	for i, row := range report.Rows {
		out.Rows[i] = toImportRow(row)
	}
	writeJSON(w, status, out)
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
		writeJSON(w, http.StatusOK, adminapi.AuditList{Items: each(events, toAuditEvent)})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-audit.csv"`)
	if err := audit.WriteCSV(w, events); err != nil {
		a.Logger.Error("admin api: audit export", "err", err)
	}
}

func (a *API) listPolicies(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	list, err := a.Service.ListPolicies(r.Context(), act)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminapi.PolicyList{Items: each(list, toPolicy)})
}

// policyVersions is a policy's history, newest first, each version with
// what changed from the one before.
func (a *API) policyVersions(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	versions, err := a.Service.PolicyHistory(r.Context(), act, r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminapi.PolicyVersionList{Items: each(versions, toPolicyVersion)})
}

// savePolicy creates or replaces a policy.
func (a *API) savePolicy(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body adminapi.PolicyInput
	if !decode(w, r, &body) {
		return
	}
	rec, err := a.Service.SavePolicy(r.Context(), act, policy.Record{Name: r.PathValue("name"), Priority: body.Priority,
		Groups: body.Groups, Policy: fromSettings(body.Settings)})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toPolicy(*rec))
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
	writeJSON(w, http.StatusOK, adminapi.EffectivePolicy{Name: name, Settings: toSettings(p)})
}

func (a *API) setGroups(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	var body adminapi.GroupsInput
	if !decode(w, r, &body) {
		return
	}
	u, err := a.Service.SetGroups(r.Context(), act, r.PathValue("id"), body.Groups)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUser(*u))
}

// registrationReport shows, per group, how many have registered their
// methods, how many are within grace, and the deadline.
func (a *API) registrationReport(w http.ResponseWriter, r *http.Request, act admin.Actor) {
	report, err := a.Service.RegistrationReport(r.Context(), act)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminapi.RegistrationReport{Items: each(report, toGroupReport)})
}
