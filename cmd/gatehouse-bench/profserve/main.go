//go:build benchprof

// Command profserve is `gatehouse serve` with net/http/pprof on a second,
// loopback-only listener, for profiling under the load generator until
// Gatehouse has its own admin-only pprof flag. It builds the server the
// way app.Serve does (same configuration, handler, background jobs, HTTP
// timeouts) and adds nothing to the served handler.
//
// It is behind the benchprof build tag so that `go build ./...` and
// `go test ./...` never depend on it:
//
//	go build -tags benchprof -o bench/bin/gatehouse-prof ./cmd/gatehouse-bench/profserve
//	gatehouse-prof -config bench/gatehouse.yaml -pprof 127.0.0.1:16060
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/config"
)

func main() {
	if err := serve(); err != nil {
		fmt.Fprintf(os.Stderr, "profserve: %v\n", err)
		os.Exit(1)
	}
}

func serve() error {
	cfgPath := flag.String("config", "", "Gatehouse configuration file")
	pprofAddr := flag.String("pprof", "127.0.0.1:16060", "loopback address for /debug/pprof/")
	mutex := flag.Int("mutex-fraction", 0, "runtime.SetMutexProfileFraction (0: off)")
	block := flag.Int("block-rate", 0, "runtime.SetBlockProfileRate in ns (0: off)")
	flag.Parse()
	runtime.SetMutexProfileFraction(*mutex)
	runtime.SetBlockProfileRate(*block)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	rdb, closeRedis, err := a.ConnectRedis()
	if err != nil {
		return err
	}
	defer closeRedis()
	handler, err := a.Handler(rdb, cfg.Redis.KeyPrefix)
	if err != nil {
		return err
	}
	a.Background(ctx)

	pm := http.NewServeMux()
	pm.HandleFunc("/debug/pprof/", pprof.Index)
	pm.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
	pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
	pln, err := net.Listen("tcp", *pprofAddr)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(pln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-pprof must be a loopback address (got %s)", pln.Addr())
	}
	go http.Serve(pln, pm)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "profserve: serving %s, pprof on http://%s/debug/pprof/\n", ln.Addr(), pln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
