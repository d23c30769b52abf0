// Package web serves the browser side of Gatehouse: the authorization
// endpoint, the sign-in steps and logout.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/questions"
)

// Options configure the browser handlers.
type Options struct {
	Issuer             string
	District, Domain   string
	SecureCookies      bool
	CSRFKey            []byte
	SessionCookie      string
	SessionLifetime    time.Duration
	SessionIdle        time.Duration
	MinPasswordLength  int
	HelpDeskURL        string
	TroubleshootingURL string
	RememberKey        []byte // signs "Don't ask again" cookies
	// SecurityInfoFreshness is how recent a proof must be to change
	// security info.
	SecurityInfoFreshness time.Duration
}

// Grants revokes the refresh tokens apps hold for a person.
type Grants interface {
	RevokeSubject(ctx context.Context, subject string) error
}

// Handler serves the browser pages.
type Handler struct {
	opt       Options
	provider  fosite.OAuth2Provider
	users     *identity.Service
	clients   oauth.ClientSource
	keys      *keys.Manager
	flows     *flow.Store
	kv        KV
	mfa       *mfa.Service
	questions *questions.Service
	policy    policy.Resolver
	grants    Grants
	lockout   *lockout.Lockout
	audit     *audit.Recorder
	metrics   *metrics.Metrics
	logger    *slog.Logger
	pages     *renderer
	csrf      *csrf
	sessions  *sessions
}

// Deps are the services the handlers use.
type Deps struct {
	Provider  fosite.OAuth2Provider
	Users     *identity.Service
	Clients   oauth.ClientSource
	Keys      *keys.Manager
	Flows     *flow.Store
	KV        KV
	MFA       *mfa.Service
	Questions *questions.Service
	Policy    policy.Resolver
	Grants    Grants
	Lockout   *lockout.Lockout
	Audit     *audit.Recorder
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
}

// New parses the templates and returns the handlers.
func New(opt Options, d Deps) (*Handler, error) {
	pages, err := newRenderer()
	if err != nil {
		return nil, err
	}
	return &Handler{
		opt: opt, provider: d.Provider, users: d.Users, clients: d.Clients, keys: d.Keys, flows: d.Flows, kv: d.KV, mfa: d.MFA, questions: d.Questions, policy: d.Policy, grants: d.Grants, lockout: d.Lockout,
		audit: d.Audit, metrics: d.Metrics, logger: d.Logger, pages: pages,
		csrf: &csrf{key: opt.CSRFKey, secure: opt.SecureCookies},
		sessions: &sessions{kv: d.KV, cookie: opt.SessionCookie, secure: opt.SecureCookies,
			lifetime: opt.SessionLifetime, idle: opt.SessionIdle},
	}, nil
}

// Mount registers the browser routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.home)
	mux.HandleFunc("GET "+oauth.PathAuthorize, h.authorize)
	mux.HandleFunc("POST "+oauth.PathAuthorize, h.authorize)
	mux.HandleFunc("GET /login/username", h.usernamePage)
	mux.HandleFunc("POST /login/username", h.usernameSubmit)
	mux.HandleFunc("GET /login/password", h.passwordPage)
	mux.HandleFunc("POST /login/password", h.passwordSubmit)
	mux.HandleFunc("GET /login/change-password", h.changePasswordPage)
	mux.HandleFunc("POST /login/change-password", h.changePasswordSubmit)
	mux.HandleFunc("GET /login/enroll", h.enrollPage)
	mux.HandleFunc("POST /login/enroll", h.enrollSubmit)
	mux.HandleFunc("GET /login/mfa", h.mfaPage)
	mux.HandleFunc("POST /login/mfa", h.mfaSubmit)
	mux.HandleFunc("GET /login/consent", h.consentPage)
	mux.HandleFunc("POST /login/consent", h.consentSubmit)
	mux.HandleFunc("GET /account", h.accountPage)
	mux.HandleFunc("POST /account/default", h.accountDefault)
	mux.HandleFunc("POST /account/delete", h.accountDelete)
	mux.HandleFunc("GET /account/add", h.accountAddPage)
	mux.HandleFunc("POST /account/add", h.accountAdd)
	mux.HandleFunc("GET /account/password", h.passwordChangePage)
	mux.HandleFunc("POST /account/password", h.passwordChange)
	mux.HandleFunc("GET /account/questions", h.questionsPage)
	mux.HandleFunc("POST /account/questions", h.questionsSubmit)
	mux.HandleFunc("GET /reset", h.resetStart)
	mux.HandleFunc("POST /reset", h.resetBegin)
	mux.HandleFunc("GET /reset/verify", h.resetVerifyPage)
	mux.HandleFunc("POST /reset/verify", h.resetVerify)
	mux.HandleFunc("GET "+oauth.PathLogout, h.logout)
	mux.HandleFunc("POST "+oauth.PathLogout, h.logout)
}

func (h *Handler) page(title string) page {
	return page{Title: title, District: h.opt.District, Domain: h.opt.Domain, PasswordRule: identity.PasswordRule(h.opt.MinPasswordLength),
		HelpDeskURL: h.opt.HelpDeskURL, TroubleshootingURL: h.opt.TroubleshootingURL}
}

// fail shows an error page; details go to the log, never to the user. A
// 503 (storage or a dependency did not answer) says when to retry and
// offers a button that repeats the page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, title, msg string, err error) {
	p := h.page(title)
	p.Title, p.Message = title, msg
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
		p.RetryURL = retryURL(r)
	}
	if err != nil {
		p.RequestID = RequestID(r.Context())
		h.logger.Error(title, "err", err, "path", r.URL.Path, "request_id", p.RequestID)
	}
	h.pages.render(w, status, "error", p)
}

const retryAfterSeconds = "5"

// retryURL is the page to load again after an outage: the same address for
// a GET, the form's page for a POST, and the whole authorization request
// for a POSTed one.
func retryURL(r *http.Request) string {
	if r.Method == http.MethodPost && r.URL.Path == oauth.PathAuthorize && r.Form != nil {
		return oauth.PathAuthorize + "?" + r.Form.Encode()
	}
	return r.URL.RequestURI()
}

// NotFound renders the error page for unknown paths.
func (h *Handler) NotFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.", nil)
}

// Recover turns a panic into the generic error page instead of a stack trace.
func (h *Handler) Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.fail(w, r, http.StatusInternalServerError, "Something went wrong",
					"We couldn't complete your request. Try again in a moment.", fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	p := h.page("Sign in")
	p.CSRF = h.csrf.token(h.csrf.browserID(w, r))
	if _, u, err := h.signedIn(w, r); err == nil && u != nil {
		p.Username = u.Username
	}
	h.pages.render(w, http.StatusOK, "home", p)
}
