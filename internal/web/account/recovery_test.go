package account_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

var shownCode = regexp.MustCompile(`<li>([0-9a-z]{5}-[0-9a-z]{5})</li>`)

func shownCodes(t *testing.T, p *webtest.Page) []string {
	t.Helper()
	var out []string
	for _, m := range shownCode.FindAllStringSubmatch(p.Body, -1) {
		out = append(out, m[1])
	}
	if len(out) != mfa.RecoveryCodeCount {
		t.Fatalf("the page shows %d codes, want %d:\n%s", len(out), mfa.RecoveryCodeCount, p.Text())
	}
	return out
}

func TestRecoveryCodesFromMyAccount(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	e.AddPhone(u, webtest.Phone)
	b, p := signInToAccount(t, e, "ann")
	expectAccount(t, p, http.StatusOK, "Recovery codes", "You have no recovery codes.")

	// The password alone is not proof enough: the phone is asked first,
	// and the person comes back to My Account to ask again.
	p = b.SubmitTo(p, "/account/recovery-codes", nil)
	if p.URL.Path != "/login/mfa" {
		t.Fatalf("codes after a password-only sign-in: %d %s, want the challenge:\n%s", p.Status, p.URL, p.Text())
	}
	p = b.Submit(p, url.Values{"action": {"verify"}, "code": {e.LastCode(webtest.Phone)}})
	expectAccount(t, p, http.StatusOK)
	if st, _ := e.MFA.RecoveryCodes(t.Context(), u.ID); st.Left != 0 {
		t.Fatalf("codes were made before the fresh proof: %+v", st)
	}

	opened := p
	p = b.SubmitTo(opened, "/account/recovery-codes", nil)
	if p.Status != http.StatusOK || !p.Contains("This is the only time these codes are shown.") ||
		!p.Contains("Download codes") || p.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the codes page: %d %s:\n%s", p.Status, p.URL, p.Text())
	}
	first := shownCodes(t, p)
	if !regexp.MustCompile(`href="data:text/plain;charset=utf-8,[^"]*` + first[0]).MatchString(p.Body) {
		t.Errorf("the download does not carry the codes:\n%s", p.Body)
	}
	// A reload posts the form again: it must not void the codes just shown.
	again := b.SubmitTo(opened, "/account/recovery-codes", nil)
	expectAccount(t, again, http.StatusConflict, "Your recovery codes were already replaced")
	if got := e.Events("mfa.recovery_codes_generated", u.ID); len(got) != 1 {
		t.Errorf("mfa.recovery_codes_generated events = %d, want 1", len(got))
	}

	// My Account shows how many are left, never the codes.
	p = b.Get("/account?notice=codes")
	expectAccount(t, p, http.StatusOK, "Your recovery codes were updated.", "You have 10 of 10 recovery codes left.", "Get new recovery codes")
	for _, c := range first {
		if p.Contains(c) {
			t.Fatalf("My Account shows code %s again", c)
		}
	}

	// Using one: the count drops, and My Account asks for a review.
	if _, err := e.MFA.UseRecoveryCode(t.Context(), u.ID, first[0], "192.0.2.1", mfa.Limits{VerifiesPerUser: 5, VerifiesPerIP: 5}); err != nil {
		t.Fatal(err)
	}
	expectAccount(t, b.Get("/account"), http.StatusOK, "You have 9 of 10 recovery codes left.",
		"A recovery code was used to sign in on", "Review your security info")

	// A new set voids the old one, and the person hears of it.
	before := len(e.Sent(webtest.Phone))
	second := shownCodes(t, b.SubmitTo(b.Get("/account"), "/account/recovery-codes", nil))
	if _, err := e.MFA.UseRecoveryCode(t.Context(), u.ID, first[1], "192.0.2.1", mfa.Limits{VerifiesPerUser: 5, VerifiesPerIP: 5}); err == nil {
		t.Error("a code of the voided set still works")
	}
	if _, err := e.MFA.UseRecoveryCode(t.Context(), u.ID, second[1], "192.0.2.1", mfa.Limits{VerifiesPerUser: 5, VerifiesPerIP: 5}); err != nil {
		t.Errorf("a code of the new set: %v", err)
	}
	if sent := e.Sent(webtest.Phone); len(sent) != before+1 {
		t.Errorf("notices to the phone after regenerating = %d, want one more than %d", len(sent), before)
	}
}

func TestNoRecoveryCodesWithoutAMethod(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser("ann")
	b, p := signInToAccount(t, e, "ann")
	expectAccount(t, p, http.StatusOK, "No methods yet.")
	if p.Contains("Get recovery codes") {
		t.Errorf("codes offered with no method to back up:\n%s", p.Text())
	}
	// A hand-made request is refused too.
	p = b.Post("/account/recovery-codes", url.Values{"csrf_token": {b.Form(p, "/oauth2/logout").CSRF}})
	expectAccount(t, p, http.StatusUnprocessableEntity, "Add a security method first")
	if st, _ := e.MFA.RecoveryCodes(t.Context(), u.ID); st.Left != 0 {
		t.Errorf("codes were made: %+v", st)
	}
}
