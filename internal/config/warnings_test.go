package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWarnings reports misspelt variables and a local issuer on another
// port than the listener, and stays quiet when all is well.
func TestWarnings(t *testing.T) {
	for name, tt := range map[string]struct {
		env  []string
		want []string // substrings, one per warning
	}{
		"defaults":                    {nil, nil},
		"misspelt variable":           {[]string{"GATEHOUSE_LISTN=:9000", "GATEHOUSE_CONFIG=", "GATEHOUSE_TEST_REDIS_URL=redis://x", "OTHER=1"}, []string{"GATEHOUSE_LISTN is not a Gatehouse setting"}},
		"_FILE variant is known":      {[]string{"GATEHOUSE_SECRETS_MASTER_KEY_FILE=" + writeKey(t)}, nil},
		"listen without issuer":       {[]string{"GATEHOUSE_LISTEN=:9000"}, []string{`issuer http://localhost:8080 names port 8080 but listen is ":9000"`}},
		"listen with matching issuer": {[]string{"GATEHOUSE_LISTEN=127.0.0.1:9000", "GATEHOUSE_ISSUER=http://127.0.0.1:9000"}, nil},
		"proxy in front":              {[]string{"GATEHOUSE_LISTEN=:9000", "GATEHOUSE_ISSUER=https://login.district.example"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load("", tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", c.Warnings, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %q lacks %q", c.Warnings[i], w)
				}
			}
		})
	}
}

func writeKey(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(testKey), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestYAMLProblemsAllAtOnce: a bad duration does not hide unknown keys.
func TestYAMLProblemsAllAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	yaml := "lisen: \":9000\"\nrequest_timeout: soon\nmetrics:\n  lsten: x\ntokens:\n  access_token_lifetime: [1]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"line 1: field lisen not found", `line 2: invalid duration "soon"`, "line 4: field lsten not found", "line 6: want a duration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if lines := strings.Count(err.Error(), "\n"); lines != 4 || !slices.Contains(strings.Split(err.Error(), "\n"), "invalid configuration:") {
		t.Errorf("want one line per problem:\n%v", err)
	}
}

// TestPostgresNeedsSharedRedis: replicas on one database must share Redis,
// unless the operator says there is one server.
func TestPostgresNeedsSharedRedis(t *testing.T) {
	env := []string{"GATEHOUSE_DATABASE_DRIVER=postgres", "GATEHOUSE_DATABASE_DSN=postgres://db/gatehouse", "GATEHOUSE_SECRETS_MASTER_KEY=" + testKey}
	if _, err := Load("", env); err == nil || !strings.Contains(err.Error(), "redis.url: required with database.driver \"postgres\"") {
		t.Errorf("postgres with the in-process store: %v", err)
	}
	if _, err := Load("", append(env, "GATEHOUSE_REDIS_ALLOW_EMBEDDED_WITH_POSTGRES=true")); err != nil {
		t.Errorf("a single server: %v", err)
	}
	if _, err := Load("", append(env, "GATEHOUSE_REDIS_URL=redis://redis:6379/0")); err != nil {
		t.Errorf("shared Redis: %v", err)
	}
}
