// Package webtest runs the browser flows in a test: every flow package
// mounted on one mux over the real domain services and the test stores
// (SQLite and an in-process Redis, or the PostgreSQL and Redis testenv
// names), and a cookie-keeping browser that drives the mux through
// httptest.NewRecorder, with no listener. A failing test then points at a
// handler, not at the network around it.
package webtest

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/delivery"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
	"github.com/gatehouse/gatehouse/internal/web/account"
	"github.com/gatehouse/gatehouse/internal/web/challenge"
	"github.com/gatehouse/gatehouse/internal/web/consent"
	"github.com/gatehouse/gatehouse/internal/web/enroll"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/logout"
	"github.com/gatehouse/gatehouse/internal/web/signin"
	"github.com/gatehouse/gatehouse/internal/web/sspr"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/websession"
)

// What every test environment is called and where its application lives.
const (
	Issuer          = "http://gatehouse.test"
	District        = "Example School District"
	Domain          = "district.example"
	RedirectURI     = "https://app.example/callback"
	PostLogoutURI   = "https://app.example/signed-out"
	Password        = "correct horse battery"
	MinPasswordSize = 12
)

// Options adjust an environment before it starts.
type Options struct {
	// Policy adjusts the district's default policy, which starts from the
	// configuration's defaults with MFA not required.
	Policy func(*policy.Policy)
	// Client adjusts the registration of the one application.
	Client func(*clients.Registration)
	// Lockout adjusts the sign-in and reset limits.
	Lockout func(*lockout.Options)
}

// Env is one Gatehouse: the services, the mux with every flow mounted, one
// registered application, and the outbox codes are delivered to.
type Env struct {
	t         testing.TB
	DB        *sqlstore.DB
	Redis     *testenv.Redis
	KV        *redisstore.Store
	Users     *identity.Service
	Clients   *clients.Service
	MFA       *mfa.Service
	Policy    *policy.Live
	Locks     *lockout.Lockout
	Questions *questions.Service
	Audit     *audit.Recorder
	Keys      *keys.Manager
	Sessions  *websession.Sessions
	Mux       *http.ServeMux
	// Handler is the mux behind the middleware Gatehouse serves it with.
	Handler http.Handler

	Client       *clients.Client
	ClientSecret string
	outbox       string
	outage       *redisSwitch
	totpSteps    map[string]int
}

