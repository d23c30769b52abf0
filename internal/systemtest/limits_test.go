package systemtest

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/lockout"
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

// signIn signs in as username with password in b, even if b has a session.
func (l *limitsRig) signIn(b *browser, username, password string) pageResp {
	return b.signIn(b.get(l.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("prompt", "login"))), username, password)
}

// signedIn checks that a sign-in reached the app with a code.
func signedIn(t *testing.T, p pageResp, who string) {
	t.Helper()
	if !strings.HasPrefix(p.Location, rpRedirect) || !strings.Contains(p.Location, "code=") {
		t.Fatalf("%s was not signed in: %d %s\n%s", who, p.Status, p.Location, p.Body)
	}
}

// TestClassmateCannotLockOwnerOut: ten wrong passwords from a classmate's
// device, behind the same school address, lock the classmate out of the
// owner's account but not the owner, on the device they sign in from.
func TestClassmateCannotLockOwnerOut(t *testing.T) {
	l := newLimitsRig(t, nil)
	l.gh.createUser(t, "student")
	owner := newBrowser(t, rpRedirect)
	signedIn(t, l.signIn(owner, "student", testPassword), "the owner")

	classmate := newBrowser(t, rpRedirect)
	var p pageResp
	for range 10 {
		p = l.signIn(classmate, "student", "a guess at it")
	}
	mustSee(t, p, lockout.MsgSignInLocked)
	mustSee(t, l.signIn(classmate, "student", testPassword), lockout.MsgSignInLocked)

	signedIn(t, l.signIn(owner, "student", testPassword), "the owner, after the classmate's guesses")
}

// TestSprayingCannotLockOutTheAdmin: 31 wrong passwords for different
// usernames from one student's device block unfamiliar devices behind that
// address for a while, but not an administrator on the device they sign in
// from, nor anyone when the address is a listed school network.
func TestSprayingCannotLockOutTheAdmin(t *testing.T) {
	spray := func(t *testing.T, l *limitsRig) {
		student := newBrowser(t, rpRedirect)
		for i := range 31 {
			if p := l.signIn(student, fmt.Sprintf("student%02d", i), "a guess at it"); p.Status == http.StatusOK || strings.Contains(p.Location, "code=") {
				t.Fatalf("guess %d did not fail: %d", i+1, p.Status)
			}
		}
	}
	t.Run("the admin's device", func(t *testing.T) {
		l := newLimitsRig(t, nil)
		l.gh.createUser(t, "admin")
		admin := newBrowser(t, rpRedirect)
		signedIn(t, l.signIn(admin, "admin", testPassword), "the admin")
		spray(t, l)
		stranger := newBrowser(t, rpRedirect)
		mustSee(t, l.signIn(stranger, "admin", testPassword), "Too many failed sign-in attempts")
		signedIn(t, l.signIn(admin, "admin", testPassword), "the admin, after the spraying")
	})
	t.Run("a school network", func(t *testing.T) {
		l := newLimitsRig(t, func(cfg *config.Config) { cfg.Network.SchoolNetworks = []string{"127.0.0.0/8"} })
		l.gh.createUser(t, "admin")
		spray(t, l)
		signedIn(t, l.signIn(newBrowser(t, rpRedirect), "admin", testPassword), "the admin on a new device")
	})
}

// TestOneStudentCannotUseUpResets: 31 password resets started by one
// student stop at the student's own limit; a classmate behind the same
// address still starts theirs.
func TestOneStudentCannotUseUpResets(t *testing.T) {
	l := newLimitsRig(t, nil)
	l.gh.createUser(t, "student")
	l.gh.createUser(t, "classmate")
	student := newBrowser(t, rpRedirect)
	var p pageResp
	for range 31 {
		p = student.submit(student.get(l.gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	}
	mustSee(t, p, "Too many password resets")
	classmate := newBrowser(t, rpRedirect)
	p = classmate.submit(classmate.get(l.gh.Issuer+"/reset"), url.Values{"username": {"classmate"}})
	if p.Status == http.StatusTooManyRequests || strings.Contains(p.Body, "Too many") {
		t.Fatalf("the classmate's reset was refused: %d\n%s", p.Status, p.Body)
	}
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

// TestClassmateCannotLockOwnersReset: five wrong answers from a classmate's
// device lock that device out of resetting the owner's password, not the
// owner on the device they sign in from.
func TestClassmateCannotLockOwnersReset(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1; cfg.SSPR.MethodsRequired = 1 })
	m.registerQuestions()
	owner := newBrowser(t, rpRedirect)
	mustSee(t, m.start(owner), "Enter code")

	classmate := newBrowser(t, rpRedirect)
	p := classmate.submit(classmate.get(m.gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	p = classmate.submit(p, act("choose", "option", optionValue(t, p, "Answer my security questions")))
	for range 5 {
		fields := act("verify")
		for _, id := range regexp.MustCompile(`name="answer_(q\d\d)"`).FindAllStringSubmatch(p.Body, -1) {
			fields.Set("answer_"+id[1], "wrong answer")
		}
		p = classmate.submit(p, fields)
	}
	mustSee(t, p, lockout.MsgSSPRLocked)

	p = owner.submit(owner.get(m.gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	mustSee(t, p, "Answer my security questions")
}

// TestForwardedAddressesHaveTheirOwnLimits: behind a trusted load balancer,
// password spraying blocks the sprayer's own address, not a school that
// reaches Gatehouse through the same balancer.
func TestForwardedAddressesHaveTheirOwnLimits(t *testing.T) {
	l := newLimitsRig(t, func(cfg *config.Config) { cfg.Network.TrustedProxies = []string{"127.0.0.1"} })
	l.gh.createUser(t, "teacher")
	sprayer := forwardedBy(newBrowser(t, rpRedirect), "203.0.113.5")
	for i := range 30 {
		mustSee(t, l.signIn(sprayer, fmt.Sprintf("student%02d", i), "a guess at it"), "Your username or password is incorrect.")
	}
	mustSee(t, l.signIn(forwardedBy(newBrowser(t, rpRedirect), "203.0.113.5"), "teacher", testPassword), "Too many failed sign-in attempts")
	signedIn(t, l.signIn(forwardedBy(newBrowser(t, rpRedirect), "198.51.100.7"), "teacher", testPassword), "the teacher at another school")
}
