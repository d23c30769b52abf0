package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/session"
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

// current returns the browser's live session, or nil.
func (s *sessions) current(r *http.Request) *browserSession {
	ck, err := r.Cookie(s.cookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	data, err := s.kv.Get(r.Context(), sessionKey(ck.Value))
	if err != nil {
		return nil
	}
	var bs browserSession
	if json.Unmarshal(data, &bs) != nil || time.Since(bs.CreatedAt) > s.lifetime {
		return nil
	}
	s.kv.Touch(r.Context(), sessionKey(ck.Value), s.idle)
	return &bs
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

// endAll ends every session of a user except the one keyed keep.
func (s *sessions) endAll(ctx context.Context, userID, keep string) error {
	return session.Revoker{KV: s.kv, Lifetime: s.lifetime}.RevokeAll(ctx, userID, keep)
}

// currentKey is the storage key of the browser's session, or "".
func (s *sessions) currentKey(r *http.Request) string {
	if ck, err := r.Cookie(s.cookie); err == nil && ck.Value != "" {
		return sessionKey(ck.Value)
	}
	return ""
}