// New starts an environment for t.
func New(t testing.TB, opt Options) *Env {
	t.Helper()
	cfg := config.Default()
	// What the handlers log shows with a failing test's output.
	logger := slog.New(slog.NewTextHandler(testLog{t}, nil))
	master := secrets.RandomToken(secrets.KeySize)
	box := func(purpose string) *secrets.Box {
		b, err := secrets.NewBox(secrets.Derive(master, purpose))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e := &Env{t: t, DB: testenv.SQL(t), Redis: testenv.NewRedis(t), outbox: filepath.Join(t.TempDir(), "outbox.jsonl"),
		totpSteps: map[string]int{}}
	e.outage = breakable(t, e.Redis)
	e.KV = redisstore.New(e.Redis.Client, e.Redis.Prefix)
	ctx := t.Context()

	e.Users = identity.NewService(e.DB, identity.Options{Domain: Domain, District: District, MinPasswordLength: MinPasswordSize,
		Argon2:          identity.Argon2Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}, // fast for tests
		PasswordHistory: cfg.Password.History})
	e.Clients = clients.NewService(e.DB)
	e.Audit = audit.NewRecorder(e.DB, logger)
	e.Policy = policy.NewLive(e.DB, defaultPolicy(cfg, opt.Policy), time.Hour, logger)
	if err := e.Policy.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// ES256 alone: an RSA key per test would cost more than the test.
	e.Keys = keys.NewManager(e.DB, box("signing-keys"), keys.Options{Algorithms: []string{"ES256"}, Refresh: time.Minute,
		Retention: 24 * time.Hour, Logger: logger})
	if err := e.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	sender, err := delivery.NewOutbox(e.outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.MFA = mfa.NewService(e.DB, box("totp-secrets"), e.KV, secrets.Derive(master, "codes"), sender, e.Audit,
		District, cfg.MFA.CodeLifetime.Duration, cfg.MFA.CodeAttempts)
	lockOpts := lockout.Options{
		SignInThreshold: cfg.Password.Lockout.Threshold, SignInLock: cfg.Password.Lockout.Duration.Duration,
		SignInMaxLock: cfg.Password.Lockout.Max.Duration, SSPRProofFailures: cfg.SSPR.ProofFailures,
		SSPREmails: cfg.SSPR.EmailsPer10m, SSPRLock: cfg.SSPR.LockFor.Duration,
	}
	if opt.Lockout != nil {
		opt.Lockout(&lockOpts)
	}
	e.Locks = lockout.New(e.KV, lockOpts)
	catalog, err := questions.NewCatalog(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Questions = questions.NewService(e.DB, catalog, e.Users.Hasher())

	storage := oauth.NewStorage(e.DB, e.KV, e.DB, box("grants"), cfg.Tokens.AuthorizationCodeLifetime.Duration, logger)
	provider := oauth.NewProvider(oauth.Options{Issuer: Issuer, HMACKey: secrets.Derive(master, "token-hmac"),
		Lifetimes: oauth.Lifetimes{AuthorizationCode: time.Minute, AccessToken: time.Hour, IDToken: time.Hour, RefreshToken: 24 * time.Hour},
	}, storage, e.Keys)
	m := metrics.New()
	e.Mux = http.NewServeMux()
	(&oauth.Endpoints{Provider: provider, Storage: storage, Keys: e.Keys, Users: e.Users, Resets: e.MFA,
		Assure: assurance{e}, Audit: e.Audit, Metrics: m, Logger: logger, Issuer: Issuer}).Mount(e.Mux)
	base := e.mountPages(provider, m, logger, master, cfg)

	e.Mux.HandleFunc("/", base.NotFound)
	addrs, err := clientip.New(nil, "X-Forwarded-For")
	if err != nil {
		t.Fatal(err)
	}
	e.Handler = addrs.Middleware(httpx.Instrument(e.Mux, m, logger, base.Recover(httpx.Deadline(e.Mux, 15*time.Second, "/admin"))))

	reg := clients.Registration{Name: "Gradebook", RedirectURIs: []string{RedirectURI}, PostLogoutRedirectURIs: []string{PostLogoutURI}}
	if opt.Client != nil {
		opt.Client(&reg)
	}
	if e.Client, e.ClientSecret, err = e.Clients.Create(ctx, reg); err != nil {
		t.Fatal(err)
	}
	return e
}

// mountPages builds every flow as internal/app does, over the test's
// services.
func (e *Env) mountPages(provider fosite.OAuth2Provider, m *metrics.Metrics, logger *slog.Logger, master []byte, cfg *config.Config) *httpx.Base {
	t := e.t
	base, err := httpx.NewBase(httpx.Site{District: District, Domain: Domain, HelpDeskURL: "https://help.district.example"},
		secrets.Derive(master, "csrf"), logger)
	if err != nil {
		t.Fatal(err)
	}
	e.Sessions = websession.New(websession.Options{Cookie: cfg.Session.CookieName, Lifetime: cfg.Session.Lifetime.Duration,
		Idle: cfg.Session.IdleTimeout.Duration}, e.KV, e.Users, e.DB)
	devices := websession.NewDevices(secrets.Derive(master, "remember-device"), false, e.MFA)
	run := steps.New(base, steps.Deps{
		Issuer: Issuer, Provider: provider, Flows: flow.NewStore(e.KV, cfg.Login.FlowLifetime.Duration),
		Sessions: e.Sessions, Users: e.Users, Clients: e.DB, Policy: e.Policy, MFA: e.MFA, Audit: e.Audit,
	})
	mount := func(f interface{ Mount(*http.ServeMux) }, err error) {
		if err != nil {
			t.Fatal(err)
		}
		f.Mount(e.Mux)
	}
	mount(signin.New(run, signin.Deps{Users: e.Users, Lockout: e.Locks, Devices: devices, Metrics: m, MinPasswordLength: MinPasswordSize}))
	mount(enroll.New(run, e.MFA))
	mount(challenge.New(run, e.MFA, devices))
	mount(consent.New(run))
	mount(account.New(run, account.Deps{Users: e.Users, MFA: e.MFA, Questions: e.Questions,
		Freshness: cfg.Account.Freshness.Duration, MinPasswordLength: MinPasswordSize}))
	mount(sspr.New(base, sspr.Deps{KV: e.KV, Users: e.Users, MFA: e.MFA, Questions: e.Questions, Policy: e.Policy,
		Lockout: e.Locks, Sessions: e.Sessions, Audit: e.Audit, MinPasswordLength: MinPasswordSize}))
	mount(logout.New(base, logout.Deps{Issuer: Issuer, Keys: e.Keys, Clients: e.DB, Sessions: e.Sessions, Audit: e.Audit}))
	return base
}

// defaultPolicy is the configuration's default policy (as internal/app
// builds it) with MFA not required, then adjusted.
func defaultPolicy(cfg *config.Config, adjust func(*policy.Policy)) policy.Policy {
	m := cfg.MFA
	p := policy.Policy{
		RememberDeviceDays: m.RememberDeviceDays, AllowedCountries: m.AllowedCountries, BlockedEmailDomains: []string{Domain},
		SSPR: policy.SSPR{Enabled: cfg.SSPR.Enabled, MethodsRequired: cfg.SSPR.MethodsRequired,
			QuestionsToRegister: cfg.SSPR.QuestionsToRegister, QuestionsToAnswer: cfg.SSPR.QuestionsToAnswer},
		Limits: mfa.Limits{SendsPerUser: m.Limits.SendsPerUser, SendsPerIP: m.Limits.SendsPerIP,
			SendsPerDestination: m.Limits.SendsPerDestination, SendsPerCountry: m.Limits.SendsPerCountry,
			VerifiesPerUser: m.Limits.VerifiesPerUser, VerifiesPerIP: m.Limits.VerifiesPerIP, ResendCooldown: m.ResendCooldown.Duration},
	}
	for _, f := range m.AllowedMethods {
		p.AllowedFactors = append(p.AllowedFactors, mfa.Factor(f))
	}
	for _, k := range m.RegistrationOrder {
		p.RegistrationOrder = append(p.RegistrationOrder, mfa.Kind(k))
	}
	if adjust != nil {
		adjust(&p)
	}
	return p
}

// SetPolicy changes the default policy now, as an administrator would.
func (e *Env) SetPolicy(adjust func(*policy.Policy)) {
	e.t.Helper()
	p := e.Policy.For(e.t.Context(), nil)
	adjust(&p)
	if err := e.DB.SavePolicy(e.t.Context(), &policy.Record{Name: policy.DefaultName, Policy: p, UpdatedBy: "test"}, nil); err != nil {
		e.t.Fatal(err)
	}
	if err := e.Policy.Load(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// assurance is the token endpoint's view of the policy, as internal/app
// gives it.
type assurance struct{ e *Env }

func (a assurance) MFARequired(ctx context.Context, u *identity.User) (bool, error) {
	if !a.e.Policy.For(ctx, u).RequireMFA {
		return false, nil
	}
	methods, err := a.e.MFA.Methods(ctx, u.ID)
	return len(methods) > 0, err
}

// testLog writes log lines to the test's log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
