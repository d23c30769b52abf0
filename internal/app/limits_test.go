package app_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
)

// forwardedBy makes b's requests arrive through a proxy that says they
// came from addr.
func forwardedBy(b *browser, addr string) *browser {
	b.http.Transport = forwardingTransport{addr: addr}
	return b
}

type forwardingTransport struct{ addr string }

func (f forwardingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return http.DefaultTransport.RoundTrip(r)
}

// limitsRig is one replica with a user and an app to sign in to.
type limitsRig struct {
	t  *testing.T
	gh *instance
	rp *relyingParty
}

func newLimitsRig(t *testing.T, configure func(*config.Config)) *limitsRig {
	c := newCluster(t)
	c.configure = configure
	gh := c.start()
	return &limitsRig{t: t, gh: gh, rp: gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")}
}

// signIn signs in as username with password from b's first sign-in page.
func (l *limitsRig) signIn(b *browser, username, password string) pageResp {
	return b.signIn(b.get(l.rp.AuthCodeURL("state-0001")), username, password)
}

// TestClientAddressFromTrustedProxyOnly: the address in the audit log is the
// one a trusted proxy forwarded, and the peer's own when the peer is not
// trusted.
func TestClientAddressFromTrustedProxyOnly(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted []string
		want    string
	}{
		{"trusted", []string{"127.0.0.1"}, "203.0.113.5"},
		{"not trusted", []string{"10.0.0.0/8"}, "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLimitsRig(t, func(cfg *config.Config) { cfg.Network.TrustedProxies = c.trusted })
			b := forwardedBy(newBrowser(t, rpRedirect), "198.51.100.1, 203.0.113.5")
			l.signIn(b, "nobody", "wrong password!")
			events, err := l.gh.App.Audit.List(t.Context(), audit.Filter{Type: "signin.failure"})
			if err != nil || len(events) != 1 {
				t.Fatalf("events = %v, %v", events, err)
			}
			if events[0].IP != c.want {
				t.Errorf("recorded address %q, want %q", events[0].IP, c.want)
			}
		})
	}
}
