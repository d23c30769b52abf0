package systemtest

import (
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
)

var questionSelect = regexp.MustCompile(`<option value="(q\d\d)"`)

// questionIDs reads the catalog offered on the questions page.
func questionIDs(p pageResp) []string {
	var ids []string
	for _, m := range questionSelect.FindAllStringSubmatch(p.Body, -1) {
		if !slices.Contains(ids, m[1]) {
			ids = append(ids, m[1])
		}
	}
	return ids
}

// registerQuestions signs the rig's person in with an authenticator app, in
// a browser of its own, and registers three security questions.
func (m *mfaRig) registerQuestions() (appSecret string) {
	b := newBrowser(m.t, rpRedirect)
	_, appSecret = m.enrollApp(b)
	p := b.get(m.gh.Issuer + "/account/questions")
	ids := questionIDs(p)
	b.submit(p, url.Values{"question1": {ids[0]}, "answer1": {"Fluffy"}, "question2": {ids[1]}, "answer2": {"Marigold"},
		"question3": {ids[2]}, "answer3": {"Springfield"}})
	return appSecret
}

// TestMyAccountSecurityInfo walks the guide's steps 8–16: My Account, + Add
// method, security questions (a duplicate answer refused), then email.
func TestMyAccountSecurityInfo(t *testing.T) {
	m := newMFARig(t, nil)
	b := newBrowser(t, rpRedirect)
	p, _ := m.enrollAppAndPhone(b)
	m.claims(p)

	p = b.get(m.gh.Issuer + "/account")
	mustSee(t, p, "My Account", "Security info", "Authenticator app", "+1 704 XXX XX12", "+ Add method", "Default sign-in method")
	p = b.get(m.gh.Issuer + "/account/add")
	mustSee(t, p, "Which method would you like to add?", "Security questions", "Alternate phone", "Email")

	p = b.submit(p, url.Values{"kind": {"questions"}})
	mustSee(t, p, "Security question 1", "Security question 3")
	ids := questionIDs(p)
	form := url.Values{"question1": {ids[0]}, "answer1": {"Fluffy the cat"}, "question2": {ids[1]}, "answer2": {"fluffy  THE cat"},
		"question3": {ids[2]}, "answer3": {"Springfield"}}
	p = b.submit(p, form)
	mustSee(t, p, "No question can have the same answer. All answers must be unique.")
	form.Set("answer2", "Marigold Lane")
	p = b.submit(p, form)
	mustSee(t, p, "Your security info was updated.", "Security questions", "3 questions")

	// The answers are stored only as hashes.
	u, _ := m.gh.App.Users.Find(t.Context(), "student")
	answers, err := m.gh.App.DB.ListAnswers(t.Context(), u.ID)
	if err != nil || len(answers) != 3 {
		t.Fatalf("answers: %v %v", answers, err)
	}
	for _, a := range answers {
		if strings.Contains(strings.ToLower(a.Hash), "fluffy") || !strings.HasPrefix(a.Hash, "$argon2id$") {
			t.Fatalf("answer not hashed: %q", a.Hash)
		}
	}

	// + Add method → Email, with its code; the phone is told by SMS.
	before := m.outboxCount(phone)
	p = b.submit(b.get(m.gh.Issuer+"/account/add"), url.Values{"kind": {"email"}})
	mustSee(t, p, "Add a method", "Email")
	p = b.submit(p, act("send", "email", "mary@home.example"))
	p = b.submit(p, act("verify", "code", m.lastCode("mary@home.example")))
	mustSee(t, p, "Email verified")
	p = b.submit(p, act("continue"))
	mustSee(t, p, "My Account", "ma***@home.example")
	if m.outboxCount(phone) != before+1 {
		t.Fatal("the phone was not told about the new email method")
	}
}

