// Package config is Gatehouse's typed configuration: built-in defaults, an
// optional YAML file, GATEHOUSE_* environment overrides and validation.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// WriteTimeout is the longest a response may take to write; the HTTP
// server closes the connection after it.
const WriteTimeout = 30 * time.Second

// Config is the whole server configuration. Its yaml tags define both the
// file keys and the environment variable names (see EnvKeys).
type Config struct {
	// Issuer is the OIDC issuer URL; tokens and discovery carry it verbatim.
	Issuer string `yaml:"issuer"`
	// Listen is the host:port the HTTP server binds.
	Listen string `yaml:"listen"`
	// RequestTimeout bounds how long a sign-in or protocol request may wait
	// for the database, Redis or a password check before it is answered
	// 503 (busy, retry) instead of hanging. The admin console and API are
	// not bounded: an import hashes every row's password.
	RequestTimeout Duration `yaml:"request_timeout"`
	// DataDir holds the embedded mode's SQLite file, generated master key
	// and the delivery outbox.
	DataDir string `yaml:"data_dir"`
	// Dev sends fosite debug messages to clients; refused with an https issuer.
	Dev      bool     `yaml:"dev"`
	District District `yaml:"district"`
	Log      Log      `yaml:"log"`
	Database Database `yaml:"database"`
	Redis    Redis    `yaml:"redis"`
	Secrets  Secrets  `yaml:"secrets"`
	Keys     Keys     `yaml:"keys"`
	Tokens   Tokens   `yaml:"tokens"`
	Session  Session  `yaml:"session"`
	Password Password `yaml:"password"`
	Login    Login    `yaml:"login"`
	Delivery Delivery `yaml:"delivery"`
	MFA      MFA      `yaml:"mfa"`
	SSPR     SSPR     `yaml:"sspr"`
	Account  Account  `yaml:"account"`
	Clients  Clients  `yaml:"clients"`
	Audit    Audit    `yaml:"audit"`
	Metrics  Metrics  `yaml:"metrics"`
	Debug    Debug    `yaml:"debug"`
	Network  Network  `yaml:"network"`

	// Warnings are what Load found suspicious but not invalid, for the
	// caller to log: unknown GATEHOUSE_* variables, an issuer that will
	// not reach this server.
	Warnings []string `yaml:"-"`
}

// District identifies the organisation Gatehouse serves.
type District struct {
	Name string `yaml:"name"`
	// Domain is the UPN suffix: a short username "jdoe" means "jdoe@<domain>".
	// Load lower-cases it.
	Domain string `yaml:"domain"`
	// HelpDeskURL and TroubleshootingURL are linked from every sign-in page.
	HelpDeskURL        string `yaml:"help_desk_url"`
	TroubleshootingURL string `yaml:"troubleshooting_url"`
}

type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
}

type Database struct {
	Driver string `yaml:"driver"` // sqlite or postgres
	// DSN defaults to <data_dir>/gatehouse.db for sqlite; required for postgres.
	DSN          string `yaml:"dsn"`
	MaxOpenConns int    `yaml:"max_open_conns"`
	MaxIdleConns int    `yaml:"max_idle_conns"`
}

// Redis selects the ephemeral store. With neither URL nor Addrs set the
// embedded in-process store is used, which only suits a single replica.
type Redis struct {
	// URL is a redis:// or rediss:// URL of a standalone server; it carries
	// the database number and TLS choice itself.
	URL string `yaml:"url"`
	// Addrs lists Sentinel addresses (with MasterName) or Cluster nodes
	// (without MasterName); one address without MasterName is a standalone
	// server. Mutually exclusive with URL.
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"`
	// Username and Password override any in URL, so the password can come
	// from GATEHOUSE_REDIS_PASSWORD_FILE instead of the URL.
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
	DB        int    `yaml:"db"`  // with Addrs only
	TLS       bool   `yaml:"tls"` // with Addrs only
	KeyPrefix string `yaml:"key_prefix"`
	// AllowEmbeddedWithPostgres accepts the in-process store with
	// PostgreSQL, for a single server: replicas would each keep their own
	// sessions, sign-in flows and lockouts, so a browser moving between
	// them would be signed out and a locked account unlocked.
	AllowEmbeddedWithPostgres bool `yaml:"allow_embedded_with_postgres"`
}

