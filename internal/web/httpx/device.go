package httpx

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/secrets"
)

// deviceCookie is a long-lived random ID for this browser. Once someone has
// signed in from it, their locks there are its own: a classmate's wrong
// guesses elsewhere, even behind the same school address, do not reach it.
const (
	deviceCookie   = "gatehouse_device"
	deviceLifetime = 400 * 24 * time.Hour // the longest browsers keep a cookie
)

// Device returns the browser's device ID, setting the cookie on first use.
func (b *Base) Device(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(deviceCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	id := base64.RawURLEncoding.EncodeToString(secrets.RandomToken(32))
	http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: id, Path: "/", MaxAge: int(deviceLifetime.Seconds()),
		HttpOnly: true, Secure: b.Site.SecureCookies, SameSite: http.SameSiteLaxMode})
	r.AddCookie(&http.Cookie{Name: deviceCookie, Value: id})
	return id
}

// Attempts finds who is trying a sign-in or reset.
type Attempts interface {
	Attempt(ctx context.Context, userID, device, addr string) (lockout.Attempt, error)
}

// Attempt says who is trying username's sign-in or reset, for the limits.
// When the device cannot be looked up it counts as unfamiliar, so the
// address's limits still apply.
func (b *Base) Attempt(w http.ResponseWriter, r *http.Request, locks Attempts, username string) lockout.Attempt {
	a, err := locks.Attempt(r.Context(), username, b.Device(w, r), ClientIP(r))
	if err != nil {
		b.Logger.Warn("looking up a device", "err", err, "request_id", RequestID(r.Context()))
	}
	return a
}