// TestSecurityInfoNeedsRecentMFA: a session whose MFA is older than the
// freshness window is challenged before it can change anything.
func TestSecurityInfoNeedsRecentMFA(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) {
		cfg.MFA.RequiredMethods = 1
		cfg.Account.Freshness = config.Duration{Duration: time.Second}
	})
	b := newBrowser(t, rpRedirect)
	_, secret := m.enrollApp(b)
	time.Sleep(1100 * time.Millisecond) // let the enrollment's proof go stale
	p := b.get(m.gh.Issuer + "/account/add")
	mustSee(t, p, "Enter code", "Enter the code displayed in the authenticator app")
	p = b.submit(p, act("verify", "code", totpCode(t, secret, time.Now().Add(30*time.Second))))
	if !strings.HasSuffix(p.URL.Path, "/account/add") {
		t.Fatalf("after the challenge: %s", p.URL)
	}
}

// TestPasswordChangeSignsOutElsewhere: other browsers and app grants end.
func TestPasswordChangeSignsOutElsewhere(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequireForAllClients, cfg.MFA.RequiredMethods = false, 0 })
	m.rp.Scopes = append(m.rp.Scopes, "offline_access")
	other := newBrowser(t, rpRedirect)
	tok, err := m.rp.Exchange(t.Context(), codeFrom(t, m.start(other), rpRedirect, "state-0001", m.gh.Issuer), oauth2.VerifierOption(m.pkce))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, rpRedirect)
	m.claims(m.start(b))
	p := b.get(m.gh.Issuer + "/account/password")
	p = b.submit(p, url.Values{"current_password": {"wrong one here"}, "new_password": {"a brand new secret"}, "confirm_password": {"a brand new secret"}})
	mustSee(t, p, "Your current password is incorrect.")
	p = b.submit(p, url.Values{"current_password": {testPassword}, "new_password": {"1qaz2wsx3edc"}, "confirm_password": {"1qaz2wsx3edc"}})
	mustSee(t, p, "too common")
	p = b.submit(p, url.Values{"current_password": {testPassword}, "new_password": {"a brand new secret"}, "confirm_password": {"a brand new secret"}})
	mustSee(t, p, "Your password was changed.")
	if _, err := m.rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh after a password change: %v", err)
	}
	mustSee(t, other.get(m.gh.Issuer+"/account"), "Sign in")
	mustSee(t, b.get(m.gh.Issuer+"/account"), "My Account")
}

// smtpSink is an in-process SMTP server that keeps every message.
type smtpSink struct {
	mu   sync.Mutex
	msgs []string
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct{ s *smtpSink }

func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, string(b))
	x.s.mu.Unlock()
	return err
}
func (*sinkSession) Reset()        {}
func (*sinkSession) Logout() error { return nil }

func startSMTP(t *testing.T) (*smtpSink, int) {
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain, srv.AllowInsecureAuth = "localhost", true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sink, ln.Addr().(*net.TCPAddr).Port
}

var mailCode = regexp.MustCompile(`\b(\d{6})\b`)

func (s *smtpSink) lastCode(t *testing.T) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if m := mailCode.FindStringSubmatch(s.msgs[i]); m != nil {
			return m[1]
		}
	}
	t.Fatal("no code mailed")
	return ""
}

func (s *smtpSink) contains(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.msgs, func(m string) bool { return strings.Contains(strings.ReplaceAll(m, "=\r\n", ""), text) })
}

// ssprRig is a user with app, phone and email registered, email over SMTP.
func newSSPRRig(t *testing.T, configure func(*config.Config)) (*mfaRig, *smtpSink, string) {
	sink, port := startSMTP(t)
	m := newMFARig(t, func(cfg *config.Config) {
		cfg.Delivery.Email = "smtp"
		cfg.Delivery.SMTP = config.SMTP{Host: "127.0.0.1", Port: port, From: "no-reply@district.example", Security: "none"}
		if configure != nil {
			configure(cfg)
		}
	})
	b := newBrowser(t, rpRedirect)
	p, secret := m.enrollAppAndPhone(b)
	m.claims(p)
	p = b.submit(b.get(m.gh.Issuer+"/account/add"), url.Values{"kind": {"email"}})
	p = b.submit(p, act("send", "email", "mary@home.example"))
	p = b.submit(p, act("verify", "code", sink.lastCode(t)))
	mustSee(t, p, "Email verified")
	b.submit(p, act("continue"))
	return m, sink, secret
}