// Embedded reports whether no external Redis is configured.
func (r Redis) Embedded() bool { return r.URL == "" && len(r.Addrs) == 0 }

// Secrets holds the key that seals data at rest (signing keys, TOTP secrets).
type Secrets struct {
	// MasterKey is base64 of exactly 32 bytes; every replica must share it.
	// With sqlite it may be empty and the server generates one in data_dir.
	MasterKey string `yaml:"master_key"`
}

// Key decodes MasterKey.
func (s Secrets) Key() ([]byte, error) {
	k, err := decodeKey(s.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("secrets.master_key: %w", err)
	}
	return k, nil
}

// decodeKey accepts every common base64 alphabet so a key pasted from
// `openssl rand -base64 32` or a URL-safe generator both work.
func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("not set")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != 32 {
				return nil, fmt.Errorf("must decode to exactly 32 bytes (got %d); generate one with `openssl rand -base64 32`", len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("must be base64 of 32 bytes; generate one with `openssl rand -base64 32`")
}

type Keys struct {
	Algorithm string `yaml:"algorithm"` // RS256 or ES256
	RSABits   int    `yaml:"rsa_bits"`  // 2048, 3072 or 4096; RS256 only
	// RefreshInterval is how often a replica reloads keys from the database.
	RefreshInterval Duration `yaml:"refresh_interval"`
}

type Tokens struct {
	AuthorizationCodeLifetime Duration `yaml:"authorization_code_lifetime"`
	AccessTokenLifetime       Duration `yaml:"access_token_lifetime"`
	IDTokenLifetime           Duration `yaml:"id_token_lifetime"`
	RefreshTokenLifetime      Duration `yaml:"refresh_token_lifetime"`
	// RefreshRaceWindow is how long after a rotation the old refresh token
	// is taken for a concurrent refresh that lost, refused without revoking
	// the grant, rather than for a replay.
	RefreshRaceWindow Duration `yaml:"refresh_race_window"`
}

type Session struct {
	Lifetime    Duration `yaml:"lifetime"`
	IdleTimeout Duration `yaml:"idle_timeout"`
	CookieName  string   `yaml:"cookie_name"`
}

type Password struct {
	MinLength int    `yaml:"min_length"`
	Argon2    Argon2 `yaml:"argon2"`
	// History refuses the last N passwords (0 = off).
	History int     `yaml:"history"`
	Lockout Lockout `yaml:"lockout"`
	// MaxConcurrentHashes bounds argon2id sign-in checks running at once
	// (0: CPUs ÷ argon2.parallelism): memory stays under this × argon2.memory_kib.
	MaxConcurrentHashes int `yaml:"max_concurrent_hashes"`
}

// Argon2 are the argon2id parameters for new password hashes.
type Argon2 struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`
	Iterations  uint32 `yaml:"iterations"`
	Parallelism uint8  `yaml:"parallelism"`
}

type Login struct {
	// FlowLifetime is how long a sign-in may take from start to finish.
	FlowLifetime Duration `yaml:"flow_lifetime"`
}

// Delivery chooses how one-time codes and notices reach users. Every
// channel defaults to the outbox, which sends nothing.
type Delivery struct {
	// OutboxFile defaults to <data_dir>/outbox.jsonl.
	OutboxFile string `yaml:"outbox_file"`
	SMS        string `yaml:"sms"`   // outbox or twilio
	Voice      string `yaml:"voice"` // outbox or twilio
	Email      string `yaml:"email"` // outbox or smtp
	Twilio     Twilio `yaml:"twilio"`
	SMTP       SMTP   `yaml:"smtp"`
}

// Twilio is used when delivery.sms or delivery.voice is "twilio".
type Twilio struct {
	BaseURL    string `yaml:"base_url"`
	AccountSID string `yaml:"account_sid"`
	AuthToken  string `yaml:"auth_token"`
	From       string `yaml:"from"` // E.164 sender number
}

// SMTP is used when delivery.email is "smtp".
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Username string `yaml:"username"` // empty: no SMTP AUTH
	Password string `yaml:"password"`
	// From is the sender, e.g. "Gatehouse <no-reply@district.example>".
	From     string `yaml:"from"`
	Security string `yaml:"security"` // starttls, tls or none
	// CAFile is a PEM bundle trusted in addition to the system roots, for
	// a relay with a private CA.
	CAFile string `yaml:"ca_file"`
}

// Debug holds operator-only diagnostics.
type Debug struct {
	// PprofListen serves Go's profiler on this loopback address (empty: off).
	PprofListen string `yaml:"pprof_listen"`
}

type Metrics struct {
	Enabled bool `yaml:"enabled"` // serves /metrics
	// Listen is the metrics listener's own host:port, apart from the public
	// one: request counts and latencies are for operators, not the internet.
	Listen string `yaml:"listen"`
}

// SecureCookies reports whether cookies must carry the Secure attribute.
func (c *Config) SecureCookies() bool { return strings.HasPrefix(c.Issuer, "https://") }

// IsEmbedded reports whether the server needs no external services.
func (c *Config) IsEmbedded() bool { return c.Database.Driver == "sqlite" && c.Redis.Embedded() }

// Default returns the built-in configuration, with the paths that depend on
// data_dir filled in.
func Default() *Config {
	c := base()
	c.derive()
	return c
}

// base is Default without derived values, so Load can tell "unset" from
// "set to the default" once data_dir is known.
func base() *Config {
	return &Config{
		Issuer:         "http://localhost:8080",
		Listen:         ":8080",
		RequestTimeout: Duration{15 * time.Second},
		DataDir:        "data",
		District:       District{Name: "Example School District", Domain: "district.example"},
		Log:            Log{Level: "info", Format: "text"},
		Database:       Database{Driver: "sqlite", MaxOpenConns: 20, MaxIdleConns: 20},
		Redis:          Redis{KeyPrefix: "gatehouse:"},
		Network:        defaultNetwork(),
		Keys:           Keys{Algorithm: "RS256", RSABits: 2048, RefreshInterval: Duration{30 * time.Second}},
		Tokens: Tokens{
			AuthorizationCodeLifetime: Duration{time.Minute},
			AccessTokenLifetime:       Duration{time.Hour},
			IDTokenLifetime:           Duration{time.Hour},
			RefreshTokenLifetime:      Duration{720 * time.Hour},
			RefreshRaceWindow:         Duration{5 * time.Second},
		},
		Session: Session{
			Lifetime:    Duration{12 * time.Hour},
			IdleTimeout: Duration{2 * time.Hour},
			CookieName:  "gatehouse_session",
		},
		Password: Password{
			MinLength: 12,
			Argon2:    Argon2{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 2},
			Lockout:   Lockout{Threshold: 10, Duration: Duration{time.Minute}, Max: Duration{time.Hour}},
		},
		Login: Login{FlowLifetime: Duration{30 * time.Minute}},
		Delivery: Delivery{
			SMS:    "outbox",
			Voice:  "outbox",
			Email:  "outbox",
			Twilio: Twilio{BaseURL: "https://api.twilio.com"},
			SMTP:   SMTP{Port: 587, Security: "starttls"},
		},
		MFA:     defaultMFA(),
		SSPR:    defaultSSPR(),
		Account: Account{Freshness: Duration{10 * time.Minute}},
		Clients: defaultClients(),
		Audit:   Audit{Retention: Duration{2 * 365 * 24 * time.Hour}},
		Metrics: Metrics{Enabled: true, Listen: "127.0.0.1:9464"},
	}
}

// Duration is a time.Duration written as "15m", "720h" in YAML and env.
type Duration struct{ time.Duration }

// UnmarshalText is what environment overrides use.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. 90s, 15m, 720h)", b)
	}
	d.Duration = v
	return nil
}

// UnmarshalYAML exists (over UnmarshalText) to report the line. Its errors
// are yaml.TypeErrors, which the decoder collects and goes on past, so one
// bad duration does not hide the file's other problems.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration such as \"15m\"", n.Line)}}
	}
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String drops zero trailing units: "1h" rather than "1h0m0s".
func (d Duration) String() string {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
