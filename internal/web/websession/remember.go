package websession

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
	"github.com/gatehouse/gatehouse/internal/mfa"
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

// MFAStates reads when a person's methods were last reset.
type MFAStates interface {
	State(ctx context.Context, userID string) (*mfa.State, error)
}

// Devices remembers browsers that passed the challenge.
type Devices struct {
	key    []byte
	secure bool
	states MFAStates
}

// NewDevices returns the remembered devices, signed with key.
func NewDevices(key []byte, secure bool, states MFAStates) *Devices {
	return &Devices{key: key, secure: secure, states: states}
}

func (d *Devices) securityStamp(ctx context.Context, u *identity.User) (string, error) {
	st, err := d.states.State(ctx, u.ID)
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

func (d *Devices) sign(payload string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Remember sets the cookie after a successful challenge.
func (d *Devices) Remember(w http.ResponseWriter, r *http.Request, u *identity.User, days int) error {
	stamp, err := d.securityStamp(r.Context(), u)
	if err != nil {
		return err
	}
	exp := time.Now().AddDate(0, 0, days)
	data, _ := json.Marshal(rememberClaims{User: u.ID, Expires: exp.Unix(), Stamp: stamp})
	payload := base64.RawURLEncoding.EncodeToString(data)
	http.SetCookie(w, &http.Cookie{Name: rememberCookie, Value: payload + "." + d.sign(payload), Path: "/login/",
		Expires: exp, HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// Remembered reports whether this browser carries a valid cookie for u.
func (d *Devices) Remembered(r *http.Request, u *identity.User) bool {
	ck, err := r.Cookie(rememberCookie)
	if err != nil {
		return false
	}
	payload, sig, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(d.sign(payload))) {
		return false
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	var c rememberClaims
	if err != nil || json.Unmarshal(data, &c) != nil || c.User != u.ID || time.Now().Unix() > c.Expires {
		return false
	}
	stamp, err := d.securityStamp(r.Context(), u)
	return err == nil && hmac.Equal([]byte(stamp), []byte(c.Stamp))
}
