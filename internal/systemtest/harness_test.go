package systemtest

import (
	"context"
	"encoding/base64"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// instance is one Gatehouse server on a real loopback listener.
type instance struct {
	App    *app.App
	Issuer string
	Server *httptest.Server
}

// cluster is what replicas share: one database, one Redis, one master key.
type cluster struct {
	t           testing.TB
	driver, dsn string
	redis       *testenv.Redis
	masterKey   string
	outbox      string // the dev outbox every replica writes codes to
	// configure adjusts each replica's configuration before it starts.
	configure func(*config.Config)
}

func newCluster(t testing.TB) *cluster {
	driver, dsn := testenv.SQLDatabase(t)
	return &cluster{t: t, driver: driver, dsn: dsn, redis: testenv.NewRedis(t),
		masterKey: base64.StdEncoding.EncodeToString(secrets.RandomToken(32)),
		outbox:    filepath.Join(t.TempDir(), "outbox.jsonl")}
}

// start runs one replica.
func (c *cluster) start() *instance {
	t := c.t
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.DataDir = t.TempDir()
	cfg.Database.Driver, cfg.Database.DSN = c.driver, c.dsn
	cfg.Redis.URL = c.redis.URL // what every replica shares (Handler is handed the client)
	cfg.Secrets.MasterKey = c.masterKey
	cfg.Password.MinLength = 12
	cfg.Password.Argon2 = config.Argon2{MemoryKiB: 19456, Iterations: 1, Parallelism: 1} // fast for tests
	cfg.Delivery.OutboxFile = c.outbox
	// The protocol tests sign in with a password alone; MFA tests turn the
	// district's policy back on.
	cfg.MFA.RequireForAllClients, cfg.MFA.RequiredMethods = false, 0
	if c.configure != nil {
		c.configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Open(t.Context(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	a.Background(ctx)
	h, err := a.Handler(c.redis.Client, c.redis.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &instance{App: a, Issuer: cfg.Issuer, Server: srv}
}

const testPassword = "correct horse battery"

func (in *instance) createUser(t testing.TB, name string) *identity.User {
	u, err := in.App.Users.Create(t.Context(), identity.NewUser{
		Username: name, Email: name + "@home.example", DisplayName: "Test " + name, Password: testPassword,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (in *instance) createClient(t testing.TB, r clients.Registration) (*clients.Client, string) {
	c, secret, err := in.App.Clients.Create(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	return c, secret
}

// browser is a cookie-keeping HTTP client that stops at the application's
// redirect URI instead of following it.
type browser struct {
	t    *testing.T
	http *http.Client
}

func newBrowser(t *testing.T, stopAt string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, http: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), stopAt) {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

type pageResp struct {
	Status   int
	URL      *url.URL
	Body     string
	Location string
	Header   http.Header
}

func (b *browser) do(req *http.Request) pageResp {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return pageResp{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body), Location: resp.Header.Get("Location"), Header: resp.Header}
}

func (b *browser) get(u string) pageResp {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// submit fills the page's form and posts it, as a person would.
func (b *browser) submit(p pageResp, fields url.Values) pageResp {
	b.t.Helper()
	action := formAction.FindStringSubmatch(p.Body)
	token := csrfField.FindStringSubmatch(p.Body)
	if action == nil || token == nil {
		b.t.Fatalf("no form on %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	fields.Set("csrf_token", html.UnescapeString(token[1]))
	target := p.URL.ResolveReference(&url.URL{Path: strings.SplitN(html.UnescapeString(action[1]), "?", 2)[0]})
	if q := strings.SplitN(html.UnescapeString(action[1]), "?", 2); len(q) == 2 {
		target.RawQuery = q[1]
	}
	req, _ := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn walks the username and password screens from the first page.
func (b *browser) signIn(p pageResp, username, password string) pageResp {
	b.t.Helper()
	if !strings.Contains(p.Body, "Sign in") {
		b.t.Fatalf("expected the sign-in page, got %d %s -> %s:\n%s", p.Status, p.URL, p.Location, p.Body)
	}
	p = b.submit(p, url.Values{"username": {username}})
	if !strings.Contains(p.Body, "Enter password") {
		b.t.Fatalf("expected the password page, got %d:\n%s", p.Status, p.Body)
	}
	return b.submit(p, url.Values{"password": {password}})
}

// codeFrom extracts the code from the redirect to the application, checking
// state and iss on the way.
func codeFrom(t *testing.T, p pageResp, redirectURI, state, issuer string) string {
	t.Helper()
	if !strings.HasPrefix(p.Location, redirectURI) {
		t.Fatalf("expected a redirect to %s, got %d %q:\n%s", redirectURI, p.Status, p.Location, p.Body)
	}
	u, _ := url.Parse(p.Location)
	q := u.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != state || q.Get("iss") != issuer {
		t.Fatalf("state=%q iss=%q in %s", q.Get("state"), q.Get("iss"), p.Location)
	}
	return q.Get("code")
}

// inHeader pins client_secret_basic: oauth2's auto-detection would retry
// with client_secret_post after a deliberate failure.
func inHeader(e oauth2.Endpoint) oauth2.Endpoint {
	e.AuthStyle = oauth2.AuthStyleInHeader
	return e
}

// relyingParty is an application registered at a replica, which finds the
// replica through discovery as a real one does.
type relyingParty struct {
	oauth2.Config
	Client   *clients.Client
	Provider *oidc.Provider
	issuer   string
}

// registerApp registers r (redirecting to rpRedirect unless it says
// otherwise) and discovers the replica; the app asks for scopes.
func (in *instance) registerApp(t *testing.T, r clients.Registration, scopes ...string) *relyingParty {
	t.Helper()
	if r.RedirectURIs == nil {
		r.RedirectURIs = []string{rpRedirect}
	}
	client, secret := in.createClient(t, r)
	provider, err := oidc.NewProvider(t.Context(), in.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &relyingParty{Client: client, Provider: provider, issuer: in.Issuer, Config: oauth2.Config{
		ClientID: client.ID, ClientSecret: secret, Endpoint: inHeader(provider.Endpoint()), RedirectURL: rpRedirect, Scopes: scopes}}
}

// codeFlow runs one authorization code + PKCE flow in b (signing in as
// username first when it is not empty) and redeems the code.
func (rp *relyingParty) codeFlow(t *testing.T, b *browser, username, state string) *oauth2.Token {
	t.Helper()
	pkce := oauth2.GenerateVerifier()
	p := b.get(rp.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)))
	if username != "" {
		p = b.signIn(p, username, testPassword)
	}
	tok, err := rp.Exchange(t.Context(), codeFrom(t, p, rpRedirect, state, rp.issuer), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
