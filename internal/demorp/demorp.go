// Package demorp is a tiny OpenID Connect relying party for seeing Gatehouse
// work end to end: sign in, look at the ID token, sign out.
package demorp

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/pkg/rp"
)

// Options configure the demo app.
type Options struct {
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client: PKCE only
	RedirectURL  string // its path is where the callback is served
	// PostLogoutURL is where the provider returns after sign-out; it
	// defaults to the app's own "/".
	PostLogoutURL string
	HTTPClient    *http.Client // for discovery, keys and the token endpoint
}

// Cookie names are prefixed because cookies ignore ports: on localhost this
// app and Gatehouse share one cookie jar.
const (
	loginCookie   = "demorp_login"
	sessionCookie = "demorp_session"
	loginLifetime = 10 * time.Minute
	sessionLife   = 8 * time.Hour
)

//go:embed page.html
var pageFS embed.FS

var pages = template.Must(template.ParseFS(pageFS, "page.html"))

type pendingLogin struct {
	login   rp.Login
	expires time.Time
}

type session struct {
	claims  map[string]any
	rawJSON string
	idToken string
	expires time.Time
}

type app struct {
	rp         *rp.Client
	postLogout string
	secure     bool

	// This is a demo: logins and sessions live in memory and vanish on
	// restart. A real app would use its own session store.
	mu       sync.Mutex
	pending  map[string]pendingLogin // by state
	sessions map[string]session      // by session cookie
}

// New discovers the provider at o.Issuer and returns the demo app.
func New(ctx context.Context, o Options) (http.Handler, error) {
	if o.Issuer == "" || o.ClientID == "" || o.RedirectURL == "" {
		return nil, errors.New("demorp: the issuer, client ID and redirect URL are required")
	}
	redirect, err := url.Parse(o.RedirectURL)
	if err != nil || !redirect.IsAbs() {
		return nil, fmt.Errorf("demorp: the redirect URL %q must be an absolute URL", o.RedirectURL)
	}
	switch redirect.Path {
	case "", "/", "/login", "/logout":
		return nil, fmt.Errorf("demorp: the redirect URL %q needs a path of its own, such as /callback", o.RedirectURL)
	}
	client, err := rp.New(ctx, rp.Config{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		RedirectURL: o.RedirectURL, Scopes: []string{"profile", "email"}, HTTPClient: o.HTTPClient, LoginLifetime: loginLifetime})
	if err != nil {
		return nil, fmt.Errorf("demorp: %w", err)
	}
	postLogout := o.PostLogoutURL
	if postLogout == "" {
		postLogout = (&url.URL{Scheme: redirect.Scheme, Host: redirect.Host, Path: "/"}).String()
	}
	a := &app{
		rp:         client,
		postLogout: postLogout,
		secure:     redirect.Scheme == "https",
		pending:    map[string]pendingLogin{},
		sessions:   map[string]session{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET "+redirect.Path, a.callback)
	mux.HandleFunc("POST /logout", a.logout)
	return mux, nil
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{}
	if s, ok := a.session(r); ok {
		data["SignedIn"] = true
		data["Claims"] = claimRows(s.claims)
		data["Username"] = s.claims["preferred_username"]
		data["RawJSON"] = s.rawJSON
	}
	render(w, http.StatusOK, "home", data)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	// Passed through so the page can demonstrate step-up and forced re-login.
	authURL, login := a.rp.AuthCodeURL(rp.LoginOptions{ACR: r.URL.Query().Get("acr_values"), Prompt: r.URL.Query().Get("prompt")})
	now := time.Now()
	a.mu.Lock()
	for k, p := range a.pending {
		if now.After(p.expires) {
			delete(a.pending, k)
		}
	}
	a.pending[login.State] = pendingLogin{login: login, expires: now.Add(loginLifetime)}
	a.mu.Unlock()
	// The cookie binds the state to this browser, so a callback carrying a
	// state started elsewhere (login CSRF) is refused.
	a.setCookie(w, loginCookie, login.State, loginLifetime)
	http.Redirect(w, r, authURL, http.StatusFound)
}

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" {
		a.setCookie(w, loginCookie, "", -1)
		fail(w, "This sign-in was not started in this browser, or it took too long. Start again.")
		return
	}
	pending, ok := a.forgetLogin(w, c.Value)
	if !ok {
		fail(w, "This sign-in has expired. Start again.")
		return
	}
	res, err := a.rp.Callback(r.Context(), r.URL.Query(), pending.login)
	if err != nil {
		refuse(w, err)
		return
	}
	pretty, _ := json.MarshalIndent(res.Claims, "", "  ")
	id := rand.Text()
	now := time.Now()
	a.mu.Lock()
	for k, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, k)
		}
	}
	a.sessions[id] = session{claims: res.Claims, rawJSON: string(pretty), idToken: res.RawIDToken, expires: now.Add(sessionLife)}
	a.mu.Unlock()
	a.setCookie(w, sessionCookie, id, sessionLife)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// refuse explains why a callback was refused.
