package systemtest

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// stoppableRedis points the cluster at an in-process Redis the test can
// stop and restart (keeping its data), whatever Redis the run is given.
func stoppableRedis(t *testing.T, c *cluster) *miniredis.Miniredis {
	mini := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mini.Addr()})
	t.Cleanup(func() { client.Close() })
	c.redis = &testenv.Redis{Client: client, Prefix: "gatehouse-test:", URL: "redis://" + mini.Addr(), Mini: mini}
	return mini
}

type answer struct {
	status     int
	error      string
	active     bool
	retryAfter string
}

// call sends one back-channel request; a form is posted with the client's
// credentials, a bearer token is sent to userinfo.
func call(t *testing.T, endpoint, id, secret string, form url.Values, bearer string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	} else {
		req.SetBasicAuth(id, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error  string `json:"error"`
		Active bool   `json:"active"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return answer{status: resp.StatusCode, error: body.Error, active: body.Active, retryAfter: resp.Header.Get("Retry-After")}
}

func wantUnavailable(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.error != "temporarily_unavailable" || a.retryAfter == "" {
		t.Errorf("%s: %d %q active=%v Retry-After %q; want 503 temporarily_unavailable with Retry-After", what, a.status, a.error, a.active, a.retryAfter)
	}
}

// TestStorageOutagesAnswer503: with Redis or the database down, the token,
// introspection, revocation and userinfo endpoints answer 503
// temporarily_unavailable with Retry-After; never invalid_client, an
// inactive token, a 500, or a revocation reported done.
func TestStorageOutagesAnswer503(t *testing.T) {
	c := newCluster(t)
	mini := stoppableRedis(t, c)
	gh := c.start()
	gh.createUser(t, "jdoe")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS", GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}},
		"openid", "profile", "offline_access")
	tok := rp.codeFlow(t, newBrowser(t, rpRedirect), "jdoe", "state-0001")
	id, secret := rp.ClientID, rp.ClientSecret
	endpoint := func(path string) string { return gh.Issuer + path }

	mini.Close()
	wantUnavailable(t, "client credentials with Redis down",
		call(t, endpoint(oauth.PathToken), id, secret, url.Values{"grant_type": {"client_credentials"}}, ""))
	wantUnavailable(t, "introspection with Redis down",
		call(t, endpoint(oauth.PathIntrospect), id, secret, url.Values{"token": {tok.AccessToken}}, ""))
	wantUnavailable(t, "userinfo with Redis down", call(t, endpoint(oauth.PathUserinfo), "", "", nil, tok.AccessToken))
	wantUnavailable(t, "revoking an access token with Redis down",
		call(t, endpoint(oauth.PathRevoke), id, secret, url.Values{"token": {tok.AccessToken}}, ""))
	if err := mini.Restart(); err != nil {
		t.Fatal(err)
	}
	if !introspect(t, endpoint(oauth.PathIntrospect), id, secret, tok.AccessToken) {
		t.Fatal("the access token is inactive once Redis is back")
	}

	gh.App.DB.Close()
	for name, form := range map[string]url.Values{
		"client credentials": {"grant_type": {"client_credentials"}},
		"refresh":            {"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
	} {
		wantUnavailable(t, name+" with the database down", call(t, endpoint(oauth.PathToken), id, secret, form, ""))
	}
	wantUnavailable(t, "introspection with the database down",
		call(t, endpoint(oauth.PathIntrospect), id, secret, url.Values{"token": {tok.AccessToken}}, ""))
	wantUnavailable(t, "introspecting a refresh token with the database down",
		call(t, endpoint(oauth.PathIntrospect), id, secret, url.Values{"token": {tok.RefreshToken}}, ""))
	wantUnavailable(t, "revocation with the database down",
		call(t, endpoint(oauth.PathRevoke), id, secret, url.Values{"token": {tok.AccessToken}}, ""))
	wantUnavailable(t, "userinfo with the database down", call(t, endpoint(oauth.PathUserinfo), "", "", nil, tok.AccessToken))
}

// TestRevocationDuringRedisOutage: a revocation that could not delete the
// access tokens answers 503, and leaves the refresh token for the retry to
// find them by; the retry revokes both.
func TestRevocationDuringRedisOutage(t *testing.T) {
	c := newCluster(t)
	mini := stoppableRedis(t, c)
	gh := c.start()
	gh.createUser(t, "jdoe")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid", "offline_access")
	tok := rp.codeFlow(t, newBrowser(t, rpRedirect), "jdoe", "state-0001")
	revoke := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
	revocation, introspection := gh.Issuer+oauth.PathRevoke, gh.Issuer+oauth.PathIntrospect

	mini.Close()
	wantUnavailable(t, "revocation with Redis down", call(t, revocation, rp.ClientID, rp.ClientSecret, revoke, ""))
	if err := mini.Restart(); err != nil {
		t.Fatal(err)
	}
	if a := call(t, revocation, rp.ClientID, rp.ClientSecret, revoke, ""); a.status != http.StatusOK {
		t.Fatalf("retried revocation: %d %q", a.status, a.error)
	}
	for name, token := range map[string]string{"access": tok.AccessToken, "refresh": tok.RefreshToken} {
		if introspect(t, introspection, rp.ClientID, rp.ClientSecret, token) {
			t.Errorf("the %s token is still active after the retried revocation", name)
		}
	}
}

// execSQL runs one statement on the cluster's database over a connection
// of its own.
func execSQL(t *testing.T, c *cluster, stmt string) {
	t.Helper()
	driver := map[string]string{sqlstore.DriverSQLite: "sqlite", sqlstore.DriverPostgres: "pgx"}[c.driver]
	db, err := sql.Open(driver, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// TestDatabaseBlipKeepsBrowserSignedIn: a signed-in person opening an app
// while the database cannot read their account gets "try again", and is
// still signed in once it can.
func TestDatabaseBlipKeepsBrowserSignedIn(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	gh.createUser(t, "jdoe")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")
	b := newBrowser(t, rpRedirect)
	rp.codeFlow(t, b, "jdoe", "state-0001")

	execSQL(t, c, "ALTER TABLE users RENAME TO users_away")
	p := b.get(rp.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	execSQL(t, c, "ALTER TABLE users_away RENAME TO users")
	if p.Status != http.StatusServiceUnavailable {
		t.Errorf("authorize with the accounts unreadable: %d %q, want 503", p.Status, p.Location)
	}
	rp.codeFlow(t, b, "", "state-0003") // no sign-in page
}

// TestReadinessNeedsWrites: /readyz fails while the database or Redis
// answers but refuses writes, as with a full disk.
func TestReadinessNeedsWrites(t *testing.T) {
	c := newCluster(t)
	mini := stoppableRedis(t, c)
	gh := c.start()
	ready := func() int {
		resp, err := http.Get(gh.Issuer + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := ready(); s != http.StatusOK {
		t.Fatalf("readyz with both stores writable: %d", s)
	}

	// The database still answers reads; the heartbeat write fails.
	gh.createUser(t, "jdoe")
	execSQL(t, c, "ALTER TABLE heartbeat RENAME TO heartbeat_away")
	if s := ready(); s != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database refusing writes: %d, want 503", s)
	}
	execSQL(t, c, "ALTER TABLE heartbeat_away RENAME TO heartbeat")

	// Redis answers PING and GET but refuses SET, as it does when it cannot persist.
	mini.Server().SetPreHook(func(p *server.Peer, cmd string, _ ...string) bool {
		if strings.EqualFold(cmd, "SET") {
			p.WriteError("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.")
			return true
		}
		return false
	})
	if s := ready(); s != http.StatusServiceUnavailable {
		t.Errorf("readyz with Redis refusing writes: %d, want 503", s)
	}
	mini.Server().SetPreHook(nil)
	if s := ready(); s != http.StatusOK {
		t.Errorf("readyz once both stores take writes again: %d", s)
	}
}

// TestPolicySaveCommitsWithItsAudit: a policy change and its audit record
// commit together; when the record cannot be written, nothing changes.
func TestPolicySaveCommitsWithItsAudit(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	ctx := t.Context()
	all, err := gh.App.Admin.ListPolicies(ctx, admin.CLI)
	if err != nil || len(all) == 0 {
		t.Fatalf("policies: %v %v", all, err)
	}
	staff := policy.Record{Name: "staff", Groups: []string{"staff"}, Priority: 10, Policy: all[0].Policy}

	execSQL(t, c, "ALTER TABLE audit_events RENAME TO audit_events_away")
	_, saveErr := gh.App.Admin.SavePolicy(ctx, admin.CLI, staff)
	deleteErr := gh.App.Admin.DeletePolicy(ctx, admin.CLI, "staff")
	execSQL(t, c, "ALTER TABLE audit_events_away RENAME TO audit_events")
	if saveErr == nil {
		t.Error("a policy was saved without its audit record")
	}
	if deleteErr == nil {
		t.Error("a policy was deleted without its audit record")
	}
	if revs, err := gh.App.DB.PolicyHistory(ctx, "staff"); err != nil || len(revs) != 0 {
		t.Errorf("history of a save that failed: %+v %v", revs, err)
	}

	if _, err := gh.App.Admin.SavePolicy(ctx, admin.CLI, staff); err != nil {
		t.Fatal(err)
	}
	events, err := gh.App.Audit.List(ctx, audit.Filter{Type: "policy.saved"})
	if err != nil || len(events) != 1 {
		t.Fatalf("policy.saved events: %+v %v", events, err)
	}
	var after policy.Record
	revs, err := gh.App.DB.PolicyHistory(ctx, "staff")
	if err != nil || len(revs) != 1 || json.Unmarshal([]byte(events[0].Details["after"]), &after) != nil || after.Version != revs[0].Version {
		t.Fatalf("the record shows version %d of %+v (%v)", after.Version, revs, err)
	}
}

// TestSignInAuditSurvivesAnOutage: a sign-in while the database refuses
// audit writes is recorded once it takes them again.
func TestSignInAuditSurvivesAnOutage(t *testing.T) {
	c := newCluster(t)
	gh := c.start()
	u := gh.createUser(t, "jdoe")
	rp := gh.registerApp(t, clients.Registration{Name: "LMS"}, "openid")

	execSQL(t, c, "ALTER TABLE audit_events RENAME TO audit_events_away")
	rp.codeFlow(t, newBrowser(t, rpRedirect), "jdoe", "state-0001")
	execSQL(t, c, "ALTER TABLE audit_events_away RENAME TO audit_events")

	// The spool is retried every few seconds.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		events, err := gh.App.Audit.List(t.Context(), audit.Filter{Type: "signin.success", SubjectID: u.ID})
		if err == nil && len(events) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sign-in during the outage was never recorded: %+v %v", events, err)
		}
	}
}