// TestSelfServicePasswordReset: two proofs on two channels (email, then a
// text), a new password, everything else signed out, and told by email.
func TestSelfServicePasswordReset(t *testing.T) {
	m, sink, secret := newSSPRRig(t, nil)
	m.rp.Scopes = append(m.rp.Scopes, "offline_access")
	before := newBrowser(t, rpRedirect)
	p := before.submit(m.start(before), act("verify", "code", totpCode(t, secret, time.Now().Add(30*time.Second))))
	tok, err := m.rp.Exchange(t.Context(), codeFrom(t, p, rpRedirect, "state-0001", m.gh.Issuer), oauth2.VerifierOption(m.pkce))
	if err != nil {
		t.Fatal(err)
	}
	// Locked out by wrong passwords first: the reset unlocks.
	for i := 0; i < 10; i++ {
		lb := newBrowser(t, rpRedirect)
		p = lb.signIn(lb.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce))), "student", "not the password")
	}
	mustSee(t, p, lockout.MsgSignInLocked)

	b := newBrowser(t, rpRedirect)
	p = b.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce)))
	mustSee(t, p, "Can't access your account?")
	p = b.get(m.gh.Issuer + "/reset?flow=" + p.URL.Query().Get("flow"))
	mustSee(t, p, "Get back into your account", "Who are you?")
	p = b.submit(p, url.Values{"username": {"student"}})
	// Before a first proof: everyone's choices, nothing masked.
	mustSee(t, p, "Verification step 1 of 2", "Email my alternate email", "Text my mobile phone",
		"Call my mobile phone", "Enter a code from my authenticator app")
	p = b.submit(p, act("choose", "option", optionValue(t, p, "Email my alternate email")))
	mustSee(t, p, "If an alternate email is registered to your account, we've sent it a message containing a verification code.")
	p = b.submit(p, act("verify", "code", sink.lastCode(t)))
	mustSee(t, p, "Verification step 2 of 2", "Text my mobile phone +1 704 XXX XX12")
	if strings.Contains(p.Body, "Email my alternate email") {
		t.Fatal("the email channel was offered twice")
	}
	p = b.submit(p, act("choose", "option", optionValue(t, p, "Text my mobile phone")))
	p = b.submit(p, act("verify", "code", m.lastCode(phone)))
	mustSee(t, p, "Choose a new password")
	p = b.submit(p, act("password", "new_password", "reset correct horse", "confirm_password", "reset correct horse"))
	mustSee(t, p, "Your password has been reset")
	if !sink.contains("The password for your account was reset.") {
		t.Fatal("no reset notice by email")
	}
	// Every earlier session and grant ended.
	mustSee(t, before.get(m.gh.Issuer+"/account"), "Sign in")
	if _, err := m.rp.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh after a reset: %v", err)
	}
	// The old password is gone; the new one signs in (with the app code).
	nb := newBrowser(t, rpRedirect)
	p = nb.signIn(nb.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce))), "student", testPassword)
	mustSee(t, p, "Your username or password is incorrect.")
	nb2 := newBrowser(t, rpRedirect)
	p = nb2.signIn(nb2.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce))), "student", "reset correct horse")
	mustSee(t, p, "Enter code")
}

