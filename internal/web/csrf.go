package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

// csrf binds every form to a random per-browser cookie: the form carries an
// HMAC of the cookie, which another site can neither read nor compute.
type csrf struct {
	key    []byte
	secure bool
}

const csrfCookie = "gatehouse_csrf"

// browserID returns the browser's random ID, setting the cookie on first use.
// Flows are bound to it too.
func (c *csrf) browserID(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	id := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: id, Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: id})
	return id
}

func (c *csrf) token(browser string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(browser))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// valid checks a POSTed form's token in constant time.
func (c *csrf) valid(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(r.PostFormValue("csrf_token")), []byte(c.token(ck.Value)))
}
