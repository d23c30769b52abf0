// Package console serves the admin console at /admin: server-rendered pages
// over the same admin.Service as the JSON API and the CLI, so roles and
// audit are decided in one place. It signs people in as an OpenID Connect
// client of Gatehouse itself, so the console gets the MFA, lockout and
// sign-in audit every other app gets.
package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/pkg/rp"
	"github.com/gatehouse/gatehouse/templates"
)

// Prefix is where the console is served.
const Prefix = "/admin"

const (
	sessionCookie   = "gatehouse_admin"
	loginCookie     = "gatehouse_admin_login"
	sessionLifetime = 8 * time.Hour
	// sessionIdle ends a console session nobody has used for this long; the
	// next sign-in must then be this recent too (max_age), so an unattended
	// console asks for the password and second factor again.
	sessionIdle = 30 * time.Minute
	// seenEvery is how often activity is written back: not on every page.
	seenEvery      = time.Minute
	loginLifetime  = 10 * time.Minute
	importLifetime = 15 * time.Minute
	maxUpload      = 32 << 20 // as the JSON API's import
)

// Options configure the console.
type Options struct {
	Issuer       string // Gatehouse itself; the console signs in through it
	ClientID     string // the console's own registration
	ClientSecret string
	District     string
	CSRFKey      []byte
}

// Console is the admin console.
type Console struct {
	opt    Options
	svc    *admin.Service
	kv     store.KV
	logger *slog.Logger
	pages  map[string]*template.Template
	secure bool
	client *http.Client // for discovery, keys and the token endpoint

	// The issuer is this very server, which is not listening yet when the
	// console is built: discovery happens at the first sign-in.
	mu sync.Mutex
	rp *rp.Client
}

// New parses the console's templates.
func New(opt Options, svc *admin.Service, kv store.KV, logger *slog.Logger) (*Console, error) {
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Console{opt: opt, svc: svc, kv: kv, logger: logger, pages: pages,
		secure: strings.HasPrefix(opt.Issuer, "https://"), client: &http.Client{Timeout: 10 * time.Second}}, nil
}

// Mount registers the console's routes.
func (c *Console) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Prefix+"/{$}", c.home)
	mux.HandleFunc("GET "+Prefix+"/login", c.login)
	mux.HandleFunc("GET "+Prefix+"/callback", c.callback)
	mux.HandleFunc("POST "+Prefix+"/logout", c.form(c.logout))

	mux.HandleFunc("GET "+Prefix+"/clients", c.page(c.listClients))
	mux.HandleFunc("GET "+Prefix+"/clients/new", c.page(c.newClient))
	mux.HandleFunc("POST "+Prefix+"/clients/new", c.form(c.createClient))
	mux.HandleFunc("GET "+Prefix+"/clients/{id}", c.page(c.showClient))
	mux.HandleFunc("GET "+Prefix+"/clients/{id}/edit", c.page(c.editClient))
	mux.HandleFunc("POST "+Prefix+"/clients/{id}/edit", c.form(c.updateClient))
	mux.HandleFunc("GET "+Prefix+"/clients/{id}/rotate-secret", c.page(c.confirmRotateSecret))
	mux.HandleFunc("POST "+Prefix+"/clients/{id}/rotate-secret", c.form(c.rotateSecret))
	mux.HandleFunc("POST "+Prefix+"/clients/{id}/disable", c.form(c.setClientDisabled(true)))
	mux.HandleFunc("POST "+Prefix+"/clients/{id}/enable", c.form(c.setClientDisabled(false)))
	mux.HandleFunc("GET "+Prefix+"/clients/{id}/delete", c.page(c.confirmDeleteClient))
	mux.HandleFunc("POST "+Prefix+"/clients/{id}/delete", c.form(c.deleteClient))

	mux.HandleFunc("GET "+Prefix+"/users", c.page(c.listUsers))
	mux.HandleFunc("GET "+Prefix+"/users/new", c.page(c.newUser))
	mux.HandleFunc("POST "+Prefix+"/users/new", c.form(c.createUser))
	mux.HandleFunc("GET "+Prefix+"/users/{id}", c.page(c.showUser))
	mux.HandleFunc("POST "+Prefix+"/users/{id}/{action}", c.form(c.userAction))

	mux.HandleFunc("GET "+Prefix+"/import", c.page(c.importPage))
	mux.HandleFunc("POST "+Prefix+"/import", c.form(c.importPreview))
	mux.HandleFunc("POST "+Prefix+"/import/confirm", c.form(c.importConfirm))

	mux.HandleFunc("GET "+Prefix+"/policies", c.page(c.listPolicies))
	mux.HandleFunc("GET "+Prefix+"/policies/new", c.page(c.newPolicy))
	mux.HandleFunc("POST "+Prefix+"/policies/new", c.form(c.createPolicy))
	mux.HandleFunc("GET "+Prefix+"/policies/{name}/edit", c.page(c.editPolicy))
	mux.HandleFunc("POST "+Prefix+"/policies/{name}/edit", c.form(c.updatePolicy))
	mux.HandleFunc("GET "+Prefix+"/policies/{name}/delete", c.page(c.confirmDeletePolicy))
	mux.HandleFunc("POST "+Prefix+"/policies/{name}/delete", c.form(c.deletePolicy))
	mux.HandleFunc("GET "+Prefix+"/policies/{name}/history", c.page(c.policyHistory))
	mux.HandleFunc("GET "+Prefix+"/registration", c.page(c.registrationReport))

	mux.HandleFunc("GET "+Prefix+"/result/{id}", c.page(c.showResult))

	mux.HandleFunc("GET "+Prefix+"/audit", c.page(c.auditPage))
	mux.HandleFunc("GET "+Prefix+"/audit/export", c.page(c.auditExport))
}

