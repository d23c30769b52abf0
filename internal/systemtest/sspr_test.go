package systemtest

import (
	"net/url"
	"regexp"
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

var csrfValue = regexp.MustCompile(`name="csrf_token" value="[^"]*"`)

// TestSSPRSamePagesBeforeFirstProof: until a first proof a person with
// methods, one without, and a username that does not exist get the same
// pages, the same choices and the same answers, and no masked number or
// address; only the real phone receives a code.
func TestSSPRSamePagesBeforeFirstProof(t *testing.T) {
	m := newMFARig(t, nil)
	m.claims(func() pageResp { p, _ := m.enrollAppAndPhone(newBrowser(t, rpRedirect)); return p }())
	m.gh.createUser(t, "teacher")
	pages := func(name string) []string {
		b := newBrowser(t, rpRedirect)
		p := b.submit(b.get(m.gh.Issuer+"/reset"), url.Values{"username": {name}})
		seen := []string{p.Body}
		p = b.submit(p, act("choose", "option", optionValue(t, p, "Text my mobile phone")))
		seen = append(seen, p.Body)
		p = b.submit(p, act("verify", "code", "000000"))
		seen = append(seen, p.Body)
		p = b.submit(p, act("back"))
		p = b.submit(p, act("choose", "option", optionValue(t, p, "Enter a code from my authenticator app")))
		seen = append(seen, p.Body)
		p = b.submit(p, act("verify", "code", "000000"))
		seen = append(seen, p.Body)
		for i, body := range seen {
			seen[i] = strings.ReplaceAll(csrfValue.ReplaceAllString(body, ""), name, "NAME")
		}
		return seen
	}
	known := pages("student")
	for i, body := range known {
		if strings.Contains(body, "XXX") || strings.Contains(body, "704") {
			t.Fatalf("page %d shows a masked number before a first proof:\n%s", i, body)
		}
	}
	if !strings.Contains(known[2], "That code didn&#39;t work") {
		t.Fatalf("a wrong code was not refused:\n%s", known[2])
	}
	for _, name := range []string{"teacher", "nobody-by-that-name"} {
		for i, body := range pages(name) {
			if body != known[i] {
				t.Fatalf("page %d for %q differs from a person with methods:\n%s\n---\n%s", i, name, body, known[i])
			}
		}
	}
	if n := m.outboxCount(phone); n != 2 { // enrollment and the one real reset
		t.Fatalf("%d codes sent to the phone", n)
	}
}
