// Package websession keeps signed-in browsers: the session cookie and what
// it stands for in Redis, the "Don't ask again" device cookie, and signing
// a person out everywhere.
package websession

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Session is a signed-in browser: what its sign-in proved, and when it
// began. It lives in Redis under a hash of the cookie value, with the idle
// timeout as its TTL.
type Session struct {
	flow.Proof
	CreatedAt time.Time `json:"created_at"`
}

// Users is what sessions need of the people they belong to.
type Users interface {
	Get(ctx context.Context, id string) (*identity.User, error)
	EndSessions(ctx context.Context, id string) error
}

// Grants revokes the refresh tokens apps hold for a person.
type Grants interface {
	RevokeSubject(ctx context.Context, subject string) error
}

// Options configure the session cookie.
type Options struct {
	Cookie   string
	Secure   bool
	Lifetime time.Duration // from sign-in, however active
	Idle     time.Duration // unused for this long ends it
}

// Sessions keeps browsers' sessions.
type Sessions struct {
	opt    Options
	kv     store.KV
	users  Users
	grants Grants
}

// New returns the sessions kept in kv.
func New(opt Options, kv store.KV, users Users, grants Grants) *Sessions {
	return &Sessions{opt: opt, kv: kv, users: users, grants: grants}
}

// Current returns the browser's live session, nil when it has none, and an
// error only when Redis did not answer: an outage is not a sign-out.
func (s *Sessions) Current(r *http.Request) (*Session, error) {
	ck, err := r.Cookie(s.opt.Cookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	data, err := s.kv.Get(r.Context(), session.Key(ck.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var bs Session
	if json.Unmarshal(data, &bs) != nil || time.Since(bs.CreatedAt) > s.opt.Lifetime {
		return nil, nil
	}
	s.kv.Touch(r.Context(), session.Key(ck.Value), s.opt.Idle)
	return &bs, nil
}

// Start replaces any session the browser had with a new one under a new
// ID, so an ID planted before sign-in is worthless after it.
func (s *Sessions) Start(w http.ResponseWriter, r *http.Request, bs Session) error {
	s.End(w, r)
	token := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	bs.CreatedAt = time.Now().UTC()
	data, err := json.Marshal(bs)
	if err != nil {
		return err
	}
	if err := s.kv.Put(r.Context(), session.Key(token), data, s.opt.Idle); err != nil {
		return err
	}
	// Index the session under its user, so a password change or reset can
	// end all of them.
	if err := s.kv.AddToSet(r.Context(), session.IndexKey(bs.UserID), session.Key(token), s.opt.Lifetime); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: s.opt.Cookie, Value: token, Path: "/", HttpOnly: true, Secure: s.opt.Secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// End deletes the browser's session and cookie.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(s.opt.Cookie); err == nil && ck.Value != "" {
		s.kv.Delete(r.Context(), session.Key(ck.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: s.opt.Cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.opt.Secure, SameSite: http.SameSiteLaxMode})
}

// SignedIn returns the browser's session and the person behind it. A
// session whose person was disabled, deleted or signed out everywhere since
// it began is ended here and reported as none; an error means storage did
// not answer.
func (s *Sessions) SignedIn(w http.ResponseWriter, r *http.Request) (*Session, *identity.User, error) {
	bs, err := s.Current(r)
	if err != nil || bs == nil {
		return nil, nil, err
	}
	u, err := s.users.Get(r.Context(), bs.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if err != nil || !u.SessionValid(bs.CreatedAt) {
		s.End(w, r)
		return nil, nil, nil
	}
	return bs, u, nil
}

// SignOutEverywhere ends every browser and console session and access
// token of a person (the stamp every replica checks), frees their session
// keys and revokes every refresh token apps hold for them.
func (s *Sessions) SignOutEverywhere(ctx context.Context, userID string) error {
	if err := s.users.EndSessions(ctx, userID); err != nil {
		return err
	}
	if err := (session.Revoker{KV: s.kv, Lifetime: s.opt.Lifetime}).RevokeAll(ctx, userID, ""); err != nil {
		return err
	}
	return s.grants.RevokeSubject(ctx, userID)
}