// request is one signed-in console request.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	actor admin.Actor
	user  *identity.User
	csrf  string // the token every form on the page carries
	// session is the console session's cookie value, which one-time
	// results are kept under.
	session string
}

func (q *request) isAdmin() bool { return q.user.HasRole(identity.RoleAdmin) }

// session is a console sign-in, stored in Redis under a hash of its cookie.
type session struct {
	UserID    string    `json:"user_id"`
	IDToken   string    `json:"id_token"` // the hint that signs out of Gatehouse too
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}

func sessionKey(token string) string { return "admin-session:" + digest(token) }

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// current returns the browser's console session and its token, and an
// error only when Redis did not answer: an outage is not a sign-out.
func (c *Console) current(r *http.Request) (*session, string, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, "", nil
	}
	raw, err := c.kv.Get(r.Context(), sessionKey(ck.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var s session
	if json.Unmarshal(raw, &s) != nil {
		return nil, "", nil
	}
	if time.Since(s.LastSeen) > sessionIdle {
		if err := c.kv.Delete(r.Context(), sessionKey(ck.Value)); err != nil {
			c.logger.Warn("ending an idle console session", "err", err)
		}
		return nil, "", nil
	}
	return &s, ck.Value, nil
}

// unavailable is the page for a console session Redis could not look up.
func (c *Console) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	c.fail(w, r, http.StatusServiceUnavailable, "Console unavailable", "We couldn't check your console session. Try again in a moment.", err)
}

// seen records activity on session s, at most once every seenEvery.
func (c *Console) seen(r *http.Request, s *session, token string) {
	now := time.Now().UTC()
	left := s.CreatedAt.Add(sessionLifetime).Sub(now)
	if now.Sub(s.LastSeen) < seenEvery || left <= 0 {
		return
	}
	s.LastSeen = now
	if err := c.putJSON(r.Context(), sessionKey(token), s, left); err != nil {
		c.logger.Warn("recording console activity", "err", err)
	}
}

// signedIn loads the person behind session s with the roles they hold now;
// false when they may not use the console (the page is written).
func (c *Console) signedIn(w http.ResponseWriter, r *http.Request, s *session, token string) (*request, bool) {
	actor, u, err := c.svc.ConsoleActor(r.Context(), s.UserID, clientIP(r))
	switch {
	case errors.Is(err, admin.ErrForbidden) || errors.Is(err, store.ErrNotFound):
		c.endSession(w, r)
		c.noAccess(w, r)
		return nil, false
	case err != nil:
		c.fail(w, r, http.StatusServiceUnavailable, "Console unavailable", "We couldn't load your account. Try again in a moment.", err)
		return nil, false
	case !u.SessionValid(s.CreatedAt):
		c.endSession(w, r)
		http.Redirect(w, r, Prefix+"/login?return="+url.QueryEscape(r.URL.EscapedPath()), http.StatusSeeOther)
		return nil, false
	}
	c.seen(r, s, token)
	return &request{w: w, r: r, actor: actor, user: u, csrf: c.csrfToken(token), session: token}, true
}

// page wraps a GET handler that needs a signed-in person; without a
// session the browser goes to sign in and comes back.
func (c *Console) page(h func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, token, err := c.current(r)
		if err != nil {
			c.unavailable(w, r, err)
			return
		}
		if s == nil {
			http.Redirect(w, r, Prefix+"/login?return="+url.QueryEscape(r.URL.EscapedPath()), http.StatusSeeOther)
			return
		}
		if q, ok := c.signedIn(w, r, s, token); ok {
			h(q)
		}
	}
}

// form wraps a POST handler: the form must carry the CSRF token bound to
// the console session, checked before anything else happens.
func (c *Console) form(h func(*request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxUpload+1<<20)
		var err error
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			err = r.ParseMultipartForm(8 << 20)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			c.fail(w, r, http.StatusBadRequest, "Form not valid", "The form could not be read. Files may be at most 32 MB.", nil)
			return
		}
		s, token, err := c.current(r)
		if err != nil {
			c.unavailable(w, r, err)
			return
		}
		if s == nil || !hmac.Equal([]byte(r.PostFormValue("csrf_token")), []byte(c.csrfToken(token))) {
			c.fail(w, r, http.StatusForbidden, "Page expired", "This form was open too long or came from somewhere else, or your console session ended. Go back, reload the page and try again.", nil)
			return
		}
		if q, ok := c.signedIn(w, r, s, token); ok {
			h(q)
		}
	}
}

