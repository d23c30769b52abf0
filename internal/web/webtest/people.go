package webtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/delivery"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// Test phone numbers and addresses (the suite's reserved 555-01xx range).
const (
	Phone    = "+17045550100"
	PhoneAlt = "+17045550101"
)

// CreateUser adds a person named name whose password is Password.
func (e *Env) CreateUser(name string) *identity.User {
	return e.CreateUserWith(identity.NewUser{Username: name})
}

// CreateUserWith adds nu, filling in the email, display name and password
// it leaves out.
func (e *Env) CreateUserWith(nu identity.NewUser) *identity.User {
	e.t.Helper()
	if nu.Email == "" {
		nu.Email = nu.Username + "@home.example"
	}
	if nu.DisplayName == "" {
		nu.DisplayName = "Test " + nu.Username
	}
	if nu.Password == "" {
		nu.Password = Password
	}
	u, err := e.Users.Create(e.t.Context(), nu)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// AddApp registers an authenticator app for u and returns its secret.
func (e *Env) AddApp(u *identity.User) string {
	e.t.Helper()
	enr, err := mfa.NewTOTP(District, u.Username)
	if err != nil {
		e.t.Fatal(err)
	}
	e.register(&mfa.Method{UserID: u.ID, Kind: mfa.App, Secret: e.MFA.SealSecret(enr.Secret), Factor: mfa.FactorApp})
	return enr.Secret
}

// AddPhone registers phone (E.164) for u, proved by text message.
func (e *Env) AddPhone(u *identity.User, phone string) {
	e.register(&mfa.Method{UserID: u.ID, Kind: mfa.Phone, Phone: phone, Factor: mfa.FactorSMS})
}

// AddEmail registers a personal email address for u.
func (e *Env) AddEmail(u *identity.User, addr string) {
	e.register(&mfa.Method{UserID: u.ID, Kind: mfa.Email, Email: addr, Factor: mfa.FactorEmail})
}

func (e *Env) register(m *mfa.Method) {
	e.t.Helper()
	if err := e.MFA.Register(e.t.Context(), m, m.UserID, "192.0.2.1"); err != nil {
		e.t.Fatal(err)
	}
}

// Methods are u's registered methods.
func (e *Env) Methods(u *identity.User) []mfa.Method {
	e.t.Helper()
	ms, err := e.MFA.Methods(e.t.Context(), u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// TOTP is a code of the authenticator app with secret that has not been
// used yet: the current time step's, then the next one's, then the last
// one's (the three the server accepts).
func (e *Env) TOTP(secret string) string {
	e.t.Helper()
	n := e.totpSteps[secret]
	if n > 2 {
		e.t.Fatal("webtest: an authenticator code is asked for a fourth time in one period")
	}
	e.totpSteps[secret] = n + 1
	offset := []time.Duration{0, 30 * time.Second, -30 * time.Second}[n]
	code, err := totp.GenerateCode(secret, time.Now().Add(offset))
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

var sixDigits = regexp.MustCompile(`\b\d{3} ?\d{3}\b`)
var nonDigits = regexp.MustCompile(`\D`)

// Sent are the messages delivered to to, oldest first.
func (e *Env) Sent(to string) []delivery.OutboxEntry {
	e.t.Helper()
	entries, err := delivery.ReadOutbox(e.outbox)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []delivery.OutboxEntry
	for _, m := range entries {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// LastCode is the newest one-time code delivered to to.
func (e *Env) LastCode(to string) string {
	e.t.Helper()
	sent := e.Sent(to)
	for i := len(sent) - 1; i >= 0; i-- {
		if code := nonDigits.ReplaceAllString(sixDigits.FindString(sent[i].Text+" "+sent[i].Speech), ""); len(code) == 6 {
			return code
		}
	}
	e.t.Fatalf("no code was sent to %s", to)
	return ""
}

// Events are the audit events of type about subject ("" for anyone),
// newest first.
func (e *Env) Events(typ, subject string) []audit.Event {
	e.t.Helper()
	events, err := e.Audit.List(e.t.Context(), audit.Filter{Type: typ, SubjectID: subject, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return events
}

// Code checks that p is the redirect to the application carrying a code,
// the request's state and the issuer (RFC 9207), and returns the code.
func Code(t testing.TB, p *Page) string {
	t.Helper()
	q := redirectQuery(t, p)
	if q.Get("error") != "" || q.Get("code") == "" {
		t.Fatalf("redirect %s carries no code", p.Location)
	}
	return q.Get("code")
}

// RedirectError checks that p is the redirect to the application carrying
// an error, with state and iss, and returns the error code.
func RedirectError(t testing.TB, p *Page) string {
	t.Helper()
	q := redirectQuery(t, p)
	if q.Get("error") == "" || q.Get("code") != "" {
		t.Fatalf("redirect %s carries no error", p.Location)
	}
	return q.Get("error")
}

func redirectQuery(t testing.TB, p *Page) url.Values {
	t.Helper()
	u, err := url.Parse(p.Location)
	if err != nil || p.Location == "" || u.Scheme+"://"+u.Host+u.Path != RedirectURI {
		t.Fatalf("expected a redirect to %s, got %d %s (to %q):\n%s", RedirectURI, p.Status, p.URL, p.Location, p.Body)
	}
	q := u.Query()
	if q.Get("iss") != Issuer || q.Get("state") != "state-0001" {
		t.Fatalf("redirect %s: iss %q, state %q; want %q, state-0001", p.Location, q.Get("iss"), q.Get("state"), Issuer)
	}
	return q
}

// PasswordRules are what every page taking a new password must say.
var PasswordRules = []string{"At least 12 characters", "common password", "look-alikes", "repeated text", "keyboard row",
	"your name", "your username", "the district's name"}

// IDToken exchanges code at the token endpoint, as the application would,
// and returns the ID token.
func (e *Env) IDToken(code string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {RedirectURI}}
	req := httptest.NewRequest(http.MethodPost, Issuer+oauth.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.Client.ID), url.QueryEscape(e.ClientSecret))
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	var tokens struct {
		IDToken string `json:"id_token"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &tokens) != nil || tokens.IDToken == "" {
		e.t.Fatalf("token endpoint: %d %s", rec.Code, rec.Body)
	}
	return tokens.IDToken
}
