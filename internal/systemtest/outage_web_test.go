package systemtest

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// TestRedisOutageIsNotASignOut: while Redis does not answer, a signed-in
// browser is told to try again in a moment (503, Retry-After, a button),
// never sent to sign in again or told it signed out; once Redis is back the
// same session carries on.
func TestRedisOutageIsNotASignOut(t *testing.T) {
	c := newCluster(t)
	// A Redis of this test's own, whichever the suite runs against, so it
	// can be stopped.
	mini := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mini.Addr(), MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	c.redis = &testenv.Redis{Client: client, Prefix: "outage:", URL: "redis://" + mini.Addr(), Mini: mini}
	gh := c.start()
	gh.createUser(t, "student")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")
	b := newBrowser(t, rpRedirect)
	rp.codeFlow(t, b, "student", "state-0001")

	mini.Close()
	pkce := oauth2.GenerateVerifier()
	for _, u := range []string{rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(pkce)), gh.Issuer + "/account", gh.Issuer + "/oauth2/logout"} {
		p := b.get(u)
		if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" {
			t.Fatalf("%s during the outage: %d (Retry-After %q)\n%s", u, p.Status, p.Header.Get("Retry-After"), p.Body)
		}
		mustSee(t, p, "Try again")
		if strings.Contains(p.Body, "Enter password") || strings.Contains(p.Body, "Signed out") {
			t.Fatalf("%s during the outage answered as if signed out", u)
		}
	}

	if err := mini.Restart(); err != nil {
		t.Fatal(err)
	}
	p := b.get(rp.AuthCodeURL("state-0003", oauth2.S256ChallengeOption(pkce)))
	codeFrom(t, p, rpRedirect, "state-0003", gh.Issuer)
}

// TestAuthorizeDuringDatabaseOutage: an app's sign-in request that cannot
// be checked because the database does not answer is "try again in a
// moment", never "Sign-in request not valid".
func TestAuthorizeDuringDatabaseOutage(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")
	b := newBrowser(t, rpRedirect)
	execSQL(t, c, "ALTER TABLE clients RENAME TO clients_away")
	p := b.get(rp.AuthCodeURL("state-0001", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	execSQL(t, c, "ALTER TABLE clients_away RENAME TO clients")
	if p.Status != http.StatusServiceUnavailable || p.Header.Get("Retry-After") == "" || strings.Contains(p.Body, "not valid") {
		t.Fatalf("authorize with the database away: %d (Retry-After %q)\n%s", p.Status, p.Header.Get("Retry-After"), p.Body)
	}
	mustSee(t, p, "Try again")
	mustSee(t, b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), "Sign in")
}

// TestMyAccountWriteFailureIsNotAWrongChoice: when the database refuses to
// change a method, My Account says to try again, never "Choose one of your
// registered methods".
func TestMyAccountWriteFailureIsNotAWrongChoice(t *testing.T) {
	m := newMFARig(t, nil)
	b := newBrowser(t, rpRedirect)
	p, _ := m.enrollAppAndPhone(b)
	m.claims(p)
	page := b.get(m.gh.Issuer + "/account")
	id := methodIDs.FindStringSubmatch(page.Body)
	if id == nil {
		t.Fatalf("no method on My Account:\n%s", page.Body)
	}
	refuseWrites(t, m.c, "mfa_methods")
	for _, action := range []string{"/account/default", "/account/delete"} {
		p := b.postForm(m.gh.Issuer+action, url.Values{"method": {id[1]}, "csrf_token": {html.UnescapeString(csrfField.FindStringSubmatch(page.Body)[1])}})
		if p.Status != http.StatusServiceUnavailable || strings.Contains(p.Body, "Choose one of your registered methods") {
			t.Errorf("%s with the database refusing writes: %d\n%s", action, p.Status, p.Body)
		}
	}
}

var methodIDs = regexp.MustCompile(`name="method" value="([0-9a-f-]{8,})"`)

// refuseWrites makes the database refuse every update and delete of table,
// as a full disk or a read-only replica would.
func refuseWrites(t *testing.T, c *cluster, table string) {
	t.Helper()
	refuse(t, c, "UPDATE", table)
	refuse(t, c, "DELETE", table)
}

// refuse installs a trigger that fails every event on table: an operation
// ("UPDATE", "DELETE", or "UPDATE OF column").
func refuse(t *testing.T, c *cluster, event, table string) {
	t.Helper()
	name := "refuse_" + strings.ToLower(strings.NewReplacer(" ", "_").Replace(event))
	if c.driver == sqlstore.DriverSQLite {
		execSQL(t, c, "CREATE TRIGGER "+name+" BEFORE "+event+" ON "+table+" BEGIN SELECT RAISE(ABORT, 'writes refused'); END")
		return
	}
	execSQL(t, c, "CREATE FUNCTION "+name+"() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'writes refused'; END $$ LANGUAGE plpgsql")
	execSQL(t, c, "CREATE TRIGGER "+name+" BEFORE "+event+" ON "+table+" FOR EACH ROW EXECUTE FUNCTION "+name+"()")
}

// TestResetThatCannotSignOutChangesNothing: a password reset whose "sign
// out everywhere" the database refuses tells the person to try again and
// leaves the password as it was, rather than saying the account is safe
// while other sessions live on.
func TestResetThatCannotSignOutChangesNothing(t *testing.T) {
	m, sink, _ := newSSPRRig(t, nil)
	b := newBrowser(t, rpRedirect)
	p := b.submit(b.get(m.gh.Issuer+"/reset"), url.Values{"username": {"student"}})
	p = b.submit(p, act("choose", "option", optionValue(t, p, "Email my alternate email")))
	p = b.submit(p, act("verify", "code", sink.lastCode(t)))
	p = b.submit(p, act("choose", "option", optionValue(t, p, "Text my mobile phone")))
	p = b.submit(p, act("verify", "code", m.lastCode(phone)))
	mustSee(t, p, "Choose a new password")

	refuse(t, m.c, "UPDATE OF sessions_valid_after", "users")
	p = b.submit(p, act("password", "new_password", "reset correct horse", "confirm_password", "reset correct horse"))
	if p.Status != http.StatusServiceUnavailable || strings.Contains(p.Body, "Your password has been reset") {
		t.Fatalf("a reset that could not sign out everywhere: %d\n%s", p.Status, p.Body)
	}
	if _, err := m.gh.App.Users.Authenticate(t.Context(), "student", testPassword); err != nil {
		t.Fatalf("the old password changed anyway: %v", err)
	}
}
