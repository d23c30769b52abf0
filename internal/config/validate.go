package config

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// problems is every configuration error found, one per line, each starting
// with the YAML path or variable it concerns.
type problems []string

func (p problems) Error() string {
	if len(p) == 1 {
		return "invalid configuration: " + p[0]
	}
	return "invalid configuration:\n  " + strings.Join(p, "\n  ")
}

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, path+": "+fmt.Sprintf(format, args...))
}

// Validate reports every problem at once. Values are echoed only where they
// cannot hold a secret.
func (c *Config) Validate() error {
	var p problems
	c.validateIssuer(&p)
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || !isPort(port) {
		p.add("listen", "must be host:port, e.g. \":8080\" (got %q)", c.Listen)
	}
	positive(&p, "request_timeout", c.RequestTimeout)
	if c.RequestTimeout.Duration >= WriteTimeout {
		p.add("request_timeout", "must be below %s, the time a response may take to write (got %s)", WriteTimeout, c.RequestTimeout)
	}
	if c.DataDir == "" {
		p.add("data_dir", "required")
	}
	if c.Dev && c.SecureCookies() {
		p.add("dev", "must be false with an https issuer: it sends debug details to clients")
	}

	if strings.TrimSpace(c.District.Name) == "" {
		p.add("district.name", "required")
	}
	switch {
	case c.District.Domain == "":
		p.add("district.domain", "required")
	case len(c.District.Domain) > 253 || !dnsName.MatchString(c.District.Domain):
		p.add("district.domain", "must be a lower-case DNS name such as \"district.example\" (got %q)", c.District.Domain)
	}

	oneOf(&p, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(&p, "log.format", c.Log.Format, "text", "json")

	c.validateDatabase(&p)
	c.Redis.validate(&p)
	if c.Database.Driver == "postgres" && c.Redis.Embedded() && !c.Redis.AllowEmbeddedWithPostgres {
		p.add("redis.url", "required with database.driver \"postgres\": replicas sharing the database would each keep private sessions, sign-in flows and lockouts in the in-process store (set redis.url or redis.addrs, or redis.allow_embedded_with_postgres: true for a single server)")
	}
	// With sqlite the server generates a key in data_dir; replicas sharing
	// a database must all be given the same one.
	if c.Secrets.MasterKey == "" {
		if c.Database.Driver == "postgres" {
			p.add("secrets.master_key", "required when database.driver is \"postgres\" (every replica must share it; generate one with `openssl rand -base64 32`)")
		}
	} else if _, err := decodeKey(c.Secrets.MasterKey); err != nil {
		p.add("secrets.master_key", "%v", err)
	}
	c.validateKeys(&p)

	positive(&p, "tokens.authorization_code_lifetime", c.Tokens.AuthorizationCodeLifetime)
	if c.Tokens.AuthorizationCodeLifetime.Duration > 10*time.Minute {
		p.add("tokens.authorization_code_lifetime", "must be at most 10m (got %s)", c.Tokens.AuthorizationCodeLifetime)
	}
	positive(&p, "tokens.access_token_lifetime", c.Tokens.AccessTokenLifetime)
	positive(&p, "tokens.id_token_lifetime", c.Tokens.IDTokenLifetime)
	positive(&p, "tokens.refresh_token_lifetime", c.Tokens.RefreshTokenLifetime)
	if w := c.Tokens.RefreshRaceWindow.Duration; w < 0 || w > time.Minute {
		p.add("tokens.refresh_race_window", "must be between 0 and 1m (got %s)", c.Tokens.RefreshRaceWindow)
	}

	positive(&p, "session.lifetime", c.Session.Lifetime)
	positive(&p, "session.idle_timeout", c.Session.IdleTimeout)
	if c.Session.IdleTimeout.Duration > c.Session.Lifetime.Duration {
		p.add("session.idle_timeout", "must not exceed session.lifetime (%s > %s)", c.Session.IdleTimeout, c.Session.Lifetime)
	}
	if !isToken(c.Session.CookieName) {
		p.add("session.cookie_name", "must be a non-empty cookie name without spaces or separators (got %q)", c.Session.CookieName)
	}

	if n := c.Password.MinLength; n < 8 || n > 128 {
		p.add("password.min_length", "must be between 8 and 128 (got %d)", n)
	}
	if m := c.Password.Argon2.MemoryKiB; m < 19456 {
		p.add("password.argon2.memory_kib", "must be at least 19456, the OWASP minimum (got %d)", m)
	}
	if c.Password.Argon2.Iterations < 1 {
		p.add("password.argon2.iterations", "must be at least 1")
	}
	if c.Password.Argon2.Parallelism < 1 {
		p.add("password.argon2.parallelism", "must be at least 1")
	}

	positive(&p, "login.flow_lifetime", c.Login.FlowLifetime)
	c.Delivery.validate(&p)
	c.MFA.validate(&p)
	c.SSPR.validate(&p)
	c.Password.Lockout.validate(&p)
	c.Network.validate(&p)
	if h := c.Password.History; h < 0 || h > 24 {
		p.add("password.history", "must be between 0 (off) and 24 (got %d)", h)
	}
	positive(&p, "account.freshness", c.Account.Freshness)
	c.Clients.validate(&p)
	if c.Password.MaxConcurrentHashes < 0 {
		p.add("password.max_concurrent_hashes", "must not be negative (0: CPUs ÷ argon2.parallelism)")
	}
	if a := c.Debug.PprofListen; a != "" {
		if host, port, err := net.SplitHostPort(a); err != nil || !isPort(port) || !isLoopback(host) {
			p.add("debug.pprof_listen", "must be a loopback host:port such as 127.0.0.1:6060 (the profiler is for operators only)")
		}
	}
	if _, port, err := net.SplitHostPort(c.Metrics.Listen); c.Metrics.Enabled && (err != nil || !isPort(port)) {
		p.add("metrics.listen", "must be host:port, e.g. 127.0.0.1:9464 (got %q)", c.Metrics.Listen)
	}
	if c.Audit.Retention.Duration < 0 {
		p.add("audit.retention", "must not be negative (0 keeps events forever)")
	}
	validateHelpURL(&p, "district.help_desk_url", c.District.HelpDeskURL)
	validateHelpURL(&p, "district.troubleshooting_url", c.District.TroubleshootingURL)

	if len(p) > 0 {
		return p
	}
	return nil
}

func (c *Config) validateIssuer(p *problems) {
	u, err := url.Parse(c.Issuer)
	switch {
	case c.Issuer == "":
		p.add("issuer", "required")
	case err != nil || u.Host == "" || !(strings.HasPrefix(c.Issuer, "https://") || strings.HasPrefix(c.Issuer, "http://")):
		p.add("issuer", "must be an absolute http(s) URL (got %q)", c.Issuer)
	case u.User != nil || strings.ContainsAny(c.Issuer, "?#"):
		p.add("issuer", "must not contain user info, a query or a fragment (got %q)", c.Issuer)
	case strings.HasSuffix(c.Issuer, "/"):
		p.add("issuer", "must not end with \"/\" (got %q)", c.Issuer)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		p.add("issuer", "must use https unless the host is localhost, 127.0.0.1 or ::1 (got %q)", c.Issuer)
	}
}

func (c *Config) validateDatabase(p *problems) {
	d := c.Database
	if oneOf(p, "database.driver", d.Driver, "sqlite", "postgres") && d.DSN == "" {
		p.add("database.dsn", "required when database.driver is %q", d.Driver)
	}
	if d.MaxOpenConns < 1 {
		p.add("database.max_open_conns", "must be at least 1 (got %d)", d.MaxOpenConns)
	}
	if d.MaxIdleConns < 0 {
		p.add("database.max_idle_conns", "must not be negative (got %d)", d.MaxIdleConns)
	}
}

// validate never echoes url or password: either may hold a secret.
func (r Redis) validate(p *problems) {
	if r.URL != "" && len(r.Addrs) > 0 {
		p.add("redis.url, redis.addrs", "set one or the other, not both")
	}
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			p.add("redis.url", "must be a redis:// or rediss:// URL with a host")
		} else if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				p.add("redis.url", "path must be a database number such as /0")
			}
		}
		if r.DB != 0 {
			p.add("redis.db", "must be 0 when redis.url is set: put the database in the URL path")
		}
		if r.TLS {
			p.add("redis.tls", "must be false when redis.url is set: use a rediss:// URL")
		}
	}
	for i, a := range r.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || !isPort(port) {
			p.add(fmt.Sprintf("redis.addrs[%d]", i), "must be host:port (got %q)", a)
		}
	}
	if r.MasterName != "" && len(r.Addrs) == 0 {
		p.add("redis.master_name", "requires redis.addrs (the Sentinel addresses)")
	}
	switch {
	case r.DB < 0:
		p.add("redis.db", "must not be negative (got %d)", r.DB)
	case r.DB != 0 && r.MasterName == "" && len(r.Addrs) > 1:
		p.add("redis.db", "must be 0 for Redis Cluster (several addrs without master_name)")
	}
}

