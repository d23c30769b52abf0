package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/admin/api"
	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/delivery"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
)

// ServeOptions adjust Serve.
type ServeOptions struct {
	// Demo also runs the demo relying party, registered on first use.
	Demo bool
	// DemoListen is the demo relying party's host:port (default DemoAddr).
	DemoListen string
	// Ready, when set, receives the listening address once the server accepts connections.
	Ready func(addr string)
}

// ConnectRedis returns the configured Redis client, or starts the embedded
// in-process server when none is configured. close releases either.
func (a *App) ConnectRedis() (rdb redis.UniversalClient, closeFn func(), err error) {
	rc := a.Config.Redis
	if rc.Embedded() {
		emb, err := redisstore.StartEmbedded()
		if err != nil {
			return nil, nil, fmt.Errorf("starting the embedded Redis: %w", err)
		}
		a.Logger.Info("using the embedded in-process Redis-compatible store (single machine only)")
		rdb, err := redisstore.Connect(redisstore.Options{URL: emb.URL()})
		if err != nil {
			emb.Close()
			return nil, nil, err
		}
		return rdb, func() { rdb.Close(); emb.Close() }, nil
	}
	rdb, err = redisstore.Connect(redisstore.Options{
		URL: rc.URL, Addrs: rc.Addrs, MasterName: rc.MasterName, Username: rc.Username, Password: rc.Password, DB: rc.DB, TLS: rc.TLS,
	})
	if err != nil {
		return nil, nil, err
	}
	return rdb, func() { rdb.Close() }, nil
}

// Handler builds the whole HTTP surface over rdb, with keys written under prefix.
func (a *App) Handler(rdb redis.UniversalClient, prefix string) (http.Handler, error) {
	cfg := a.Config
	kv := redisstore.New(rdb, prefix)
	m := metrics.New()
	m.WatchAuditSpool(a.Audit.Spooled, a.Audit.Lost)
	a.metrics = m
	storage := oauth.NewStorage(a.DB, kv, a.DB, a.sealer("grants"), cfg.Tokens.AuthorizationCodeLifetime.Duration, a.Logger)
	storage.SetRefreshRaceWindow(cfg.Tokens.RefreshRaceWindow.Duration)
	provider := oauth.NewProvider(oauth.Options{
		Issuer:  cfg.Issuer,
		HMACKey: secrets.Derive(a.masterKey, "token-hmac"),
		Lifetimes: oauth.Lifetimes{
			AuthorizationCode: cfg.Tokens.AuthorizationCodeLifetime.Duration, AccessToken: cfg.Tokens.AccessTokenLifetime.Duration,
			IDToken: cfg.Tokens.IDTokenLifetime.Duration, RefreshToken: cfg.Tokens.RefreshTokenLifetime.Duration,
		},
		Debug: cfg.Dev,
	}, storage, a.Keys)

	sender, err := delivery.New(cfg.Delivery, cfg.District.Name, os.Stdout)
	if err != nil {
		return nil, err
	}
	schools, err := clientip.ParseNetworks(cfg.Network.SchoolNetworks)
	if err != nil {
		return nil, fmt.Errorf("network.school_networks: %w", err)
	}
	addressScale := func(addr string) int {
		if a, err := netip.ParseAddr(addr); err == nil && clientip.Contains(schools, a) {
			return cfg.Network.SchoolMultiplier
		}
		return 1
	}
	mfaService := mfa.NewService(a.DB, a.sealer("totp-secrets"), kv, secrets.Derive(a.masterKey, "codes"), sender, a.Audit,
		cfg.District.Name, cfg.MFA.CodeLifetime.Duration, cfg.MFA.CodeAttempts)
	mfaService.ScaleAddressLimits(addressScale)

	locks := lockout.New(kv, lockout.Options{
		SignInThreshold: cfg.Password.Lockout.Threshold, SignInLock: cfg.Password.Lockout.Duration.Duration,
		SignInMaxLock: cfg.Password.Lockout.Max.Duration, SSPRProofFailures: cfg.SSPR.ProofFailures,
		SSPREmails: cfg.SSPR.EmailsPer10m, SSPRLock: cfg.SSPR.LockFor.Duration, AddressScale: addressScale,
	})

	mux := http.NewServeMux()
	(&oauth.Endpoints{
		Provider: provider, Storage: storage, Keys: a.Keys, Users: a.Users, Resets: mfaService,
		Assure: policyAssurance{policy: a.Policy, methods: mfaService}, Audit: a.Audit, Metrics: m,
		Logger: a.Logger, Issuer: cfg.Issuer,
	}).Mount(mux)
	catalog, err := questions.NewCatalog(cfg.SSPR.CustomQuestions)
	if err != nil {
		return nil, fmt.Errorf("sspr.custom_questions: %w", err)
	}
	base, err := a.mountPages(mux, pageServices{
		provider: provider, kv: kv, mfa: mfaService, questions: questions.NewService(a.DB, catalog, a.Users.Hasher()),
		locks: locks, metrics: m, audit: a.Audit, logger: a.Logger,
	})
	if err != nil {
		return nil, err
	}
	adminService := *a.Admin
	adminService.Sessions = session.Revoker{KV: kv, Lifetime: cfg.Session.Lifetime.Duration}
	adminService.Locks = locks
	adminService.Access = mfaService
	adminService.Notify = func(ctx context.Context, u *identity.User, text string) {
		if methods, err := mfaService.Methods(ctx, u.ID); err == nil {
			mfaService.Notify(ctx, u.ID, u.Email, methods, "", text)
		}
	}
	(&api.API{Service: &adminService, Tokens: provider, Logger: a.Logger}).Mount(mux)

	// The admin console at /admin, over the same service; it also shows
	// people's (masked) security methods.
	adminService.Registered = a.DB
	if err := a.mountConsole(mux, &adminService, kv); err != nil {
		return nil, err
	}

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		// Writes, not pings: a store that answers but cannot write (a full
		// disk, a read-only failover) fails every sign-in.
		if err := a.DB.Heartbeat(ctx); err != nil {
			a.Logger.Warn("readiness: the database does not take writes", "err", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		if err := kv.Put(ctx, "heartbeat", []byte{1}, time.Minute); err != nil {
			a.Logger.Warn("readiness: Redis does not take writes", "err", err)
			http.Error(w, "redis unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/", base.NotFound)
	clientAddr, err := clientip.New(cfg.Network.TrustedProxies, cfg.Network.ForwardedHeader)
	if err != nil {
		return nil, err
	}
	handler := clientAddr.Middleware(httpx.Instrument(mux, m, a.Logger, base.Recover(httpx.Deadline(mux, cfg.RequestTimeout.Duration, "/admin"))))
	if strings.HasPrefix(cfg.Issuer, "https://") {
		handler = httpx.HSTS(handler)
	}
	return handler, nil
}

// MetricsHandler serves the Prometheus metrics of the handler Handler built.
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.Registry, promhttp.HandlerOpts{}))
	return mux
}

