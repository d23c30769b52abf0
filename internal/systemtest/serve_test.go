package systemtest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// openServeApp opens an App for Serve on a fresh database.
func openServeApp(t *testing.T, adjust func(*config.Config)) *app.App {
	t.Helper()
	driver, dsn := testenv.SQLDatabase(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Database.Driver, cfg.Database.DSN = driver, dsn
	cfg.Redis.AllowEmbeddedWithPostgres = true // one server, on the in-process store
	cfg.Secrets.MasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	cfg.Password.Argon2 = config.Argon2{MemoryKiB: 19456, Iterations: 1, Parallelism: 1}
	cfg.Delivery.OutboxFile = t.TempDir() + "/outbox.jsonl"
	cfg.Metrics.Listen = freeAddr(t)
	adjust(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeBindsBeforeBootstrap: a first run whose port is taken creates
// no administrator, so the one-time password is shown by the run that works.
func TestServeBindsBeforeBootstrap(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	a := openServeApp(t, func(cfg *config.Config) {
		cfg.Listen = busy.Addr().String()
		cfg.Issuer = "http://" + busy.Addr().String()
	})
	if err := app.Serve(t.Context(), a, app.ServeOptions{}); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Serve on a busy port: %v", err)
	}
	if user, _, err := a.Users.EnsureBootstrapAdmin(t.Context()); err != nil || user == "" {
		t.Fatalf("the failed run created the administrator already: %q %v", user, err)
	}
}

// TestServeListeners: metrics are served on their own listener only, and
// the demo app where --demo-listen says.
func TestServeListeners(t *testing.T) {
	listen, demo := freeAddr(t), freeAddr(t)
	a := openServeApp(t, func(cfg *config.Config) {
		cfg.Listen = listen
		cfg.Issuer = "http://" + listen
	})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, a, app.ServeOptions{Demo: true, DemoListen: demo, Ready: func(string) { close(ready) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not start")
	}
	get := func(u string) (int, string) {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, _ := get("http://" + listen + "/metrics"); status != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d", status)
	}
	if status, body := get("http://" + a.Config.Metrics.Listen + "/metrics"); status != http.StatusOK || !strings.Contains(body, "gatehouse_") {
		t.Errorf("/metrics on metrics.listen: %d", status)
	}
	if status, _ := get("http://" + demo + "/"); status != http.StatusOK {
		t.Errorf("demo app on --demo-listen: %d", status)
	}
}
