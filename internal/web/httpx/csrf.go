package httpx

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

// CSRF binds every form to a random per-browser cookie: the form carries an
// HMAC of the cookie, which another site can neither read nor compute.
type CSRF struct {
	key    []byte
	secure bool
}

// NewCSRF returns the form guard keyed with key; secure marks its cookie
// HTTPS-only.
func NewCSRF(key []byte, secure bool) *CSRF { return &CSRF{key: key, secure: secure} }

const csrfCookie = "gatehouse_csrf"

// BrowserID returns the browser's random ID, setting the cookie on first
// use. Sign-in flows are bound to it too.
func (c *CSRF) BrowserID(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	id := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: id, Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: id})
	return id
}

// Token is the form token of browser.
func (c *CSRF) Token(browser string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(browser))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// For is the form token of the browser making r.
func (c *CSRF) For(w http.ResponseWriter, r *http.Request) string { return c.Token(c.BrowserID(w, r)) }

// Valid checks a POSTed form's token in constant time.
func (c *CSRF) Valid(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(r.PostFormValue("csrf_token")), []byte(c.Token(ck.Value)))
}