// sealer returns the AES-GCM box for one purpose.
func (a *App) sealer(purpose string) *secrets.Box {
	box, err := secrets.NewBox(secrets.Derive(a.masterKey, purpose))
	if err != nil {
		panic(err) // Derive always returns a valid key length
	}
	return box
}

// Serve runs Gatehouse until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, a *App, opt ServeOptions) error {
	cfg := a.Config
	a.Logger.Info("starting Gatehouse", "issuer", cfg.Issuer, "database", cfg.Database.Driver, "embedded_redis", cfg.Redis.Embedded())
	// Every port is bound before anything is created: a server that cannot
	// start must not use up the first administrator's one-time password.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	var metricsLn, demoLn net.Listener
	if cfg.Metrics.Enabled {
		if metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen %s: %w", cfg.Metrics.Listen, err)
		}
		defer metricsLn.Close()
	}
	if opt.Demo {
		if opt.DemoListen == "" {
			opt.DemoListen = DemoAddr
		}
		if demoLn, err = net.Listen("tcp", opt.DemoListen); err != nil {
			return fmt.Errorf("--demo-listen %s: %w", opt.DemoListen, err)
		}
		defer demoLn.Close()
	}
	if addr := cfg.Debug.PprofListen; addr != "" {
		stop, err := servePprof(addr, a.Logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	rdb, closeRedis, err := a.ConnectRedis()
	if err != nil {
		return err
	}
	defer closeRedis()
	handler, err := a.Handler(rdb, cfg.Redis.KeyPrefix)
	if err != nil {
		return err
	}
	if user, password, err := a.Users.EnsureBootstrapAdmin(ctx); err != nil {
		return err
	} else if user != "" {
		fmt.Printf("\nCreated the first administrator.\n  username: %s\n  one-time password: %s\nIt must be changed at first sign-in.\n\n", user, password)
		a.Logger.Warn("created bootstrap administrator; its one-time password was printed to stdout", "username", user)
	}
	if metricsLn != nil {
		metricsSrv := &http.Server{Handler: a.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go metricsSrv.Serve(metricsLn)
		defer metricsSrv.Close()
		a.Logger.Info("metrics listening", "addr", metricsLn.Addr().String())
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: config.WriteTimeout, IdleTimeout: 2 * time.Minute}
	a.Background(ctx)
	if demoLn != nil {
		stopDemo, err := a.startDemo(ctx, demoLn)
		if err != nil {
			return err
		}
		defer stopDemo()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.Logger.Info("listening", "addr", ln.Addr().String())
	if opt.Ready != nil {
		opt.Ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pruneGrants deletes refresh tokens past their expiry. Rotated tokens are
// kept until then, so reuse is still detected while a replay could matter.
func (a *App) pruneGrants(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := a.DB.DeleteExpiredRefreshTokens(ctx, time.Now()); err != nil {
				a.Logger.Error("pruning expired refresh tokens", "err", err)
			} else if n > 0 {
				a.Logger.Info("pruned expired refresh tokens", "count", n)
			}
		}
	}
}

// servePprof runs Go's profiler on its own loopback listener, apart from
// the public one, so only someone on the server can reach it.
func servePprof(addr string, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug.pprof_listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	logger.Warn("profiler listening", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
