package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

type provisionConfig struct {
	kind, issuer, statePath, redirectURI string
	users, concurrency                   int
	prefix, password                     string
	// Gatehouse: its CLI, against the server's own configuration.
	gatehouseBin, gatehouseConfig string
	argon2, idTokenAlg            string
	// Hydra: its admin API.
	hydraAdmin string
}

func provisionCmd(args []string, stdout io.Writer) error {
	var c provisionConfig
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.StringVar(&c.kind, "kind", kindGatehouse, "provider kind: gatehouse or hydra")
	fs.StringVar(&c.issuer, "issuer", "", "the provider's issuer URL (required)")
	fs.StringVar(&c.statePath, "state", "", "state file to write (required)")
	fs.StringVar(&c.redirectURI, "redirect-uri", "http://127.0.0.1:18099/callback", "the bench client's redirect URI (never called: the generator stops at it)")
	fs.IntVar(&c.users, "users", 300, "bench users to create and sign in once (at least the highest concurrency; Gatehouse first sign-ins also need enough users for fresh TOTP steps)")
	fs.IntVar(&c.concurrency, "c", 4, "how many users to sign in at once")
	fs.StringVar(&c.prefix, "prefix", "bench-u", "username prefix")
	fs.StringVar(&c.password, "password", "", "the bench users' password (default: random)")
	fs.StringVar(&c.gatehouseBin, "gatehouse-bin", "gatehouse", "Gatehouse binary, for its CLI")
	fs.StringVar(&c.gatehouseConfig, "gatehouse-config", "", "Gatehouse configuration file (the server's; GATEHOUSE_* variables are passed on)")
	fs.StringVar(&c.argon2, "argon2", "65536,3,2", "argon2id memory KiB, iterations, parallelism of the imported password hashes: the server's password.argon2, so sign-ins cost what they cost in production")
	fs.StringVar(&c.idTokenAlg, "id-token-alg", "", "Gatehouse: the algorithm the bench client registers for its ID tokens (empty: the server's default)")
	fs.StringVar(&c.hydraAdmin, "hydra-admin", "http://127.0.0.1:4445", "Hydra's admin API")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.issuer == "" || c.statePath == "" {
		return errors.New("provision: -issuer and -state are required")
	}
	if c.users < 1 || c.users > 100000 || c.concurrency < 1 || c.concurrency > 256 {
		return errors.New("provision: -users must be in [1, 100000] and -c in [1, 256]")
	}
	if c.password == "" {
		c.password = "Bench-" + rand.Text()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	st := &State{Kind: c.kind, Issuer: c.issuer, RedirectURI: c.redirectURI, CreatedAt: time.Now().UTC()}
	for i := range c.users {
		st.Users = append(st.Users, &User{Username: fmt.Sprintf("%s%05d", c.prefix, i+1), Password: c.password})
	}
	start := time.Now()
	switch c.kind {
	case kindGatehouse:
		st.IntrospectAuth = true
		if err := provisionGatehouse(ctx, c, st, stdout); err != nil {
			return err
		}
	case kindHydra:
		if err := provisionHydra(ctx, c, st); err != nil {
			return err
		}
	default:
		return fmt.Errorf("provision: unknown kind %q", c.kind)
	}
	fmt.Fprintf(stdout, "provision %s: client %s, signing in %d users…\n", c.kind, st.ClientID, len(st.Users))
	if err := signInAll(ctx, c, st, stdout); err != nil {
		return err
	}
	if err := st.save(c.statePath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "provision %s: done in %s, state in %s\n", c.kind, time.Since(start).Round(time.Second), c.statePath)
	return nil
}

// gatehouse runs the Gatehouse CLI with the server's configuration.
func (c provisionConfig) gatehouse(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	full := []string{"--output", "json"}
	if c.gatehouseConfig != "" {
		full = append(full, "--config", c.gatehouseConfig)
	}
	cmd := exec.CommandContext(ctx, c.gatehouseBin, append(full, args...)...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gatehouse %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func provisionGatehouse(ctx context.Context, c provisionConfig, st *State, stdout io.Writer) error {
	out, err := c.gatehouse(ctx, nil, "clients", "create", "--name", "gatehouse-bench",
		"--description", "load generator (cmd/gatehouse-bench)", "--redirect-uri", c.redirectURI,
		"--grant-type", "authorization_code,refresh_token,client_credentials", "--id-token-alg", c.idTokenAlg)
	if err != nil {
		return err
	}
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &client); err != nil || client.ID == "" || client.Secret == "" {
		return fmt.Errorf("clients create: unexpected output %q", out)
	}
	st.ClientID, st.ClientSecret = client.ID, client.Secret

	// One argon2id hash with the server's parameters serves every user:
	// each sign-in still verifies it at full cost.
	phc, err := phcHash(c.password, c.argon2)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"username", "email", "display_name", "password_hash"})
	for _, u := range st.Users {
		w.Write([]string{u.Username, u.Username + "@home.example", "Bench " + u.Username, phc})
	}
	w.Flush()
	if _, err := c.gatehouse(ctx, &buf, "users", "import", "-"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "provision gatehouse: imported %d users\n", len(st.Users))
	return nil
}