// validate never echoes auth_token, password or base_url (which could
// carry credentials).
func (d Delivery) validate(p *problems) {
	if d.OutboxFile == "" {
		p.add("delivery.outbox_file", "required")
	}
	sms := oneOf(p, "delivery.sms", d.SMS, "outbox", "twilio") && d.SMS == "twilio"
	voice := oneOf(p, "delivery.voice", d.Voice, "outbox", "twilio") && d.Voice == "twilio"
	if sms || voice {
		d.Twilio.validate(p)
	}
	email := oneOf(p, "delivery.email", d.Email, "outbox", "smtp") && d.Email == "smtp"
	d.SMTP.validate(p, email)
}

func (t Twilio) validate(p *problems) {
	const required = "required when delivery.sms or delivery.voice is \"twilio\""
	u, err := url.Parse(t.BaseURL)
	switch {
	case t.BaseURL == "":
		p.add("delivery.twilio.base_url", required)
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil:
		p.add("delivery.twilio.base_url", "must be an absolute http(s) URL without user info")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		p.add("delivery.twilio.base_url", "must use https unless the host is localhost, 127.0.0.1 or ::1: requests carry the auth token")
	}
	if t.AccountSID == "" {
		p.add("delivery.twilio.account_sid", required)
	}
	if t.AuthToken == "" {
		p.add("delivery.twilio.auth_token", required)
	}
	switch {
	case t.From == "":
		p.add("delivery.twilio.from", required)
	case !e164.MatchString(t.From):
		p.add("delivery.twilio.from", "must be an E.164 number such as +17045550100 (got %q)", t.From)
	}
}

