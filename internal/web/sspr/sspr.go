// Package sspr is self-service password reset: "Can't access your
// account?" → username → proofs on the number of different channels the
// policy requires → a new password. Until a first proof every username,
// known or not, with methods or without, sees the same pages and choices,
// and no masked number or address: a choice that matches nothing the
// person can use becomes a decoy that runs like a real proof and never
// succeeds.
package sspr

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/websession"
)

// Users finds the person and sets the new password.
type Users interface {
	Find(ctx context.Context, username string) (*identity.User, error)
	Get(ctx context.Context, id string) (*identity.User, error)
	SetPassword(ctx context.Context, id, password string, mustChange bool) error
	EndSessions(ctx context.Context, id string) error
}

// MFA is what the proofs need of the methods service.
type MFA interface {
	Methods(ctx context.Context, userID string) ([]mfa.Method, error)
	SendCode(ctx context.Context, r mfa.CodeRequest, lim mfa.Limits) error
	CheckCode(ctx context.Context, scope, code, userID, ip string, lim mfa.Limits) error
	CheckAnyTOTP(ctx context.Context, sealed [][]byte, code, userID, ip string, lim mfa.Limits) error
	Notify(ctx context.Context, userID, email string, methods []mfa.Method, skip, text string)
}

// Questions checks security questions; nil when the district has none.
type Questions interface {
	Catalog() questions.Catalog
	Registered(ctx context.Context, userID string) ([]questions.Answer, error)
	Draw(ctx context.Context, userID string, m int) ([]questions.Question, error)
	Check(ctx context.Context, userID string, answers map[string]string) (bool, error)
}

// Lockout limits resets per person and source.
type Lockout interface {
	Attempt(ctx context.Context, userID, device, addr string) (lockout.Attempt, error)
	ResetStart(ctx context.Context, userID string, a lockout.Attempt) (bool, error)
	SSPRLocked(ctx context.Context, userID string, src lockout.Source) (time.Time, error)
	SSPRProofFailed(ctx context.Context, userID string, src lockout.Source) (time.Time, error)
	SSPREmailSent(ctx context.Context, userID string, src lockout.Source) (time.Time, error)
	SSPRReset(ctx context.Context, userID string) error
	Unlock(ctx context.Context, userID string) error
}

// Deps are what password reset needs.
type Deps struct {
	KV                store.KV
	Users             Users
	MFA               MFA
	Questions         Questions
	Policy            policy.Resolver
	Lockout           Lockout
	Sessions          *websession.Sessions
	Audit             *audit.Recorder
	MinPasswordLength int
}

// Handler serves password reset.
type Handler struct {
	*httpx.Base
	Deps
	pages *httpx.Pages
}

// New parses the page and returns the handler.
func New(base *httpx.Base, d Deps) (*Handler, error) {
	pages, err := httpx.ParsePages("reset")
	if err != nil {
		return nil, err
	}
	return &Handler{Base: base, Deps: d, pages: pages}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /reset", h.start)
	mux.HandleFunc("POST /reset", h.begin)
	mux.HandleFunc("GET /reset/verify", h.verifyPage)
	mux.HandleFunc("POST /reset/verify", h.verify)
}

const (
	resetCookie   = "gatehouse_reset"
	resetLifetime = 15 * time.Minute
)

// Reset stages.
const (
	stageChoose      = "choose"
	stageCode        = "code"
	stageApp         = "app"
	stageQuestions   = "questions"
	stagePassword    = "password"
	stageDone        = "done"
	stageUnavailable = "unavailable"
	stageLocked      = "locked"
)

// reset is one password reset, kept in Redis for 15 minutes.
type reset struct {
	Username  string    `json:"username"`
	UserID    string    `json:"user_id,omitempty"` // empty for an unknown username
	Stage     string    `json:"stage"`
	Option    string    `json:"option,omitempty"` // the method being proved: "<channel>|<factor>"
	Proved    []string  `json:"proved,omitempty"` // channels proved
	Decoy     bool      `json:"decoy,omitempty"`  // the proof under way matches nothing registered
	Drawn     []string  `json:"drawn,omitempty"`  // security questions asked
	ReturnTo  string    `json:"return,omitempty"` // the sign-in to go back to
	CreatedAt time.Time `json:"created_at"`

	// Source is who started the reset; its SSPR lock is theirs alone.
	Source lockout.Source `json:"source"`
}

func resetKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "reset:" + hex.EncodeToString(sum[:])
}