// TestSSPRSamePhoneIsOneChannel: a text and a call to one phone cannot be
// the two proofs.
func TestSSPRSamePhoneIsOneChannel(t *testing.T) {
	m, _, _ := newSSPRRig(t, nil)
	b := newBrowser(t, rpRedirect)
	p := b.submit(b.get(m.gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	p = b.submit(p, act("choose", "option", optionValue(t, p, "Text my mobile phone")))
	p = b.submit(p, act("verify", "code", m.lastCode(phone)))
	mustSee(t, p, "Verification step 2 of 2")
	if strings.Contains(html.UnescapeString(p.Body), "Call my mobile phone") {
		t.Fatal("the same phone was offered as a second channel")
	}
}

// TestSSPRUnknownUserLooksTheSame: up to verification an unknown username
// gets the same status codes, redirects and cookies as a real one
// (TestSSPRSamePagesBeforeFirstProof compares the pages).
func TestSSPRUnknownUserLooksTheSame(t *testing.T) {
	m := newMFARig(t, nil)
	shape := func(name string) string {
		b := newBrowser(t, rpRedirect)
		b.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		start := b.get(m.gh.Issuer + "/reset")
		resp := b.submit(start, url.Values{"username": {name}})
		u, _ := url.Parse(m.gh.Issuer)
		var cookies []string
		for _, c := range b.http.Jar.Cookies(u.JoinPath("/reset")) {
			cookies = append(cookies, c.Name)
		}
		slices.Sort(cookies)
		return strings.Join([]string{strconv.Itoa(start.Status), strconv.Itoa(resp.Status), resp.Location, strings.Join(cookies, ",")}, " ")
	}
	if known, unknown := shape("student"), shape("nobody-by-that-name"); known != unknown {
		t.Fatalf("known %q != unknown %q", known, unknown)
	}
}

// TestSSPRQuestionsAndLockout: wrong answers redraw the questions and count
// toward the lock; five failures lock reset for 24 hours.
func TestSSPRQuestionsAndLockout(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1; cfg.SSPR.MethodsRequired = 1 })
	m.registerQuestions()

	r := newBrowser(t, rpRedirect)
	p := r.submit(r.get(m.gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	mustSee(t, p, "Answer my security questions")
	p = r.submit(p, act("choose", "option", optionValue(t, p, "Answer my security questions")))
	for i := 0; i < 4; i++ {
		fields := act("verify")
		for _, id := range regexp.MustCompile(`name="answer_(q\d\d)"`).FindAllStringSubmatch(p.Body, -1) {
			fields.Set("answer_"+id[1], "wrong answer")
		}
		p = r.submit(p, fields)
		mustSee(t, p, "didn't match")
	}
	p = r.submit(p, act("verify"))
	mustSee(t, p, lockout.MsgSSPRLocked)
}

// TestSignInLockout: ten wrong passwords lock the account with the
// district's message, for a known name and an unknown one alike, and the
// right password is refused while it lasts (TestSelfServicePasswordReset
// shows a reset unlocking it).
func TestSignInLockout(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequireForAllClients, cfg.MFA.RequiredMethods = false, 0 })
	for _, name := range []string{"student", "no-such-person"} {
		var p pageResp
		for i := 0; i < 10; i++ {
			b := newBrowser(t, rpRedirect)
			p = b.signIn(b.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce))), name, "not the password")
		}
		mustSee(t, p, lockout.MsgSignInLocked)
	}
	b := newBrowser(t, rpRedirect)
	p := b.signIn(b.get(m.rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(m.pkce))), "student", testPassword)
	mustSee(t, p, lockout.MsgSignInLocked)
}

// TestSSPRAdminsNeedTwoMethodsNoQuestions: an administrator with one
// method and security questions cannot reset by themselves; they learn it
// after proving the method.
func TestSSPRAdminsNeedTwoMethodsNoQuestions(t *testing.T) {
	m := newMFARig(t, func(cfg *config.Config) { cfg.MFA.RequiredMethods = 1; cfg.SSPR.MethodsRequired = 1 })
	u, _ := m.gh.App.Users.Find(t.Context(), "student")
	u.Roles = []string{identity.RoleAdmin}
	if err := m.gh.App.DB.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	secret := m.registerQuestions()
	r := newBrowser(t, rpRedirect)
	p := r.submit(r.get(m.gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	p = r.submit(p, act("choose", "option", optionValue(t, p, "Enter a code from my authenticator app")))
	p = r.submit(p, act("verify", "code", totpCode(t, secret, time.Now().Add(30*time.Second))))
	mustSee(t, p, "You can't reset your password here")
}
