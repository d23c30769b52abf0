package enroll_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/web/webtest"
)

var shownCode = regexp.MustCompile(`<li>([0-9a-z]{5}-[0-9a-z]{5})</li>`)

// TestRecoveryCodesAtSetupComplete: "Setup is now complete" offers
// recovery codes once the first method is registered; they are shown once,
// and the page's Done finishes the sign-in as the guide's Done does.
func TestRecoveryCodesAtSetupComplete(t *testing.T) {
	e := webtest.New(t, requireOne(mfa.Phone))
	u := e.CreateUser("ann")
	b := e.Browser()
	p := b.Submit(b.SignIn(b.Authorize(nil), "ann", webtest.Password), action("next"))
	p = b.Submit(p, action("send", "country", "US", "number", "(704) 555-0100", "factor", "sms"))
	p = b.Submit(p, action("verify", "code", e.LastCode(webtest.Phone)))
	p = b.Submit(p, action("continue"))
	expectStage(t, p, http.StatusOK, "Setup is now complete", "Default sign-in method", "Get recovery codes")

	p = b.Submit(p, action("codes"))
	expectStage(t, p, http.StatusOK, "Your recovery codes", "This is the only time these codes are shown.", "Download codes")
	codes := shownCode.FindAllStringSubmatch(p.Body, -1)
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("%d codes shown, want %d:\n%s", len(codes), mfa.RecoveryCodeCount, p.Text())
	}
	// Asking again (a reload) makes no second set behind the person's back.
	again := b.Submit(p, action("codes"))
	expectStage(t, again, http.StatusUnprocessableEntity, "Setup is now complete")
	if got := e.Events("mfa.recovery_codes_generated", u.ID); len(got) != 1 {
		t.Errorf("mfa.recovery_codes_generated events = %d, want 1", len(got))
	}
	webtest.Code(t, b.Submit(p, action("done")))

	// The codes work at the next sign-in.
	if _, err := e.MFA.UseRecoveryCode(t.Context(), u.ID, codes[4][1], "192.0.2.1", mfa.Limits{VerifiesPerUser: 5, VerifiesPerIP: 5}); err != nil {
		t.Errorf("a code shown at registration: %v", err)
	}
}
