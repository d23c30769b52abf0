package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var testKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func TestDefaultValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	loaded, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, c) {
		t.Errorf("Load with nothing = %+v, want Default() %+v", loaded, c)
	}
	if !c.IsEmbedded() || c.SecureCookies() {
		t.Errorf("IsEmbedded = %v, SecureCookies = %v; want true, false", c.IsEmbedded(), c.SecureCookies())
	}
	if c.Database.DSN != filepath.Join("data", "gatehouse.db") || c.Delivery.OutboxFile != filepath.Join("data", "outbox.jsonl") {
		t.Errorf("derived paths = %q, %q", c.Database.DSN, c.Delivery.OutboxFile)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "master_key")
	if err := os.WriteFile(secretFile, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	postgres := "database: {driver: postgres, dsn: 'postgres://db/gatehouse'}\n"

	tests := []struct {
		name  string
		yaml  string // "" = no file
		env   []string
		check func(t *testing.T, c *Config)
		// wantErr are substrings the error must contain; nil = must succeed.
		wantErr []string
	}{
		{
			name: "empty file keeps defaults",
			yaml: "# nothing\n",
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c, Default()) {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "null values keep defaults",
			yaml: "log:\n  level:\nredis:\n  addrs:\n",
			check: func(t *testing.T, c *Config) {
				if c.Log.Level != "info" || c.Redis.Addrs != nil {
					t.Errorf("log.level = %q, redis.addrs = %v", c.Log.Level, c.Redis.Addrs)
				}
			},
		},
		{
			name: "file values and derived paths",
			yaml: "data_dir: /var/lib/gatehouse\nlog: {level: debug, format: json}\ntokens:\n  access_token_lifetime: 15m\nredis:\n  addrs: [a:26379, b:26379]\n  master_name: mymaster\n",
			check: func(t *testing.T, c *Config) {
				if c.Log.Level != "debug" || c.Log.Format != "json" || c.Tokens.AccessTokenLifetime.Duration != 15*time.Minute {
					t.Errorf("got %+v %+v", c.Log, c.Tokens)
				}
				if c.Database.DSN != "/var/lib/gatehouse/gatehouse.db" || c.Delivery.OutboxFile != "/var/lib/gatehouse/outbox.jsonl" {
					t.Errorf("derived paths = %q, %q", c.Database.DSN, c.Delivery.OutboxFile)
				}
				if c.Redis.Embedded() || c.IsEmbedded() {
					t.Error("sentinel config reported as embedded")
				}
			},
		},
		{
			name: "explicit paths are kept",
			yaml: "data_dir: /d\ndatabase: {dsn: /db/g.db}\ndelivery: {outbox_file: /o.jsonl}\n",
			check: func(t *testing.T, c *Config) {
				if c.Database.DSN != "/db/g.db" || c.Delivery.OutboxFile != "/o.jsonl" {
					t.Errorf("paths = %q, %q", c.Database.DSN, c.Delivery.OutboxFile)
				}
			},
		},
		{
			name: "issuer slash stripped and domain lower-cased",
			yaml: "issuer: https://id.District.example/gh/\ndistrict: {domain: District.Example}\n",
			check: func(t *testing.T, c *Config) {
				if c.Issuer != "https://id.District.example/gh" || c.District.Domain != "district.example" || !c.SecureCookies() {
					t.Errorf("issuer %q, domain %q", c.Issuer, c.District.Domain)
				}
			},
		},
		{
			name:    "unknown key names key and line",
			yaml:    "log:\n  level: info\n  levle: debug\n",
			wantErr: []string{"line 3", "levle"},
		},
		{
			name:    "unknown top-level key",
			yaml:    "issuer: http://localhost:8080\nissuers: x\n",
			wantErr: []string{"line 2", "issuers"},
		},
		{
			name:    "wrong type in file",
			yaml:    "database:\n  max_open_conns: many\n",
			wantErr: []string{"line 2", "many"},
		},
		{
			name:    "bad duration in file",
			yaml:    "session:\n  lifetime: 12\n",
			wantErr: []string{"line 2", `invalid duration "12"`},
		},
		{
			name:    "malformed yaml",
			yaml:    "log: [\n",
			wantErr: []string{"config.yaml"},
		},
		{
			name: "env overrides every kind",
			yaml: "log: {level: warn}\n",
			env: []string{
				"GATEHOUSE_LOG_LEVEL=debug",
				"GATEHOUSE_DATABASE_MAX_OPEN_CONNS=7",
				"GATEHOUSE_METRICS_ENABLED=false",
				"GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME=5m",
				"GATEHOUSE_REDIS_ADDRS=r1:6379, r2:6379,,r3:6379",
				"GATEHOUSE_PASSWORD_ARGON2_PARALLELISM=4",
				"GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB=131072",
				"GATEHOUSE_SOMETHING_ELSE=ignored",
				"PATH=/bin",
			},
			check: func(t *testing.T, c *Config) {
				if c.Log.Level != "debug" || c.Database.MaxOpenConns != 7 || c.Metrics.Enabled ||
					c.Tokens.AccessTokenLifetime.Duration != 5*time.Minute ||
					c.Password.Argon2.Parallelism != 4 || c.Password.Argon2.MemoryKiB != 131072 {
					t.Errorf("got %+v", c)
				}
				if want := []string{"r1:6379", "r2:6379", "r3:6379"}; !slices.Equal(c.Redis.Addrs, want) {
					t.Errorf("redis.addrs = %q, want %q", c.Redis.Addrs, want)
				}
			},
		},
		{
			name: "env data_dir moves derived paths",
			env:  []string{"GATEHOUSE_DATA_DIR=/srv"},
			check: func(t *testing.T, c *Config) {
				if c.Database.DSN != "/srv/gatehouse.db" {
					t.Errorf("dsn = %q", c.Database.DSN)
				}
			},
		},
		{
			name: "_FILE reads the value and trims the newline",
			yaml: postgres,
			env:  []string{"GATEHOUSE_SECRETS_MASTER_KEY_FILE=" + secretFile, "GATEHOUSE_REDIS_URL=redis://redis:6379/0"},
			check: func(t *testing.T, c *Config) {
				if c.Secrets.MasterKey != testKey {
					t.Errorf("master_key = %q", c.Secrets.MasterKey)
				}
				if k, err := c.Secrets.Key(); err != nil || len(k) != 32 {
					t.Errorf("Key() = %d bytes, %v", len(k), err)
				}
			},
		},
		{
			name:    "_FILE that cannot be read",
			env:     []string{"GATEHOUSE_REDIS_PASSWORD_FILE=" + filepath.Join(dir, "missing")},
			wantErr: []string{"GATEHOUSE_REDIS_PASSWORD_FILE"},
		},
		{
			name:    "NAME and NAME_FILE together",
			env:     []string{"GATEHOUSE_SECRETS_MASTER_KEY=x", "GATEHOUSE_SECRETS_MASTER_KEY_FILE=" + secretFile},
			wantErr: []string{"GATEHOUSE_SECRETS_MASTER_KEY, GATEHOUSE_SECRETS_MASTER_KEY_FILE: set one or the other"},
		},
		{
			name: "bad env values all named",
			env: []string{
				"GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME=abc",
				"GATEHOUSE_DEV=maybe",
				"GATEHOUSE_REDIS_DB=x",
				"GATEHOUSE_PASSWORD_ARGON2_PARALLELISM=300",
			},
			wantErr: []string{
				`GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME: invalid duration "abc"`,
				`GATEHOUSE_DEV: invalid boolean "maybe"`,
				`GATEHOUSE_REDIS_DB: invalid number "x"`,
				`GATEHOUSE_PASSWORD_ARGON2_PARALLELISM: "300" is out of range`,
			},
		},
		{
			name:    "request timeout past the write timeout",
			yaml:    "request_timeout: 45s\n",
			wantErr: []string{"request_timeout: must be below 30s"},
		},
		{
			name:    "unsupported driver",
			yaml:    "database: {driver: mysql}\n",
			wantErr: []string{`invalid configuration: database.driver: must be "sqlite" or "postgres" (got "mysql")`},
		},
		{
			name:    "postgres without master key",
			yaml:    postgres,
			wantErr: []string{"secrets.master_key: required when database.driver is \"postgres\""},
		},
		{
			name:    "postgres without dsn",
			yaml:    "database: {driver: postgres}\nsecrets: {master_key: '" + testKey + "'}\n",
			wantErr: []string{"database.dsn: required"},
		},
		{
			name: "postgres with key and external redis",
			yaml: postgres + "secrets: {master_key: '" + testKey + "'}\nredis: {url: 'rediss://:pw@redis:6380/2'}\n",
			check: func(t *testing.T, c *Config) {
				if c.IsEmbedded() {
					t.Error("IsEmbedded() = true")
				}
			},
		},
		{
			name: "raw URL base64 key",
			env:  []string{"GATEHOUSE_SECRETS_MASTER_KEY=" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		},
		{
			name:    "short master key not echoed",
			env:     []string{"GATEHOUSE_SECRETS_MASTER_KEY=" + base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key"))},
			wantErr: []string{"secrets.master_key: must decode to exactly 32 bytes (got 16)"},
		},
		{
			name:    "https issuer with dev",
			yaml:    "issuer: https://id.district.example\ndev: true\n",
			wantErr: []string{"dev: must be false with an https issuer"},
		},
		{
			name: "dev on localhost",
			yaml: "dev: true\n",
		},
		{
			name:    "plain http on a public host",
			yaml:    "issuer: http://id.district.example\n",
			wantErr: []string{"issuer: must use https"},
		},
		{
			name: "http on ::1",
			yaml: "issuer: 'http://[::1]:8080'\n",
		},
		{
			name:    "issuer with query",
			yaml:    "issuer: https://id.district.example/?x=1\n",
			wantErr: []string{"issuer: must not contain user info, a query or a fragment"},
		},
		{
			name:    "relative issuer",
			yaml:    "issuer: id.district.example\n",
			wantErr: []string{"issuer: must be an absolute http(s) URL"},
		},
		{
			name: "several problems in one error, one per line",
			yaml: "listen: '8080'\nlog: {level: loud}\ndistrict: {name: ' ', domain: 'bad_domain'}\n" +
				"tokens: {authorization_code_lifetime: 11m, refresh_token_lifetime: 0s}\n" +
				"session: {lifetime: 1h, idle_timeout: 2h, cookie_name: 'a b'}\n" +
				"password: {min_length: 6, argon2: {memory_kib: 1024, iterations: 0, parallelism: 0}}\n" +
				"keys: {rsa_bits: 1024, refresh_interval: -1s}\n",
			wantErr: []string{
				"invalid configuration:\n  listen: must be host:port",
				"\n  log.level: must be \"debug\", \"info\", \"warn\" or \"error\" (got \"loud\")",
				"\n  district.name: required",
				"\n  district.domain: must be a lower-case DNS name",
				"\n  keys.rsa_bits: must be 2048, 3072 or 4096 (got 1024)",
				"\n  keys.refresh_interval: must be positive (got -1s)",
				"\n  tokens.authorization_code_lifetime: must be at most 10m (got 11m)",
				"\n  tokens.refresh_token_lifetime: must be positive (got 0s)",
				"\n  session.idle_timeout: must not exceed session.lifetime (2h > 1h)",
				"\n  session.cookie_name: must be",
				"\n  password.min_length: must be between 8 and 128 (got 6)",
				"\n  password.argon2.memory_kib: must be at least 19456",
				"\n  password.argon2.iterations: must be at least 1",
				"\n  password.argon2.parallelism: must be at least 1",
			},
		},
		{
			name:    "redis url and addrs together",
			yaml:    "redis: {url: 'redis://r:6379', addrs: ['s:26379']}\n",
			wantErr: []string{"redis.url, redis.addrs: set one or the other, not both"},
		},
		{
			name:    "redis url problems do not echo the url",
			yaml:    "redis: {url: 'http://user:s3cret@r:6379', db: 2, tls: true}\n",
			wantErr: []string{"redis.url: must be a redis:// or rediss:// URL", "redis.db: must be 0 when redis.url is set", "redis.tls: must be false"},
		},
		{
			name:    "redis cluster with a database",
			yaml:    "redis: {addrs: ['a:6379', 'b:6379'], db: 1}\n",
			wantErr: []string{"redis.db: must be 0 for Redis Cluster"},
		},
		{
			name:    "redis sentinel problems",
			yaml:    "redis: {master_name: m}\n",
			wantErr: []string{"redis.master_name: requires redis.addrs"},
		},
		{
			name:    "redis bad addr",
			yaml:    "redis: {addrs: ['nohost']}\n",
			wantErr: []string{`redis.addrs[0]: must be host:port (got "nohost")`},
		},
		{
			name: "ES256 ignores rsa_bits",
			yaml: "keys: {algorithm: ES256, rsa_bits: 0}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(path, tt.env)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error echoes a secret: %q", err)
			}
		})
	}
}

