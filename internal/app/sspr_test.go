package app_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
)

// TestSSPRAppsAreOneChannel: two authenticator apps (on one phone, most
// likely) are one gate, so they cannot be the two proofs a reset needs.
func TestSSPRAppsAreOneChannel(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1; cfg.SSPR.MethodsRequired = 2 })
	b := newBrowser(t, rpRedirect)
	p, first := m.enrollApp(b)
	m.claims(p)
	p = b.submit(b.get(m.gh.Issuer+"/account/add"), url.Values{"kind": {"app"}})
	second := totpSecret(t, p)
	p = b.submit(p, act("verify", "code", totpCode(t, second, time.Now())))
	mustSee(t, p, "App verified")
	b.submit(p, act("continue"))

	r := newBrowser(t, rpRedirect)
	p = r.submit(r.get(m.gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	if strings.Contains(p.Body, "authenticator app") {
		p = r.submit(p, act("choose", "option", optionValue(t, p, "Enter a code from my authenticator app")))
		p = r.submit(p, act("verify", "code", totpCode(t, first, time.Now().Add(30*time.Second))))
	}
	mustSee(t, p, "You can't reset your password here")
}