var errResetExpired = errors.New("password reset expired")

// load returns the browser's password reset, nil when it has none, and an
// error only when Redis did not answer: an outage is not an expiry.
func (h *Handler) load(r *http.Request) (*reset, string, error) {
	ck, err := r.Cookie(resetCookie)
	if err != nil || ck.Value == "" {
		return nil, "", nil
	}
	data, err := h.KV.Get(r.Context(), resetKey(ck.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var rs reset
	if json.Unmarshal(data, &rs) != nil || time.Since(rs.CreatedAt) > resetLifetime {
		return nil, "", nil
	}
	return &rs, ck.Value, nil
}

func (h *Handler) save(ctx context.Context, token string, rs *reset) error {
	data, err := json.Marshal(rs)
	if err != nil {
		return err
	}
	ttl := resetLifetime - time.Since(rs.CreatedAt)
	if ttl <= 0 {
		return errResetExpired
	}
	return h.KV.Put(ctx, resetKey(token), data, ttl)
}

// notSaved answers a reset step whose state could not be stored: expired
// only when its lifetime is over, otherwise Redis did not answer.
func (h *Handler) notSaved(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errResetExpired) {
		h.expired(w, r)
		return
	}
	h.unavailable(w, r, "We couldn't save your progress. Try again in a moment.", err)
}

func (h *Handler) expired(w http.ResponseWriter, r *http.Request) {
	h.Fail(w, r, http.StatusBadRequest, "Password reset expired", "Your password reset session has expired. Start again.", nil)
}

func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, msg string, err error) {
	h.Busy(w, r, "Password reset unavailable", msg, err)
}

// usernamePage renders "Who are you?" again with msg.
func (h *Handler) usernamePage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := h.view(w, r, "Get back into your account")
	p.Error, p.Username, p.FlowID = msg, r.PostFormValue("username"), r.URL.Query().Get("flow")
	p.Reset = &resetView{Stage: "username"}
	h.pages.Render(w, status, "reset", p)
}

func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	h.usernamePage(w, r, http.StatusOK, "")
}

// begin takes the username. Known or not, the same lookups run, the same
// cookie is set and the same redirect follows.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request) {
	if !h.CSRF.Valid(r) {
		h.FormExpired(w, r, "Page expired", "This page was open too long. Start the password reset again.")
		return
	}
	ctx := r.Context()
	name, err := identity.NormalizeUsername(r.PostFormValue("username"), h.Site.Domain)
	if err != nil {
		h.usernamePage(w, r, http.StatusUnprocessableEntity, "Enter a valid username, like name@"+h.Site.Domain+".")
		return
	}
	// Each start can send codes, and probes usernames.
	try := h.Attempt(w, r, h.Lockout, name)
	if ok, err := h.Lockout.ResetStart(ctx, name, try); err == nil && !ok {
		h.Audit.Record(ctx, audit.Event{Type: "sspr.limit_reached", Outcome: "failure", IP: httpx.ClientIP(r)})
		h.usernamePage(w, r, http.StatusTooManyRequests, "Too many password resets. Wait an hour and try again, or contact the Help Desk.")
		return
	}
	rs := &reset{Username: name, Source: try.Source, CreatedAt: time.Now().UTC(), Stage: stageChoose}
	if id := r.URL.Query().Get("flow"); id != "" {
		rs.ReturnTo = "/login/username?flow=" + url.QueryEscape(id)
	}
	u, err := h.Users.Find(ctx, name)
	switch {
	case err == nil:
		rs.UserID = u.ID
	case !errors.Is(err, store.ErrNotFound):
		h.unavailable(w, r, "We couldn't start the password reset. Try again in a moment.", err)
		return
	}
	if until, err := h.Lockout.SSPRLocked(ctx, rs.Username, rs.Source); err == nil && !until.IsZero() {
		rs.Stage = stageLocked
	}
	token := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	if err := h.save(ctx, token, rs); err != nil {
		h.unavailable(w, r, "We couldn't start the password reset. Try again in a moment.", err)
		return
	}
	h.Audit.Record(ctx, audit.Event{Type: "sspr.started", SubjectID: rs.UserID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent(),
		Details: map[string]string{"username": name, "stage": rs.Stage}})
	http.SetCookie(w, &http.Cookie{Name: resetCookie, Value: token, Path: "/reset", MaxAge: int(resetLifetime.Seconds()),
		HttpOnly: true, Secure: h.Site.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/reset/verify", http.StatusSeeOther)
}