// phcHash makes the argon2id PHC string of password with "m,t,p".
func phcHash(password, params string) (string, error) {
	f := strings.Split(params, ",")
	if len(f) != 3 {
		return "", fmt.Errorf("-argon2 %q: want memoryKiB,iterations,parallelism", params)
	}
	var n [3]uint64
	for i, s := range f {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil || v == 0 {
			return "", fmt.Errorf("-argon2 %q: want memoryKiB,iterations,parallelism", params)
		}
		n[i] = v
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	sum := argon2.IDKey([]byte(password), salt, uint32(n[1]), uint32(n[0]), uint8(n[2]), 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, n[0], n[1], n[2],
		b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

func provisionHydra(ctx context.Context, c provisionConfig, st *State) error {
	secret := make([]byte, 32)
	rand.Read(secret)
	body, _ := json.Marshal(map[string]any{
		"client_name":                "gatehouse-bench",
		"client_secret":              hex.EncodeToString(secret),
		"grant_types":                []string{"authorization_code", "refresh_token", "client_credentials"},
		"response_types":             []string{"code"},
		"scope":                      "openid profile email offline_access offline",
		"redirect_uris":              []string{c.redirectURI},
		"token_endpoint_auth_method": "client_secret_basic",
	})
	admin := strings.TrimSuffix(c.hydraAdmin, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, admin+"/admin/clients", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := doJSON(http.DefaultClient, req, &client); err != nil {
		return fmt.Errorf("hydra: creating the client: %w", err)
	}
	st.ClientID, st.ClientSecret = client.ID, hex.EncodeToString(secret)
	st.IntrospectURL, st.IntrospectAuth = admin+"/admin/oauth2/introspect", false
	return nil
}

// signInAll signs every user in once (for Gatehouse, registering an
// authenticator app the first time), redeems the code, and keeps the
// browser's cookies: the session a later code flow runs in.
func signInAll(ctx context.Context, c provisionConfig, st *State, stdout io.Writer) error {
	rt := newTransport(c.concurrency)
	p, err := newProvider(ctx, st, rt, time.Minute)
	if err != nil {
		return err
	}
	var next, done atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(st.Users) || ctx.Err() != nil {
					return
				}
				u := st.Users[i]
				var err error
				for attempt := 0; attempt < 3; attempt++ {
					if err = signInOnce(ctx, p, u); err == nil {
						break
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("signing in %s: %w", u.Username, err)
					}
					mu.Unlock()
					return
				}
				if n := done.Add(1); n%50 == 0 {
					fmt.Fprintf(stdout, "  %d/%d signed in\n", n, len(st.Users))
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func signInOnce(ctx context.Context, p *provider, u *User) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	b := newBrowser(p.rt, p.st.RedirectURI)
	ar := p.newAuthRequest(scopeApp, u)
	// A user who already has an authenticator app (provisioning run again)
	// answers the challenge with the first step not yet used.
	step := max(u.LastStep+1, totpStep(time.Now()))
	u.LastStep = max(u.LastStep, step)
	pg, err := p.signIn(ctx, b, ar, u, step)
	if err != nil {
		return err
	}
	code, err := callback(pg, p.st.RedirectURI, ar.state, p.disco.Issuer)
	if err != nil {
		return err
	}
	if _, err := p.exchange(ctx, p.back, ar, code); err != nil {
		return err
	}
	u.Cookies = b.cookies(p.issuerURL)
	if len(u.Cookies) == 0 {
		return errors.New("no session cookie after signing in")
	}
	return nil
}
