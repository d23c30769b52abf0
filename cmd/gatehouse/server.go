package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/demorp"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise the module version from the build info is shown.
var version string

// untilSignal cancels on SIGINT or SIGTERM, for long-running commands only:
// elsewhere Ctrl-C should stop the process at once.
func untilSignal(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func (c *cli) serveCmd() *cobra.Command {
	var demo bool
	var demoListen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the OpenID Connect provider",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			ctx, stop := untilSignal(cmd.Context())
			defer stop()
			return app.Serve(ctx, a, app.ServeOptions{Demo: demo || cmd.Flags().Changed("demo-listen"), DemoListen: demoListen})
		}),
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "also run the demo app on http://"+app.DemoAddr+" (registered as a client on first use)")
	cmd.Flags().StringVar(&demoListen, "demo-listen", app.DemoAddr, "host:port of the demo app (implies --demo)")
	return cmd
}

func (c *cli) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and show the schema version",
		Args:  cobra.NoArgs,
		// Opening the app migrates; this shows the result.
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			status, err := a.DB.MigrationStatus(cmd.Context())
			if err != nil {
				return err
			}
			if c.json() {
				type row struct {
					Version   int        `json:"version"`
					Name      string     `json:"name"`
					Applied   bool       `json:"applied"`
					AppliedAt *time.Time `json:"applied_at,omitempty"`
				}
				out := make([]row, len(status))
				for i, s := range status {
					out[i] = row{Version: s.Version, Name: s.Name, Applied: s.Applied}
					if s.Applied {
						out[i].AppliedAt = &s.AppliedAt
					}
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, len(status))
			for i, s := range status {
				rows[i] = []string{fmt.Sprintf("%04d", s.Version), s.Name, strconv.FormatBool(s.Applied), formatTime(s.AppliedAt)}
			}
			return table(cmd.OutOrStdout(), "VERSION\tNAME\tAPPLIED\tAPPLIED AT", rows)
		}),
	}
}

func (c *cli) healthcheckCmd() *cobra.Command {
	var target string
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the local server reports ready (for container health checks)",
		Long: "Exit 0 when the server answers 200 on its readiness endpoint, 1 otherwise.\n" +
			"The runtime image has no curl, so containers check themselves with this.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				cfg, err := c.loadConfig()
				if err != nil {
					return err
				}
				if target, err = readyzURL(cfg.Listen); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s answered %s", target, resp.Status)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "", "readiness URL (default http://127.0.0.1:<port of listen>/readyz)")
	return cmd
}

// readyzURL derives the local readiness URL from the listen address; a
// wildcard host is reached over loopback.
func readyzURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

func demoRPCmd() *cobra.Command {
	var o demorp.Options
	var listen string
	cmd := &cobra.Command{
		Use:   "demo-rp",
		Short: "Run a small demo application that signs in with Gatehouse",
		Long: "Run a small relying party that signs in with Gatehouse and shows the ID token.\n" +
			"Register it first, for example:\n" +
			"  gatehouse clients create --name \"Demo app\" --public \\\n" +
			"    --redirect-uri http://localhost:9090/callback --post-logout-redirect-uri http://localhost:9090/",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := untilSignal(cmd.Context())
			defer stop()
			h, err := demorp.New(ctx, o)
			if err != nil {
				return err
			}
			srv := &http.Server{Addr: listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.ListenAndServe() }()
			home, _ := url.Parse(o.RedirectURL) // New has validated it
			home.Path, home.RawQuery = "/", ""
			fmt.Fprintf(cmd.ErrOrStderr(), "demo app listening on %s; open %s\n", listen, home)
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(shutdown)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Issuer, "issuer", "", "Gatehouse's issuer URL, e.g. http://localhost:8080 (required)")
	f.StringVar(&o.ClientID, "client-id", "", "the demo app's client ID (required)")
	f.StringVar(&o.ClientSecret, "client-secret", "", "the client secret; omit for a public client")
	f.StringVar(&listen, "listen", ":9090", "address to listen on")
	f.StringVar(&o.RedirectURL, "redirect-url", "http://localhost:9090/callback", "redirect URI registered for the client")
	f.StringVar(&o.PostLogoutURL, "post-logout-url", "", "post-logout redirect URI registered for the client (default: / of the redirect URL)")
	cmd.MarkFlagRequired("issuer")
	cmd.MarkFlagRequired("client-id")
	return cmd
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, rev := version, ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				if v == "" {
					v = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]string{"version": v, "revision": rev, "go": runtime.Version()})
			}
			line := "gatehouse " + orDash(v) + " " + runtime.Version()
			if rev != "" {
				line += " revision " + rev
			}
			fmt.Fprintln(cmd.OutOrStdout(), line)
			return nil
		},
	}
}