// csrfToken is an HMAC of the console session token: another site can
// neither read it nor compute it, and it dies with the session.
func (c *Console) csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, c.opt.CSRFKey)
	m.Write([]byte(sessionToken))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) startSession(w http.ResponseWriter, r *http.Request, s session) error {
	c.endSession(w, r)
	token := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	s.CreatedAt = time.Now().UTC()
	s.LastSeen = s.CreatedAt
	if err := c.putJSON(r.Context(), sessionKey(token), s, sessionLifetime); err != nil {
		return err
	}
	// No Max-Age: the cookie goes when the browser closes; Redis ends the
	// session after eight hours regardless.
	c.setCookie(w, sessionCookie, token, 0)
	return nil
}

func (c *Console) endSession(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if err := c.kv.Delete(r.Context(), sessionKey(ck.Value)); err != nil {
			c.logger.Warn("ending a console session", "err", err)
		}
	}
	c.setCookie(w, sessionCookie, "", -1)
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode}
	switch {
	case maxAge < 0:
		ck.MaxAge = -1
	case maxAge > 0:
		ck.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, ck)
}

// view is what every console template gets; Data is the page's own.
type view struct {
	Title, District string
	User            *identity.User // nil when nobody is signed in
	IsAdmin         bool
	CSRF            string
	Notice, Error   string
	Problems        []string
	RequestID       string
	Data            any
}

func (c *Console) view(q *request, title string, data any) view {
	v := view{Title: title, District: c.opt.District, Data: data}
	if q != nil {
		v.User, v.IsAdmin, v.CSRF = q.user, q.isAdmin(), q.csrf
	}
	return v
}

var pageNames = []string{"landing", "error", "dashboard", "clients", "client_form", "client", "client_secret", "client_delete",
	"client_rotate", "users", "user", "user_form", "user_password", "import", "import_preview", "import_result", "audit",
	"policies", "policy_form", "policy_delete", "policy_history", "registration"}

var funcs = template.FuncMap{
	"join": strings.Join,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"has":  slices.Contains[[]string],
	"path": url.PathEscape, // a name as one segment of an address
	"day":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"span": func(d time.Duration) string { // 24h0m0s as "24 hours"
		if d%time.Hour == 0 {
			return fmt.Sprintf("%d hours", d/time.Hour)
		}
		return d.String()
	},
}

func parsePages() (map[string]*template.Template, error) {
	layout, err := fs.ReadFile(templates.FS, "admin/layout.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).Parse(string(layout))
		if err == nil {
			t, err = t.ParseFS(templates.FS, "admin/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("admin template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page through a buffer, so a template error never leaves
// half a page behind.
func (c *Console) render(w http.ResponseWriter, status int, name string, v view) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.logger.Error("admin template", "page", name, "err", err)
		http.Error(w, "The page could not be shown. Try again.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // pages show secrets and personal data
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error page; err goes to the log under the request ID, never
// to the page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, title, msg string, err error) {
	c.showError(w, r, view{Title: title, District: c.opt.District}, status, msg, err)
}

// failFor is fail for a signed-in person, whose page keeps the console's
// navigation.
func (c *Console) failFor(q *request, status int, title, msg string, err error) {
	c.showError(q.w, q.r, c.view(q, title, nil), status, msg, err)
}

func (c *Console) showError(w http.ResponseWriter, r *http.Request, v view, status int, msg string, err error) {
	v.Error = msg
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", httpx.RetryAfterSeconds)
	}
	if err != nil {
		v.RequestID = httpx.RequestID(r.Context())
		c.logger.Error("admin console", "err", err, "path", r.URL.Path, "request_id", v.RequestID)
	}
	c.render(w, status, "error", v)
}

func (c *Console) noAccess(w http.ResponseWriter, r *http.Request) {
	c.fail(w, r, http.StatusForbidden, "No access", "You don't have access to the admin console. If you need it, ask an administrator.", nil)
}

// serviceError maps an error from admin.Service to a page; an unexpected
// one is logged, and the person sees a generic message.
func (c *Console) serviceError(q *request, what string, err error) {
	switch {
	case errors.Is(err, admin.ErrForbidden):
		c.failFor(q, http.StatusForbidden, "Not allowed", "You don't have permission to do that. Ask an administrator.", nil)
	case errors.Is(err, store.ErrNotFound):
		c.failFor(q, http.StatusNotFound, "Not found", "There is no such "+what+". It may have been deleted.", nil)
	default:
		c.failFor(q, http.StatusInternalServerError, "Something went wrong", "We couldn't complete that. Try again in a moment.", err)
	}
}

func (c *Console) putJSON(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.kv.Put(ctx, key, b, ttl)
}

// clientIP is the client's address, as the sign-in pages record it.
func clientIP(r *http.Request) string { return clientip.From(r) }
