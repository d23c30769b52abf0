// Package app is the composition root: the only package that knows both the
// domain services and the concrete stores behind them.
package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store/sqlstore"
)

// App holds the durable side of Gatehouse: the database and the services
// over it. The CLI uses it directly; Serve adds Redis and HTTP.
type App struct {
	Config  *config.Config
	Logger  *slog.Logger
	DB      *sqlstore.DB
	Users   *identity.Service
	Clients *clients.Service
	Keys    *keys.Manager
	Audit   *audit.Recorder
	// Policy decides what each person must register and prove.
	Policy *policy.Live
	// Admin is the service behind the CLI, the admin API and the console.
	// Opened without Redis, it cannot end browser sessions or clear locks;
	// the server's copy can.
	Admin *admin.Service

	masterKey []byte
	metrics   *metrics.Metrics // set by Handler
}

// Open connects to the database, applies pending migrations and builds the
// services. With the embedded default it creates a master key on first run.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*App, error) {
	master, err := masterKey(cfg, logger)
	if err != nil {
		return nil, err
	}
	box, err := secrets.NewBox(secrets.Derive(master, "signing-keys"))
	if err != nil {
		return nil, err
	}
	db, err := sqlstore.Open(ctx, cfg.Database.Driver, cfg.Database.DSN, cfg.Database.MaxOpenConns, cfg.Database.MaxIdleConns)
	if err != nil {
		return nil, fmt.Errorf("opening the %s database: %w", cfg.Database.Driver, err)
	}
	contactBox, err := secrets.NewBox(secrets.Derive(master, "mfa-contacts"))
	if err != nil {
		db.Close()
		return nil, err
	}
	db.SealContactsWith(contactBox, secrets.Derive(master, "mfa-contact-mac"))
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating the database: %w", err)
	}
	a := &App{
		Config: cfg, Logger: logger, DB: db, masterKey: master,
		Users: identity.NewService(db, identity.Options{
			Domain: cfg.District.Domain, District: cfg.District.Name, MinPasswordLength: cfg.Password.MinLength, Argon2: argon2Params(cfg),
			PasswordHistory: cfg.Password.History, MaxConcurrentHashes: cfg.Password.MaxConcurrentHashes,
		}),
		Clients: clients.NewService(db),
		Audit:   audit.NewRecorder(db, logger),
		Policy:  policy.NewLive(db, defaultPolicy(cfg), cfg.MFA.PolicyRefresh.Duration, logger),
	}
	a.Clients.SecretOverlap = cfg.Clients.SecretRotationOverlap.Duration
	if err := a.Policy.Load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("loading policies: %w", err)
	}
	a.Admin = &admin.Service{Users: a.Users, Clients: a.Clients, Methods: db, Grants: db, Audit: a.Audit,
		Policies: db, Resolver: a.Policy, Registrations: db}
	a.Keys = keys.NewManager(db, box, keys.Options{
		Algorithms: keyAlgorithms(cfg.Keys.Algorithm), RSABits: cfg.Keys.RSABits, Refresh: cfg.Keys.RefreshInterval.Duration,
		// A retired key must verify every ID token it signed, and the
		// id_token_hint of a logout a while after.
		Retention: cfg.Tokens.IDTokenLifetime.Duration + cfg.Session.Lifetime.Duration,
		Logger:    logger,
	})
	if err := a.Keys.Load(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// Background keeps this replica in step with the others until ctx ends:
// signing keys, policies, the pruning of expired grants, and the audit
// events waiting for the database.
func (a *App) Background(ctx context.Context) {
	go a.Keys.Run(ctx)
	go a.Policy.Run(ctx)
	go a.pruneGrants(ctx, time.Hour)
	go a.Audit.RetrySpooled(ctx, 5*time.Second)
	if r := a.Config.Audit.Retention.Duration; r > 0 {
		go a.Audit.Prune(ctx, r, 24*time.Hour)
	}
}

// Close releases the database.
func (a *App) Close() error { return a.DB.Close() }

// masterKey returns the configured key or, for the embedded default only,
// one generated into the data directory on first run.
func masterKey(cfg *config.Config, logger *slog.Logger) ([]byte, error) {
	if cfg.Secrets.MasterKey != "" {
		return cfg.Secrets.Key()
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != secrets.KeySize {
			return nil, fmt.Errorf("%s does not hold a base64 32-byte key", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	key := secrets.RandomToken(secrets.KeySize)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, err
	}
	logger.Warn("generated a master key for the embedded default; set secrets.master_key in production", "file", path)
	return key, nil
}

// keyAlgorithms keeps a key for every supported algorithm, so any client can
// register any of them; the configured one first, as the default.
func keyAlgorithms(preferred string) []string {
	algs := []string{preferred}
	for _, alg := range keys.Supported {
		if alg != preferred {
			algs = append(algs, alg)
		}
	}
	return algs
}

func argon2Params(cfg *config.Config) identity.Argon2Params {
	a := cfg.Password.Argon2
	return identity.Argon2Params{MemoryKiB: a.MemoryKiB, Iterations: a.Iterations, Parallelism: a.Parallelism}
}
