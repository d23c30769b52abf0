package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/keys"
)

// Applications: admins only. The service checks the role on every call;
// the pages that call nothing (the blank form) check it here.

var clientNotices = map[string]string{
	"updated":  "The application was updated.",
	"disabled": "The application was disabled. It can't sign anyone in until it is enabled.",
	"enabled":  "The application was enabled.",
	"deleted":  "The application was deleted.",
}

// clientForm is the registration form as typed, kept whole when it is
// refused so nothing has to be entered twice.
type clientForm struct {
	ID                     string // empty when registering
	Name, Description      string
	Public                 bool
	RedirectURIs           string // one per line
	PostLogoutRedirectURIs string
	GrantTypes, Scopes     []string
	AuthMethod             string // empty: the default for the type
	JWKSURI, JWKS          string
	RequireConsent         bool
	RequiredACR            string
	IDTokenAlg             string // empty: the server's default
	MayIntrospect          bool
}

// clientFormPage is the form with its choices.
type clientFormPage struct {
	Form                                         clientForm
	AllGrantTypes, AllScopes, Methods, TokenAlgs []string
}

func newClientFormPage(f clientForm) clientFormPage {
	return clientFormPage{Form: f, AllGrantTypes: clients.SupportedGrantTypes, AllScopes: clients.SupportedScopes,
		Methods: clients.SupportedAuthMethods, TokenAlgs: keys.Supported}
}

func readClientForm(r *http.Request) clientForm {
	v := r.PostForm
	return clientForm{
		Name: v.Get("name"), Description: v.Get("description"), Public: v.Get("type") == "public",
		RedirectURIs: v.Get("redirect_uris"), PostLogoutRedirectURIs: v.Get("post_logout_redirect_uris"),
		GrantTypes: v["grant_types"], Scopes: v["scopes"], AuthMethod: v.Get("token_endpoint_auth_method"),
		JWKSURI: strings.TrimSpace(v.Get("jwks_uri")), JWKS: strings.TrimSpace(v.Get("jwks")),
		RequireConsent: v.Get("require_consent") == "yes", RequiredACR: v.Get("required_acr"),
		IDTokenAlg: v.Get("id_token_signed_response_alg"), MayIntrospect: v.Get("may_introspect") == "yes",
	}
}

func formFromView(c *admin.ClientView) clientForm {
	return clientForm{ID: c.ID, Name: c.Name, Description: c.Description, Public: c.Public,
		RedirectURIs: strings.Join(c.RedirectURIs, "\n"), PostLogoutRedirectURIs: strings.Join(c.PostLogoutRedirectURIs, "\n"),
		GrantTypes: c.GrantTypes, Scopes: c.Scopes, AuthMethod: c.TokenEndpointAuthMethod, JWKSURI: c.JWKSURI,
		RequireConsent: c.RequireConsent, RequiredACR: c.RequiredACR, IDTokenAlg: c.IDTokenSigningAlg,
		MayIntrospect: c.MayIntrospect}
}