func refuse(w http.ResponseWriter, err error) {
	var (
		provider *rp.ResponseError
		issuer   *rp.IssuerError
		weak     *rp.AssuranceError
	)
	switch {
	case errors.As(err, &provider):
		render(w, http.StatusBadRequest, "error", map[string]any{
			"Title": "The provider did not sign you in", "Code": provider.Code, "Message": provider.Description,
		})
	case errors.Is(err, rp.ErrStateMismatch):
		fail(w, "This sign-in was not started in this browser, or it took too long. Start again.")
	case errors.Is(err, rp.ErrLoginExpired):
		fail(w, "This sign-in has expired. Start again.")
	case errors.As(err, &issuer) && issuer.Got != "":
		fail(w, fmt.Sprintf("The response came from issuer %q, not %q.", issuer.Got, issuer.Want))
	case errors.As(err, &issuer):
		fail(w, "The response did not say which issuer sent it.")
	case errors.Is(err, rp.ErrNonceMismatch):
		fail(w, "The ID token's nonce does not match this sign-in.")
	case errors.As(err, &weak):
		fail(w, fmt.Sprintf("This sign-in was at assurance level %q; the app asked for %q.", weak.ACR, weak.Required))
	default:
		fail(w, "Completing the sign-in failed: "+err.Error())
	}
}

// logout is POST only; the SameSite=Lax session cookie is not sent on a
// cross-site POST, so another site cannot sign the user out.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := a.session(r)
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	a.setCookie(w, sessionCookie, "", -1)
	end, hasEnd := a.rp.EndSessionURL(s.idToken, a.postLogout)
	if !ok || !hasEnd {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, end, http.StatusSeeOther)
}

func (a *app) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[c.Value]
	if !ok || time.Now().After(s.expires) {
		return session{}, false
	}
	return s, true
}

// forgetLogin ends a pending sign-in, so each state is redeemed at most once.
func (a *app) forgetLogin(w http.ResponseWriter, state string) (pendingLogin, bool) {
	a.setCookie(w, loginCookie, "", -1)
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pending[state]
	delete(a.pending, state)
	return p, ok && time.Now().Before(p.expires)
}

func (a *app) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
		MaxAge: int(maxAge / time.Second),
	}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

type claimRow struct{ Name, Value string }

// claimRows picks the claims worth a glance, formatted for people.
func claimRows(c map[string]any) []claimRow {
	var rows []claimRow
	for _, name := range []string{"sub", "preferred_username", "name", "email", "acr", "amr", "auth_time"} {
		v, ok := c[name]
		if !ok {
			continue
		}
		var s string
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ", ")
		case float64: // JSON numbers: auth_time is seconds since the epoch
			if name == "auth_time" {
				s = time.Unix(int64(v), 0).UTC().Format("2006-01-02 15:04:05 MST")
			} else {
				s = fmt.Sprint(v)
			}
		default:
			s = fmt.Sprint(v)
		}
		rows = append(rows, claimRow{name, s})
	}
	return rows
}

func fail(w http.ResponseWriter, msg string) {
	render(w, http.StatusBadRequest, "error", map[string]any{"Title": "Sign-in failed", "Message": msg})
}

func render(w http.ResponseWriter, status int, name string, data map[string]any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
