package systemtest

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

var shownRecoveryCode = regexp.MustCompile(`<li>([0-9a-z]{5}-[0-9a-z]{5})</li>`)

// TestRecoveryCodes: a person takes recovery codes at "Setup is now
// complete", and a later sign-in, on a real listener with a go-oidc
// relying party, passes the challenge with one of them (acr mfa, amr otp);
// the same code does not work twice.
func TestRecoveryCodes(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1 })
	b := newBrowser(t, rpRedirect)
	p := b.submit(m.start(b), act("next"))
	secret := totpSecret(t, p)
	p = b.submit(p, act("verify", "code", totpCode(t, secret, time.Now())))
	p = b.submit(p, act("continue"))
	mustSee(t, p, "Setup is now complete", "Get recovery codes")
	p = b.submit(p, act("codes"))
	mustSee(t, p, "Your recovery codes", "This is the only time these codes are shown.")
	codes := shownRecoveryCode.FindAllStringSubmatch(p.Body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d codes shown:\n%s", len(codes), p.Body)
	}
	m.claims(b.submit(p, act("done")))

	use := func(code string) pageResp {
		b := newBrowser(t, rpRedirect)
		p := b.submit(m.start(b), act("other"))
		p = b.submit(p, act("use", "option", optionValue(t, p, "Use a recovery code")))
		mustSee(t, p, "Enter one of your recovery codes")
		return b.submit(p, act("verify", "code", code))
	}
	if c := m.claims(use(codes[0][1])); c.ACR != "mfa" || !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("recovery code sign-in: acr=%q amr=%v", c.ACR, c.AMR)
	}
	mustSee(t, use(codes[0][1]), "That recovery code was already used.")
}
