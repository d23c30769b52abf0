package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

const envPrefix = "GATEHOUSE_"

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty), then GATEHOUSE_* overrides from environ (as from
// os.Environ), then values derived from data_dir, then Validate.
func Load(path string, environ []string) (*Config, error) {
	c := base()
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return nil, err
		}
	}
	if err := c.applyEnv(environ); err != nil {
		return nil, err
	}
	c.derive()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.Warnings = append(unknownEnv(environ), c.issuerPortWarning()...)
	return c, nil
}

// unknownEnv names the GATEHOUSE_* variables that set nothing, most likely
// misspelt. They are warned about, not refused: other tools (the test
// suite's GATEHOUSE_TEST_*) share the prefix.
func unknownEnv(environ []string) []string {
	known := map[string]bool{"GATEHOUSE_CONFIG": true}
	for _, f := range fields() {
		known[f.env], known[f.env+"_FILE"] = true, true
	}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, envPrefix) && !strings.HasPrefix(k, envPrefix+"TEST_") && !known[k] {
			out = append(out, k+" is not a Gatehouse setting and is ignored (the settings are listed in config/gatehouse.example.yaml)")
		}
	}
	sort.Strings(out)
	return out
}

// issuerPortWarning catches a local issuer whose port is not the one the
// server listens on: every redirect (the console, the demo app) would go
// to a port nothing answers on. Behind a proxy on another host the ports
// differ on purpose, so only loopback issuers are checked.
func (c *Config) issuerPortWarning() []string {
	u, err := url.Parse(c.Issuer)
	_, listenPort, lerr := net.SplitHostPort(c.Listen)
	if err != nil || lerr != nil || !isLoopback(u.Hostname()) {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if port == listenPort {
		return nil
	}
	return []string{fmt.Sprintf("issuer %s names port %s but listen is %q: browsers will be sent to a port Gatehouse does not answer on; set issuer (GATEHOUSE_ISSUER) to http://localhost:%s",
		c.Issuer, port, c.Listen, listenPort)}
}

func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err = dec.Decode(c)
	if errors.Is(err, io.EOF) { // an empty file changes nothing
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		p := make(problems, len(te.Errors))
		for i, e := range te.Errors {
			p[i] = path + ": " + e
		}
		return p
	}
	if err != nil {
		return problems{path + ": " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	return nil
}

// applyEnv sets every field whose variable (or its _FILE variant) is present.
// Unknown GATEHOUSE_* variables are left to unknownEnv.
func (c *Config) applyEnv(environ []string) error {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, envPrefix) {
			env[k] = v
		}
	}
	root := reflect.ValueOf(c).Elem()
	var p problems
	for _, f := range fields() {
		val, inline := env[f.env]
		file, fromFile := env[f.env+"_FILE"]
		switch {
		case inline && fromFile:
			p = append(p, fmt.Sprintf("%s, %s_FILE: set one or the other, not both", f.env, f.env))
			continue
		case fromFile:
			b, err := os.ReadFile(file)
			if err != nil {
				p = append(p, fmt.Sprintf("%s_FILE: %v", f.env, err))
				continue
			}
			val = strings.TrimRight(string(b), "\r\n")
		case !inline:
			continue
		}
		if err := setString(root.FieldByIndex(f.index), val); err != nil {
			name := f.env
			if fromFile {
				name += "_FILE"
			}
			p = append(p, name+": "+err.Error())
		}
	}
	if len(p) > 0 {
		return p
	}
	return nil
}

func setString(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid boolean %q (want true or false)", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return numErr(s, err)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return numErr(s, err)
		}
		v.SetUint(n)
	case reflect.Slice: // []string, comma-separated
		var list []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		v.Set(reflect.ValueOf(list).Convert(v.Type()))
	}
	return nil
}

func numErr(s string, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%q is out of range", s)
	}
	return fmt.Errorf("invalid number %q", s)
}

// field is one overridable leaf of Config.
type field struct {
	path  string // YAML path, e.g. "tokens.access_token_lifetime"
	env   string // e.g. "GATEHOUSE_TOKENS_ACCESS_TOKEN_LIFETIME"
	index []int  // for reflect.Value.FieldByIndex
}

var fields = sync.OnceValue(func() []field {
	return walk(reflect.TypeFor[Config](), "", nil, nil)
})

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func walk(t reflect.Type, prefix string, index []int, out []field) []field {
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		idx := append(index[:len(index):len(index)], i)
		ft := sf.Type
		switch {
		case reflect.PointerTo(ft).Implements(textUnmarshaler), isScalar(ft.Kind()),
			ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			env := envPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
			out = append(out, field{path: path, env: env, index: idx})
		case ft.Kind() == reflect.Struct:
			out = walk(ft, path+".", idx, out)
		default:
			panic(fmt.Sprintf("config: %s has type %s, which environment overrides cannot set", path, ft))
		}
	}
	return out
}

func isScalar(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// EnvKeys lists, in field order, every GATEHOUSE_* variable that overrides a
// field. Each NAME also accepts NAME_FILE, naming a file holding the value.
func EnvKeys() []string {
	fs := fields()
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.env
	}
	return keys
}

// derive fills values that depend on others and normalises the rest.
func (c *Config) derive() {
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	c.District.Domain = strings.ToLower(c.District.Domain)
	if c.Database.Driver == "sqlite" && c.Database.DSN == "" {
		c.Database.DSN = filepath.Join(c.DataDir, "gatehouse.db")
	}
	if c.Delivery.OutboxFile == "" {
		c.Delivery.OutboxFile = filepath.Join(c.DataDir, "outbox.jsonl")
	}
}
