package challenge_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

func recoveryCodes(t *testing.T, e *webtest.Env, u *identity.User) []string {
	t.Helper()
	codes, err := e.MFA.NewRecoveryCodes(t.Context(), u.ID, u.ID, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return codes
}

// chooseRecoveryCode opens "Sign in another way" and picks "Use a
// recovery code".
func chooseRecoveryCode(t *testing.T, b *webtest.Browser, p *webtest.Page) *webtest.Page {
	t.Helper()
	p = b.Submit(p, url.Values{"action": {"other"}})
	var option string
	for _, m := range optionRE.FindAllStringSubmatch(p.Body, -1) {
		if m[2] == "Use a recovery code" {
			option = m[1]
		}
	}
	if option == "" {
		t.Fatalf("Sign in another way does not list Use a recovery code:\n%s", p.Text())
	}
	p = b.Submit(p, url.Values{"action": {"use"}, "option": {option}})
	expectChallenge(t, p, http.StatusOK, "Enter one of your recovery codes")
	if p.Contains("Don't ask again") || p.Contains("Resend code") {
		t.Errorf("the recovery code page offers what a code cannot do:\n%s", p.Text())
	}
	return p
}

// claims are the ID token's payload, unverified: the token endpoint under
// test signed it.
func claims(t *testing.T, idToken string) map[string]any {
	t.Helper()
	parts := strings.Split(idToken, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRecoveryCodeSignsInOnce(t *testing.T) {
	e := webtest.New(t, requireMFA(func(p *policy.Policy) { p.RememberDeviceDays = 30 }))
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	codes := recoveryCodes(t, e, u)
	b := e.Browser()
	p := chooseRecoveryCode(t, b, b.SignIn(b.Authorize(nil), "ann", webtest.Password))
	// Typed as a person might: upper case, a space for the dash.
	code := webtest.Code(t, b.Submit(p, verify(strings.ToUpper(strings.Replace(codes[2], "-", " ", 1)))))

	c := claims(t, e.IDToken(code))
	amr, _ := c["amr"].([]any)
	if c["acr"] != "mfa" || !slices.Contains(amr, any("otp")) || !slices.Contains(amr, any("mfa")) {
		t.Errorf("acr %v, amr %v; want mfa with otp and mfa", c["acr"], c["amr"])
	}
	if got := e.Events("mfa.recovery_code_used", u.ID); len(got) != 1 || got[0].Details["left"] != "9" {
		t.Errorf("mfa.recovery_code_used events = %+v, want one with 9 left", got)
	}
	if got := e.Events("mfa.challenge", u.ID); len(got) != 1 || got[0].Details["factor"] != string(mfa.FactorRecoveryCode) {
		t.Errorf("mfa.challenge events = %+v, want one by recovery code", got)
	}
	// The person hears of it on their other channels.
	for _, to := range []string{webtest.Phone, u.Email} {
		sent := e.Sent(to)
		if len(sent) == 0 || !strings.Contains(sent[len(sent)-1].Text, "A recovery code was used to sign in") {
			t.Errorf("no notice of the recovery code sent to %s: %+v", to, sent)
		}
	}
	if b.Cookie("/login/", "gatehouse_mfa_remember") != "" {
		t.Error("a recovery code remembered the device")
	}

	// The same code again, in another browser, is refused.
	other := e.Browser()
	p = chooseRecoveryCode(t, other, other.SignIn(other.Authorize(nil), "ann", webtest.Password))
	p = other.Submit(p, verify(codes[2]))
	expectChallenge(t, p, http.StatusUnprocessableEntity, "That recovery code was already used.")
	// Another code of the set works.
	webtest.Code(t, other.Submit(p, verify(codes[3])))
}

// TestWrongRecoveryCodesCount: wrong recovery codes count against the
// same per-person limit as any other code, so a sheet cannot be guessed.
func TestWrongRecoveryCodesCount(t *testing.T) {
	e := webtest.New(t, requireMFA(func(p *policy.Policy) { p.Limits.VerifiesPerUser = 3 }))
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	codes := recoveryCodes(t, e, u)
	b := e.Browser()
	p := chooseRecoveryCode(t, b, b.SignIn(b.Authorize(nil), "ann", webtest.Password))
	for range 3 {
		p = b.Submit(p, verify("zzzzz-zzzzz"))
		expectChallenge(t, p, http.StatusUnprocessableEntity, "That recovery code didn't work.")
	}
	if got := e.Events("mfa.challenge_failed", u.ID); len(got) != 3 || got[0].Details["factor"] != string(mfa.FactorRecoveryCode) {
		t.Errorf("mfa.challenge_failed events = %+v, want 3 for the recovery code", got)
	}
	p = b.Submit(p, verify(codes[0]))
	expectChallenge(t, p, http.StatusUnprocessableEntity, "You've entered too many codes.")
	if st, _ := e.MFA.RecoveryCodes(t.Context(), u.ID); st.Left != mfa.RecoveryCodeCount {
		t.Errorf("a refused try used a code up: %+v", st)
	}
}

// TestOnlyRecoveryCodesLeft: someone whose methods are gone but who kept
// their codes passes the challenge with one, then registers again, as the
// codes are not a method the policy counts.
func TestOnlyRecoveryCodesLeft(t *testing.T) {
	e := webtest.New(t, requireMFA(func(p *policy.Policy) { p.RegistrationOrder = []mfa.Kind{mfa.App} }))
	u := e.CreateUser("ann")
	codes := recoveryCodes(t, e, u)
	b := e.Browser()
	p := b.SignIn(b.Authorize(nil), "ann", webtest.Password)
	expectChallenge(t, p, http.StatusOK, "Enter one of your recovery codes")
	if p.Contains("Sign in another way") {
		t.Errorf("with codes alone there is no other way to offer:\n%s", p.Text())
	}
	p = b.Submit(p, verify(codes[0]))
	if p.URL.Path != "/login/enroll" || !p.Contains("More information required") {
		t.Fatalf("after the recovery code: %d %s, want registration:\n%s", p.Status, p.URL, p.Text())
	}
}

// TestNoRecoveryCodesNoOption: without codes the challenge does not offer
// them.
func TestNoRecoveryCodesNoOption(t *testing.T) {
	e := webtest.New(t, requireMFA())
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	e.AddEmail(u, "ann@home.example")
	b := e.Browser()
	p := b.Submit(b.SignIn(b.Authorize(nil), "ann", webtest.Password), url.Values{"action": {"other"}})
	expectChallenge(t, p, http.StatusOK, "Sign in another way")
	if p.Contains("Use a recovery code") {
		t.Errorf("recovery codes offered to someone without any:\n%s", p.Text())
	}
	p = b.Submit(p, url.Values{"action": {"use"}, "option": {"recovery:recovery_code"}})
	expectChallenge(t, p, http.StatusUnprocessableEntity, "Choose one of the ways listed.")
}
