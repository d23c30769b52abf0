package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// "Don't ask again for N days" is a cookie signed with a server key, bound
// to one person and to a stamp of their password, method-reset time and
// "valid after" moment, so a password reset, a method reset or signing
// them out everywhere ends every remembered device.
const rememberCookie = "gatehouse_mfa_remember"

type rememberClaims struct {
	User    string `json:"u"`
	Expires int64  `json:"e"`
	Stamp   string `json:"s"`
}

func (h *Handler) securityStamp(ctx context.Context, u *identity.User) (string, error) {
	st, err := h.mfa.State(ctx, u.ID)
	if err != nil {
		return "", err
	}
	sum := sha256.New()
	sum.Write([]byte(u.ID + "\x00" + u.PasswordHash + "\x00"))
	if st.MethodsResetAt != nil {
		sum.Write([]byte(st.MethodsResetAt.UTC().Format(time.RFC3339Nano)))
	}
	sum.Write([]byte{0})
	if u.SessionsValidAfter != nil {
		sum.Write([]byte(u.SessionsValidAfter.UTC().Format(time.RFC3339Nano)))
	}
	return base64.RawURLEncoding.EncodeToString(sum.Sum(nil)[:16]), nil
}

func (h *Handler) signRemember(payload string) string {
	m := hmac.New(sha256.New, h.opt.RememberKey)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// remember sets the cookie after a successful challenge.
func (h *Handler) remember(w http.ResponseWriter, r *http.Request, u *identity.User, days int) {
	stamp, err := h.securityStamp(r.Context(), u)
	if err != nil {
		h.logger.Error("remembering a device", "err", err)
		return
	}
	exp := time.Now().AddDate(0, 0, days)
	data, _ := json.Marshal(rememberClaims{User: u.ID, Expires: exp.Unix(), Stamp: stamp})
	payload := base64.RawURLEncoding.EncodeToString(data)
	http.SetCookie(w, &http.Cookie{Name: rememberCookie, Value: payload + "." + h.signRemember(payload), Path: "/login/",
		Expires: exp, HttpOnly: true, Secure: h.opt.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// remembered reports whether this browser carries a valid cookie for u.
func (h *Handler) remembered(r *http.Request, u *identity.User) bool {
	ck, err := r.Cookie(rememberCookie)
	if err != nil {
		return false
	}
	payload, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(h.signRemember(payload))) {
		return false
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	var c rememberClaims
	if err != nil || json.Unmarshal(data, &c) != nil || c.User != u.ID || time.Now().Unix() > c.Expires {
		return false
	}
	stamp, err := h.securityStamp(r.Context(), u)
	return err == nil && hmac.Equal([]byte(stamp), []byte(c.Stamp))
}
