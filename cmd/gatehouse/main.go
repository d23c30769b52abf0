// Command gatehouse runs the Gatehouse OpenID Connect provider and
// administers it: clients, users and signing keys.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "gatehouse: %s\n", describe(err))
		os.Exit(1)
	}
}

// cli holds the root's persistent flags, shared by every subcommand.
type cli struct {
	configPath string
	output     string
}

func newRootCmd() *cobra.Command {
	c := &cli{}
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "Gatehouse, the district's OpenID Connect provider",
		// Errors are printed once, by main, without a usage dump.
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if c.output != "text" && c.output != "json" {
				return fmt.Errorf("--output must be text or json (got %q)", c.output)
			}
			return nil
		},
	}
	root.PersistentFlags().StringVar(&c.configPath, "config", "", "configuration file (default $GATEHOUSE_CONFIG; none means built-in defaults and GATEHOUSE_* variables)")
	root.PersistentFlags().StringVarP(&c.output, "output", "o", "text", "output format: text or json")
	root.AddCommand(
		c.serveCmd(), c.migrateCmd(), c.healthcheckCmd(),
		c.clientsCmd(), c.usersCmd(), c.keysCmd(),
		demoRPCmd(), c.versionCmd(),
	)
	return root
}

// loadConfig reads the file named by --config or GATEHOUSE_CONFIG, then the
// environment. Its errors already name the offending field.
func (c *cli) loadConfig() (*config.Config, error) {
	path := c.configPath
	if path == "" {
		path = os.Getenv("GATEHOUSE_CONFIG")
	}
	return config.Load(path, os.Environ())
}

// newLogger builds the process logger from the log section, on stderr so
// command output on stdout stays clean for scripts.
func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func (c *cli) openApp(ctx context.Context) (*app.App, error) {
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, err
	}
	logger := newLogger(cfg)
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	return app.Open(ctx, cfg, logger)
}

// withApp wraps a command body that needs the database.
func (c *cli) withApp(fn func(cmd *cobra.Command, args []string, a *app.App) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := c.openApp(cmd.Context())
		if err != nil {
			return err
		}
		defer a.Close()
		return fn(cmd, args, a)
	}
}

// withAdmin wraps a command body that manages clients or users: it goes
// through the same admin service as the API and the console, which checks
// roles and writes the audit trail.
func (c *cli) withAdmin(fn func(cmd *cobra.Command, args []string, s *admin.Service) error) func(*cobra.Command, []string) error {
	return c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
		s, closeRedis, err := adminService(a)
		if err != nil {
			return err
		}
		defer closeRedis()
		return fn(cmd, args, s)
	})
}

// adminService returns the admin service, able to end browser sessions and
// clear lockouts when the server shares an external Redis. The embedded
// store lives inside the running server, out of this process's reach, so
// there Sessions and Locks stay nil. The client connects lazily: commands
// that never touch Redis never dial it.
func adminService(a *app.App) (*admin.Service, func(), error) {
	cfg := a.Config
	if cfg.Redis.Embedded() {
		return a.Admin, func() {}, nil
	}
	rdb, closeRedis, err := a.ConnectRedis()
	if err != nil {
		return nil, nil, err
	}
	kv := redisstore.New(rdb, cfg.Redis.KeyPrefix)
	s := *a.Admin
	s.Sessions = session.Revoker{KV: kv, Lifetime: cfg.Session.Lifetime.Duration}
	s.Locks = lockout.New(kv, lockout.Options{
		SignInThreshold: cfg.Password.Lockout.Threshold, SignInLock: cfg.Password.Lockout.Duration.Duration,
		SignInMaxLock: cfg.Password.Lockout.Max.Duration, SSPRProofFailures: cfg.SSPR.ProofFailures,
		SSPREmails: cfg.SSPR.EmailsPer10m, SSPRLock: cfg.SSPR.LockFor.Duration,
	})
	return &s, closeRedis, nil
}

func (c *cli) json() bool { return c.output == "json" }

// record writes an audit event for a change made from the command line.
func record(ctx context.Context, a *app.App, e audit.Event) {
	e.ActorID = "cli"
	a.Audit.Record(ctx, e)
}

// describe turns service errors into the sentence an operator needs.
func describe(err error) string {
	var ve *clients.ValidationError
	var pe *identity.PolicyError
	switch {
	case errors.As(err, &ve) && len(ve.Problems) > 1:
		return "the client registration has problems:\n  " + strings.Join(ve.Problems, "\n  ")
	case errors.As(err, &pe):
		return pe.Msg
	case errors.Is(err, admin.ErrForbidden):
		return admin.ErrForbidden.Error()
	}
	return err.Error()
}

// notFound names what was looked up when it does not exist.
func notFound(kind, ref string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no such %s: %s", kind, ref)
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes tab-separated rows as aligned columns.
func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields writes "name: value" lines with the values aligned.
func fields(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
	}
	return tw.Flush()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