func TestDurationYAML(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
	}
	if err := yaml.Unmarshal([]byte("d: 720h\n"), &v); err != nil || v.D.Duration != 720*time.Hour {
		t.Fatalf("decode = %v, %v", v.D, err)
	}
	for d, want := range map[time.Duration]string{
		720 * time.Hour: "720h", time.Minute: "1m", 90 * time.Second: "1m30s", 0: "0s", 1500 * time.Millisecond: "1.5s",
	} {
		out, err := yaml.Marshal(struct {
			D Duration `yaml:"d"`
		}{Duration{d}})
		if err != nil || string(out) != "d: "+want+"\n" {
			t.Errorf("encode %v = %q, %v; want %q", d, out, err, want)
		}
	}
}

func TestEnvKeys(t *testing.T) {
	keys := EnvKeys()
	for _, want := range []string{
		"GATEHOUSE_ISSUER", "GATEHOUSE_DATABASE_DSN", "GATEHOUSE_REDIS_URL", "GATEHOUSE_REDIS_ADDRS",
		"GATEHOUSE_SECRETS_MASTER_KEY", "GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME", "GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB",
	} {
		if !slices.Contains(keys, want) {
			t.Errorf("EnvKeys() lacks %s", want)
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("%s maps to two fields", k)
		}
		seen[k] = true
	}
	for _, k := range keys {
		if strings.HasSuffix(k, "_FILE") && seen[strings.TrimSuffix(k, "_FILE")] {
			t.Errorf("%s is both a field and the _FILE form of another", k)
		}
	}
}