// validate checks host, port and from only when email goes through SMTP,
// but security and ca_file whenever they are set: a typo there is never
// intended.
func (s SMTP) validate(p *problems, used bool) {
	const required = "required when delivery.email is \"smtp\""
	securityOK := oneOf(p, "delivery.smtp.security", s.Security, "starttls", "tls", "none")
	if s.CAFile != "" {
		if b, err := os.ReadFile(s.CAFile); err != nil {
			p.add("delivery.smtp.ca_file", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			p.add("delivery.smtp.ca_file", "holds no PEM certificate (%s)", s.CAFile)
		}
	}
	if !used {
		return
	}
	switch {
	case s.Host == "":
		p.add("delivery.smtp.host", required)
	case strings.Contains(s.Host, ":"):
		// The mail library joins host and port with a bare colon.
		p.add("delivery.smtp.host", "must be a host name or IPv4 address, without a port; IPv6 literals are not supported (got %q)", s.Host)
	case securityOK && s.Security == "none" && s.Host != "localhost" && s.Host != "127.0.0.1":
		p.add("delivery.smtp.security", "\"none\" is only allowed when delivery.smtp.host is localhost or 127.0.0.1: elsewhere it would send codes and the password in clear")
	}
	if s.Port < 1 || s.Port > 65535 {
		p.add("delivery.smtp.port", "must be between 1 and 65535 (got %d)", s.Port)
	}
	if s.From == "" {
		p.add("delivery.smtp.from", required)
	} else if _, err := mail.ParseAddress(s.From); err != nil {
		p.add("delivery.smtp.from", "must be an address such as \"Gatehouse <no-reply@district.example>\" (got %q)", s.From)
	}
	if s.Username != "" && s.Password == "" {
		p.add("delivery.smtp.password", "required when delivery.smtp.username is set")
	}
	if s.Username == "" && s.Password != "" {
		p.add("delivery.smtp.username", "required when delivery.smtp.password is set (without it the password is never used)")
	}
}

func (c *Config) validateKeys(p *problems) {
	if oneOf(p, "keys.algorithm", c.Keys.Algorithm, "RS256", "ES256") && c.Keys.Algorithm == "RS256" {
		switch c.Keys.RSABits {
		case 2048, 3072, 4096:
		default:
			p.add("keys.rsa_bits", "must be 2048, 3072 or 4096 (got %d)", c.Keys.RSABits)
		}
	}
	positive(p, "keys.refresh_interval", c.Keys.RefreshInterval)
}

// oneOf reports whether v is allowed, adding a problem if not.
func oneOf(p *problems, path, v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = strconv.Quote(a)
	}
	list := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	p.add(path, "must be %s (got %q)", list, v)
	return false
}

func positive(p *problems, path string, d Duration) {
	if d.Duration <= 0 {
		p.add(path, "must be positive (got %s)", d)
	}
}

func isPort(s string) bool {
	_, err := strconv.ParseUint(s, 10, 16)
	return err == nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

var dnsName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// isToken reports whether s is an RFC 6265 cookie name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}
