package web

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

// browserSession is a signed-in browser. It lives in Redis under a hash of
// the cookie value, with the idle timeout as its TTL.
type browserSession struct {
	UserID    string    `json:"user_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	ACR       string    `json:"acr"`
	CreatedAt time.Time `json:"created_at"`
	// What the sign-in found, so later apps in the same session follow the
	// same policy without looking it up again.
	PolicyMFA  bool      `json:"policy_mfa,omitempty"`
	HasMethods bool      `json:"has_methods,omitempty"`
	MFAAt      time.Time `json:"mfa_at,omitzero"` // when a second factor was last proved
	// Deferred is set when the sign-in put registration off within the
	// policy's grace, so My Account does not demand a second factor the
	// person has not registered yet.
	Deferred bool `json:"deferred,omitempty"`
}

// KV is the TTL-bound store behind sessions and counters.
type KV interface {
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, keys ...string) error
	Touch(ctx context.Context, key string, ttl time.Duration) error
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	AddToSet(ctx context.Context, key, member string, ttl time.Duration) error
	TakeSet(ctx context.Context, key string) ([]string, error)
}

type sessions struct {
	kv       KV
	cookie   string
	secure   bool
	lifetime time.Duration
	idle     time.Duration
}

func sessionKey(token string) string { return session.Key(token) }

// current returns the browser's live session, nil when it has none, and an
// error only when Redis did not answer: an outage is not a sign-out.
func (s *sessions) current(r *http.Request) (*browserSession, error) {
	ck, err := r.Cookie(s.cookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	data, err := s.kv.Get(r.Context(), sessionKey(ck.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var bs browserSession
	if json.Unmarshal(data, &bs) != nil || time.Since(bs.CreatedAt) > s.lifetime {
		return nil, nil
	}
	s.kv.Touch(r.Context(), sessionKey(ck.Value), s.idle)
	return &bs, nil
}

// start replaces any session the browser had with a new one under a new ID,
// so an ID planted before sign-in is worthless after it.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, bs browserSession) error {
	s.end(w, r)
	token := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	bs.CreatedAt = time.Now().UTC()
	data, err := json.Marshal(bs)
	if err != nil {
		return err
	}
	if err := s.kv.Put(r.Context(), sessionKey(token), data, s.idle); err != nil {
		return err
	}
	// Index the session under its user, so a password change or reset can
	// end all of them.
	if err := s.kv.AddToSet(r.Context(), session.IndexKey(bs.UserID), sessionKey(token), s.lifetime); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: token, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// end deletes the browser's session and cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(s.cookie); err == nil && ck.Value != "" {
		s.kv.Delete(r.Context(), sessionKey(ck.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// endAll ends every session of a user.
func (s *sessions) endAll(ctx context.Context, userID string) error {
	return session.Revoker{KV: s.kv, Lifetime: s.lifetime}.RevokeAll(ctx, userID, "")
}

// signedIn returns the browser's session and the person behind it. A
// session whose person was disabled, deleted or signed out everywhere since
// it began is ended here and reported as none; an error means storage did
// not answer.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) (*browserSession, *identity.User, error) {
	bs, err := h.sessions.current(r)
	if err != nil || bs == nil {
		return nil, nil, err
	}
	u, err := h.users.Get(r.Context(), bs.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if err != nil || !u.SessionValid(bs.CreatedAt) {
		h.sessions.end(w, r)
		return nil, nil, nil
	}
	return bs, u, nil
}

// sessionFromFlow is the session a completed sign-in starts.
func sessionFromFlow(f *flow.Flow) browserSession {
	return browserSession{UserID: f.UserID, AuthTime: f.AuthTime, AMR: f.AMR, ACR: f.ACR, MFAAt: f.MFAAt,
		PolicyMFA: f.PolicyMFA, HasMethods: f.HasMethods || f.Enroll != nil && len(f.Enroll.Done) > 0, Deferred: f.Deferred}
}