// TestExample keeps config/gatehouse.example.yaml complete and at defaults.
func TestExample(t *testing.T) {
	const path = "../../config/gatehouse.example.yaml"
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Redis.Addrs) == 0 {
		c.Redis.Addrs = nil // "addrs: []" decodes to an empty, not nil, slice
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("example differs from Default():\n%+v\n%+v", c, Default())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	var collect func(n *yaml.Node, prefix string)
	collect = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := prefix + n.Content[i].Value
			present[p] = true
			if n.Content[i+1].Kind == yaml.MappingNode {
				collect(n.Content[i+1], p+".")
			}
		}
	}
	collect(root.Content[0], "")
	for _, f := range fields() {
		if !present[f.path] {
			t.Errorf("example lacks %s", f.path)
		}
	}
}

func TestSecretsKey(t *testing.T) {
	if _, err := (Secrets{}).Key(); err == nil || !strings.Contains(err.Error(), "secrets.master_key: not set") {
		t.Errorf("empty key error = %v", err)
	}
	if _, err := (Secrets{MasterKey: "not base64!"}).Key(); err == nil {
		t.Error("invalid base64 accepted")
	}
	k, err := Secrets{MasterKey: testKey}.Key()
	if err != nil || string(k) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("Key() = %q, %v", k, err)
	}
}
