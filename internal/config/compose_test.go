package config

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml these checks read.
type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// interpolation matches Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}`)

// interpolate expands references the way Compose would with the given shell
// environment, failing on a required variable that is missing.
func interpolate(t *testing.T, s string, shell map[string]string) string {
	return interpolation.ReplaceAllStringFunc(s, func(ref string) string {
		m := interpolation.FindStringSubmatch(ref)
		if v, ok := shell[m[1]]; ok {
			return v
		}
		if m[2] == "?" {
			t.Errorf("%s is required by docker-compose.yml: %s", m[1], m[3])
		}
		return m[3]
	})
}

func TestCompose(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "redis", "gatehouse"} {
		s, ok := cf.Services[name]
		if !ok {
			t.Fatalf("service %s missing", name)
		}
		if len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	gh := cf.Services["gatehouse"]
	if gh.Build == nil {
		t.Error("gatehouse is not built from the Dockerfile")
	}
	for _, dep := range []string{"postgres", "redis"} {
		if c := gh.DependsOn[dep].Condition; c != "service_healthy" {
			t.Errorf("gatehouse depends_on %s condition = %q, want service_healthy", dep, c)
		}
	}
	if !slices.Contains(gh.Ports, "8080:8080") {
		t.Errorf("gatehouse ports = %q, want 8080:8080 published", gh.Ports)
	}

	known := EnvKeys()
	shell := map[string]string{"GATEHOUSE_SECRETS_MASTER_KEY": testKey}
	var environ []string
	for k, v := range gh.Environment {
		if strings.HasPrefix(k, envPrefix) && !slices.Contains(known, strings.TrimSuffix(k, "_FILE")) {
			t.Errorf("gatehouse environment sets %s, which no field reads", k)
		}
		environ = append(environ, k+"="+interpolate(t, v, shell))
	}

	for variable, service := range map[string]string{
		"GATEHOUSE_DATABASE_DSN": "postgres",
		"GATEHOUSE_REDIS_URL":    "redis",
	} {
		u, err := url.Parse(gh.Environment[variable])
		if err != nil || u.Hostname() != service {
			t.Errorf("%s = %q: host should be the %s service", variable, gh.Environment[variable], service)
		}
	}

	c, err := Load("", environ)
	if err != nil {
		t.Fatalf("compose environment does not load: %v", err)
	}
	if c.Database.Driver != "postgres" || c.Redis.Embedded() || c.Log.Format != "json" {
		t.Errorf("compose config = %+v, want postgres, external redis, json logs", c)
	}
}