// apply copies the form onto a registration. An empty inline JWKS keeps
// the current one, which the edit page cannot show.
func (f clientForm) apply(r *clients.Registration) {
	keepJWKS := f.JWKS == "" && f.JWKSURI == "" && f.AuthMethod == clients.AuthPrivateKeyJWT
	r.Name, r.Description, r.Public = f.Name, f.Description, f.Public
	r.RedirectURIs, r.PostLogoutRedirectURIs = splitLines(f.RedirectURIs), splitLines(f.PostLogoutRedirectURIs)
	r.GrantTypes, r.Scopes, r.TokenEndpointAuthMethod = f.GrantTypes, f.Scopes, f.AuthMethod
	r.JWKSURI, r.RequireConsent, r.RequiredACR = f.JWKSURI, f.RequireConsent, f.RequiredACR
	r.IDTokenSigningAlg, r.MayIntrospect = f.IDTokenAlg, f.MayIntrospect
	if !keepJWKS {
		r.JWKS = f.JWKS
	}
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (c *Console) requireAdmin(q *request) bool {
	if !q.isAdmin() {
		c.serviceError(q, "", admin.ErrForbidden)
		return false
	}
	return true
}

// protected is the console's own registration: changing it here could lock
// everyone out of the console, so only its details are shown.
func (c *Console) protected(q *request, id string) bool {
	if id != c.opt.ClientID {
		return false
	}
	c.failFor(q, http.StatusConflict, "Managed by Gatehouse",
		"This is the admin console's own sign-in. Gatehouse manages it; changing it here could lock everyone out of the console.", nil)
	return true
}

func (c *Console) listClients(q *request) {
	list, err := c.svc.ListClients(q.r.Context(), q.actor)
	if err != nil {
		c.serviceError(q, "application", err)
		return
	}
	v := c.view(q, "Applications", list)
	v.Notice = clientNotices[q.r.URL.Query().Get("done")]
	c.render(q.w, http.StatusOK, "clients", v)
}

func (c *Console) newClient(q *request) {
	if !c.requireAdmin(q) {
		return
	}
	f := clientForm{GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: clients.DefaultScopes}
	c.render(q.w, http.StatusOK, "client_form", c.view(q, "Register an application", newClientFormPage(f)))
}

// formRefused shows the form again with every value kept and every problem
// listed; false means err was not a validation problem.
func (c *Console) formRefused(q *request, title string, f clientForm, err error) bool {
	var ve *clients.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	v := c.view(q, title, newClientFormPage(f))
	v.Error, v.Problems = "The application can't be saved yet. Fix these problems:", ve.Problems
	c.render(q.w, http.StatusUnprocessableEntity, "client_form", v)
	return true
}

func (c *Console) createClient(q *request) {
	f := readClientForm(q.r)
	var reg clients.Registration
	f.apply(&reg)
	cv, secret, err := c.svc.CreateClient(q.r.Context(), q.actor, reg)
	if err != nil {
		if !c.formRefused(q, "Register an application", f, err) {
			c.serviceError(q, "application", err)
		}
		return
	}
	c.showSecret(q, "Application registered", cv, secret)
}

// secretPage shows a client's credentials, once.
type secretPage struct {
	Client admin.ClientView
	Secret string
}

func (c *Console) showSecret(q *request, title string, cv *admin.ClientView, secret string) {
	c.showOnce(q, oneTimeResult{Title: title, Secret: &secretPage{Client: *cv, Secret: secret}})
}

type clientPage struct {
	Client    *admin.ClientView
	Protected bool
	HasSecret bool
}

func (c *Console) loadClient(q *request) (*admin.ClientView, bool) {
	cv, err := c.svc.GetClient(q.r.Context(), q.actor, q.r.PathValue("id"))
	if err != nil {
		c.serviceError(q, "application", err)
		return nil, false
	}
	return cv, true
}

func (c *Console) showClient(q *request) {
	cv, ok := c.loadClient(q)
	if !ok {
		return
	}
	m := cv.TokenEndpointAuthMethod
	v := c.view(q, cv.Name, clientPage{Client: cv, Protected: cv.ID == c.opt.ClientID,
		HasSecret: m == clients.AuthSecretBasic || m == clients.AuthSecretPost})
	v.Notice = clientNotices[q.r.URL.Query().Get("done")]
	c.render(q.w, http.StatusOK, "client", v)
}

func (c *Console) editClient(q *request) {
	cv, ok := c.loadClient(q)
	if !ok || c.protected(q, cv.ID) {
		return
	}
	c.render(q.w, http.StatusOK, "client_form", c.view(q, "Edit "+cv.Name, newClientFormPage(formFromView(cv))))
}

func (c *Console) updateClient(q *request) {
	id := q.r.PathValue("id")
	if c.protected(q, id) {
		return
	}
	f := readClientForm(q.r)
	f.ID = id
	cv, secret, err := c.svc.UpdateClient(q.r.Context(), q.actor, id, f.apply)
	switch {
	case err != nil:
		if !c.formRefused(q, "Edit "+f.Name, f, err) {
			c.serviceError(q, "application", err)
		}
	case secret != "": // moved to a secret-based method: its first secret
		c.showSecret(q, "New client secret", cv, secret)
	default:
		http.Redirect(q.w, q.r, clientPath(id)+"?done=updated", http.StatusSeeOther)
	}
}

// rotateOverlap is the rotation confirmation: what happens to the old secret.
type rotateOverlap struct {
	Client  *admin.ClientView
	Overlap time.Duration // how long the old secret keeps working
}

// confirmRotateSecret asks before rotating: the application must be given
// the new secret before the old one stops working.
func (c *Console) confirmRotateSecret(q *request) {
	cv, ok := c.loadClient(q)
	if !ok || c.protected(q, cv.ID) {
		return
	}
	c.render(q.w, http.StatusOK, "client_rotate", c.view(q, "Rotate the secret of "+cv.Name+"?",
		rotateOverlap{Client: cv, Overlap: c.svc.Clients.SecretOverlap}))
}

func (c *Console) rotateSecret(q *request) {
	id := q.r.PathValue("id")
	if c.protected(q, id) {
		return
	}
	secret, err := c.svc.RotateClientSecret(q.r.Context(), q.actor, id)
	var ve *clients.ValidationError
	switch {
	case errors.As(err, &ve):
		c.failFor(q, http.StatusConflict, "No secret to rotate", "This application doesn't sign in with a client secret.", nil)
		return
	case err != nil:
		c.serviceError(q, "application", err)
		return
	}
	cv, ok := c.loadClient(q)
	if ok {
		c.showSecret(q, "New client secret", cv, secret)
	}
}

func (c *Console) setClientDisabled(disabled bool) func(*request) {
	return func(q *request) {
		id := q.r.PathValue("id")
		if c.protected(q, id) {
			return
		}
		if err := c.svc.SetClientDisabled(q.r.Context(), q.actor, id, disabled); err != nil {
			c.serviceError(q, "application", err)
			return
		}
		http.Redirect(q.w, q.r, clientPath(id)+"?done="+map[bool]string{true: "disabled", false: "enabled"}[disabled], http.StatusSeeOther)
	}
}

func (c *Console) confirmDeleteClient(q *request) {
	cv, ok := c.loadClient(q)
	if !ok || c.protected(q, cv.ID) {
		return
	}
	c.render(q.w, http.StatusOK, "client_delete", c.view(q, "Delete "+cv.Name+"?", cv))
}

func (c *Console) deleteClient(q *request) {
	id := q.r.PathValue("id")
	if c.protected(q, id) {
		return
	}
	if err := c.svc.DeleteClient(q.r.Context(), q.actor, id); err != nil {
		c.serviceError(q, "application", err)
		return
	}
	http.Redirect(q.w, q.r, Prefix+"/clients?done=deleted", http.StatusSeeOther)
}

func clientPath(id string) string { return Prefix + "/clients/" + url.PathEscape(id) }
