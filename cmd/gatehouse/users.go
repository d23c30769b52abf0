package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/admin/api"
	"github.com/gatehouse/gatehouse/internal/identity"
)

func (c *cli) usersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage the people who sign in"}
	cmd.AddCommand(c.usersCreateCmd(), c.usersListCmd(), c.usersGetCmd(), c.usersSetPasswordCmd(), c.usersResetPasswordCmd(),
		c.usersSetRolesCmd(), c.usersSetDisabledCmd("disable", true), c.usersSetDisabledCmd("enable", false),
		c.usersDeleteCmd(), c.usersImportCmd(), c.usersResetMethodsCmd(), c.usersRevokeSessionsCmd(), c.usersUnlockCmd())
	return cmd
}

// passwordFlags choose how a password is given; with neither flag one is
// generated.
type passwordFlags struct {
	password  string
	fromStdin bool
}

func (f *passwordFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.password, "password", "", "the password (visible to other local users in the process list; prefer --password-stdin)")
	cmd.Flags().BoolVar(&f.fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	cmd.MarkFlagsMutuallyExclusive("password", "password-stdin")
}

// read returns the password given, or "" when none was.
func (f *passwordFlags) read(cmd *cobra.Command) (string, error) {
	if !f.fromStdin {
		return f.password, nil
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}

func printGenerated(w io.Writer, username, password string) {
	fmt.Fprintf(w, "\nGenerated password for %s: %s\nIt is shown only once, and must be changed at the first sign-in.\n", username, password)
}

func (c *cli) usersCreateCmd() *cobra.Command {
	var (
		nu  identity.NewUser
		pwf passwordFlags
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user; without a password flag a one-time password is generated",
		Args:  cobra.NoArgs,
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			pw, err := pwf.read(cmd)
			if err != nil {
				return err
			}
			generated := pw == ""
			if generated {
				// An invalid username gets no policy check here; CreateUser reports it.
				name, _ := identity.NormalizeUsername(nu.Username, s.Users.Domain())
				pw = s.Users.GeneratePassword(&identity.User{Username: name, DisplayName: nu.DisplayName})
				nu.MustChangePassword = true
			}
			nu.Password = pw
			v, err := s.CreateUser(cmd.Context(), admin.CLI, nu)
			if err != nil {
				return err
			}
			// The view leaves out what the full record shows (email verified, password set).
			u, err := s.GetUser(cmd.Context(), admin.CLI, v.ID)
			if err != nil {
				return err
			}
			if c.json() {
				j := toUserJSON(u)
				if generated {
					j.GeneratedPassword = pw
				}
				return printJSON(cmd.OutOrStdout(), j)
			}
			if err := printUser(cmd.OutOrStdout(), u); err != nil {
				return err
			}
			if generated {
				printGenerated(cmd.OutOrStdout(), u.Username, pw)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&nu.Username, "username", "", "short name (the district domain is added) or full UPN (required)")
	f.StringVar(&nu.Email, "email", "", "email address")
	f.StringVar(&nu.DisplayName, "name", "", "display name, e.g. \"Jane Doe\"")
	f.StringSliceVar(&nu.Roles, "role", nil, "role: "+identity.RoleAdmin+" or "+identity.RoleHelpdesk+" (repeatable)")
	f.BoolVar(&nu.MustChangePassword, "must-change-password", false, "require a new password at the first sign-in")
	pwf.register(cmd)
	cmd.MarkFlagRequired("username")
	return cmd
}

func (c *cli) usersListCmd() *cobra.Command {
	var q identity.ListQuery
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			users, err := s.SearchUsers(cmd.Context(), admin.CLI, q)
			if err != nil {
				return err
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), users)
			}
			rows := make([][]string, len(users))
			for i, u := range users {
				rows[i] = []string{u.ID, u.Username, orDash(u.DisplayName), orDash(u.Email), orDash(strings.Join(u.Roles, ",")),
					userStatus(u.Disabled, u.MustChangePassword)}
			}
			return table(cmd.OutOrStdout(), "ID\tUSERNAME\tNAME\tEMAIL\tROLES\tSTATUS", rows)
		}),
	}
	cmd.Flags().StringVar(&q.Search, "search", "", "show users whose username, email or name contains this")
	cmd.Flags().IntVar(&q.Limit, "limit", 100, "show at most this many users (up to 1000)")
	return cmd
}

// findUser resolves a user ID or username.
func findUser(cmd *cobra.Command, s *admin.Service, ref string) (*identity.User, error) {
	u, err := s.GetUser(cmd.Context(), admin.CLI, ref)
	return u, notFound("user", ref, err)
}

func (c *cli) usersGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get USER",
		Short: "Show a user, by ID or username",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			u, err := findUser(cmd, s, args[0])
			if err != nil {
				return err
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), toUserJSON(u))
			}
			return printUser(cmd.OutOrStdout(), u)
		}),
	}
}

func (c *cli) usersSetPasswordCmd() *cobra.Command {
	var (
		pwf        passwordFlags
		mustChange bool
	)
	cmd := &cobra.Command{
		Use:   "set-password USER",
		Short: "Set a user's password; without a password flag a one-time password is generated",
		Long: "Set a user's password. Every session and app sign-in of theirs ends. Without\n" +
			"a password flag this is reset-password: a one-time password is generated.",
		Args: cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			u, err := findUser(cmd, s, args[0])
			if err != nil {
				return err
			}
			pw, err := pwf.read(cmd)
			if err != nil {
				return err
			}
			generated := pw == ""
			if generated {
				if pw, err = s.ResetPassword(cmd.Context(), admin.CLI, u.ID); err != nil {
					return notFound("user", args[0], err)
				}
				mustChange = true
			} else if err := s.SetPassword(cmd.Context(), admin.CLI, u.ID, pw, mustChange); err != nil {
				return notFound("user", args[0], err)
			}
			if c.json() {
				out := map[string]any{"id": u.ID, "username": u.Username, "must_change_password": mustChange}
				if generated {
					out["generated_password"] = pw
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password set for %s\n", u.Username)
			if generated {
				printGenerated(cmd.OutOrStdout(), u.Username, pw)
			}
			return nil
		}),
	}
	pwf.register(cmd)
	cmd.Flags().BoolVar(&mustChange, "must-change-password", false, "require a new password at the next sign-in")
	return cmd
}

func (c *cli) usersResetPasswordCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reset-password USER",
		Short: "Give a user a temporary password, to be changed at their next sign-in",
		Long: "Give a user a temporary password, shown only once, which they must change at\n" +
			"their next sign-in. Every session and app sign-in of theirs ends, and a\n" +
			"sign-in lockout is cleared when the server uses an external Redis.",
		Args: cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			u, err := findUser(cmd, s, args[0])
			if err != nil {
				return err
			}
			temp, err := s.ResetPassword(cmd.Context(), admin.CLI, u.ID)
			if err != nil {
				return notFound("user", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "temporary_password": temp})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Temporary password for %s: %s\nIt is shown only once, and must be changed at the next sign-in.\n", u.Username, temp)
			return nil
		}),
	}
}

func (c *cli) usersSetRolesCmd() *cobra.Command {
	var roles []string
	cmd := &cobra.Command{
		Use:     "set-roles USER",
		Short:   "Replace a user's roles; without --role they have none",
		Example: "  gatehouse users set-roles jdoe --role admin --role helpdesk\n  gatehouse users set-roles jdoe",
		Args:    cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			v, err := s.SetRoles(cmd.Context(), admin.CLI, args[0], nonEmpty(roles))
			if err != nil {
				return notFound("user", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "roles of %s: %s\n", v.Username, orNone(strings.Join(v.Roles, " ")))
			return nil
		}),
	}
	cmd.Flags().StringSliceVar(&roles, "role", nil, "role: "+identity.RoleAdmin+" or "+identity.RoleHelpdesk+" (repeatable)")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (c *cli) usersSetDisabledCmd(verb string, disabled bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " USER",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " sign-in for a user",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			u, err := findUser(cmd, s, args[0])
			if err != nil {
				return err
			}
			if err := s.SetUserDisabled(cmd.Context(), admin.CLI, u.ID, disabled); err != nil {
				return notFound("user", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "disabled": disabled})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s %sd\n", u.Username, verb)
			return nil
		}),
	}
}

func (c *cli) usersDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete USER",
		Short: "Delete a user",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			u, err := findUser(cmd, s, args[0])
			if err != nil {
				return err
			}
			if err := s.DeleteUser(cmd.Context(), admin.CLI, u.ID); err != nil {
				return notFound("user", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "deleted": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", u.Username)
			return nil
		}),
	}
}

func (c *cli) usersImportCmd() *cobra.Command {
	var continueOnError, dryRun, resetPasswords bool
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Create or update users from a CSV file (- reads standard input)",
		Long: "Create or update users from a CSV file whose header row names the columns:\n" +
			"  username (required), email, display_name, password or password_hash, roles and groups (\";\"-separated)\n" +
			"Rows are matched by username, so importing a file twice changes nothing.\n" +
			"A password or password_hash sets the password of new accounts only, unless --reset-passwords is given.\n" +
			"One bad row rejects the whole file unless --continue-on-error is given.\n" +
			"--dry-run shows what each row would do and writes nothing; it fails when a row would be rejected.",
		Args: cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			in := cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			report, err := s.ImportUsers(cmd.Context(), admin.CLI, in, admin.ImportOptions{DryRun: dryRun,
				ImportOptions: identity.ImportOptions{ContinueOnError: continueOnError, ResetPasswords: resetPasswords}})
			if report == nil {
				return err
			}
			if perr := c.printImport(cmd.OutOrStdout(), report, dryRun); perr != nil {
				return perr
			}
			if errors.Is(err, identity.ErrImportRejected) {
				return fmt.Errorf("%w (fix the lines above, or import the good rows with --continue-on-error)", err)
			}
			if err == nil && dryRun && len(report.Rejected) > 0 {
				return fmt.Errorf("%d rows would be rejected (fix the lines above, or import the good rows with --continue-on-error)", len(report.Rejected))
			}
			return err
		}),
	}
	cmd.Flags().BoolVar(&continueOnError, "continue-on-error", false, "import the good rows even when some are rejected")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what each row would do (create, update, unchanged or reject) and write nothing")
	cmd.Flags().BoolVar(&resetPasswords, "reset-passwords", false, "also replace the password of existing accounts: they are signed out, told, and must change it")
	return cmd
}

// printImport reports an import; a dry run shows every row's outcome and
// changes, a real one only the rejected rows.
func (c *cli) printImport(w io.Writer, r *identity.ImportReport, dryRun bool) error {
	if c.json() {
		type row struct {
			Line     int                    `json:"line"`
			Username string                 `json:"username,omitempty"`
			Outcome  string                 `json:"outcome"`
			Changes  []identity.FieldChange `json:"changes,omitempty"`
			Message  string                 `json:"message,omitempty"`
		}
		type rejected struct {
			Line    int    `json:"line"`
			Message string `json:"message"`
		}
		out := struct {
			DryRun    bool       `json:"dry_run"`
			Created   int        `json:"created"`
			Updated   int        `json:"updated"`
			Unchanged int        `json:"unchanged"`
			Rejected  []rejected `json:"rejected"`
			Rows      []row      `json:"rows,omitempty"`
		}{DryRun: dryRun, Created: r.Created, Updated: r.Updated, Unchanged: r.Unchanged, Rejected: []rejected{}}
		for _, e := range r.Rejected {
			out.Rejected = append(out.Rejected, rejected{e.Line, e.Msg})
		}
		if dryRun {
			out.Rows = []row{}
			for _, e := range r.Rows {
				out.Rows = append(out.Rows, row{e.Line, e.Username, e.Outcome, e.Changes, e.Message})
			}
		}
		return printJSON(w, out)
	}
	if !dryRun {
		for _, e := range r.Rejected {
			fmt.Fprintln(w, e.Error())
		}
		_, err := fmt.Fprintf(w, "created %d, updated %d, unchanged %d, rejected %d\n", r.Created, r.Updated, r.Unchanged, len(r.Rejected))
		return err
	}
	for _, e := range r.Rows {
		line := fmt.Sprintf("line %d: %s", e.Line, e.Outcome)
		if e.Username != "" {
			line += " " + e.Username
		}
		if e.Message != "" {
			line += ": " + e.Message
		}
		for _, ch := range e.Changes {
			switch {
			case ch.Field == "password":
				line += "; password set"
			case ch.Before == "":
				line += fmt.Sprintf("; %s %q", ch.Field, ch.After)
			default:
				line += fmt.Sprintf("; %s %q -> %q", ch.Field, ch.Before, ch.After)
			}
		}
		fmt.Fprintln(w, line)
	}
	_, err := fmt.Fprintf(w, "would create %d, update %d, leave %d unchanged, reject %d (dry run: nothing was written)\n",
		r.Created, r.Updated, r.Unchanged, len(r.Rejected))
	return err
}

// userJSON is the machine-readable user; it never carries the password hash.
type userJSON struct {
	ID                 string    `json:"id"`
	Username           string    `json:"username"`
	Email              string    `json:"email,omitempty"`
	EmailVerified      bool      `json:"email_verified"`
	DisplayName        string    `json:"display_name,omitempty"`
	Roles              []string  `json:"roles"`
	Groups             []string  `json:"groups"`
	Disabled           bool      `json:"disabled"`
	MustChangePassword bool      `json:"must_change_password"`
	HasPassword        bool      `json:"has_password"`
	GeneratedPassword  string    `json:"generated_password,omitempty"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

func toUserJSON(u *identity.User) userJSON {
	return userJSON{
		ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, DisplayName: u.DisplayName,
		Roles: orEmpty(u.Roles), Groups: orEmpty(u.Groups), Disabled: u.Disabled, MustChangePassword: u.MustChangePassword,
		HasPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
}

func printUser(w io.Writer, u *identity.User) error {
	return fields(w,
		"id", u.ID,
		"username", u.Username,
		"name", orDash(u.DisplayName),
		"email", orDash(u.Email),
		"email_verified", strconv.FormatBool(u.EmailVerified),
		"roles", orDash(strings.Join(u.Roles, " ")),
		"groups", orDash(strings.Join(u.Groups, " ")),
		"status", userStatus(u.Disabled, u.MustChangePassword),
		"password", passwordState(u),
		"created", formatTime(u.CreatedAt),
		"updated", formatTime(u.UpdatedAt),
	)
}

func passwordState(u *identity.User) string {
	if u.PasswordHash == "" {
		return "not set"
	}
	return "set"
}

func userStatus(disabled, mustChangePassword bool) string {
	s := "enabled"
	if disabled {
		s = "disabled"
	}
	if mustChangePassword {
		s += ", must change password"
	}
	return s
}

// usersResetMethodsCmd is the Help Desk's answer to a lost phone: every
// method goes, every grant from before stops working, and the next sign-in
// asks the person to register again.
func (c *cli) usersResetMethodsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reset-methods USER",
		Short: "Remove a user's security methods so they register again at next sign-in",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			u, err := findUser(cmd, s, args[0])
			if err != nil {
				return err
			}
			if err := s.ResetMethods(cmd.Context(), admin.CLI, u.ID); err != nil {
				return notFound("user", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "methods_reset": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed the security methods of %s; they register again at next sign-in\n", u.Username)
			return nil
		}),
	}
}

// embeddedStore explains what the CLI cannot reach when the server keeps its
// lockouts in its embedded, in-process store.
func embeddedStore(what, user, action string) error {
	return fmt.Errorf("%s live in the running server's embedded store, which this command cannot reach: "+
		"use the console or the admin API of the running server (POST %s/users/%s/%s)", what, api.Prefix, user, action)
}

func (c *cli) usersRevokeSessionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke-sessions USER",
		Short: "Sign a user out everywhere: browser and console sessions, access tokens and app sign-ins (refresh tokens)",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			u, err := findUser(cmd, s, args[0])
			if err != nil {
				return err
			}
			if err := s.RevokeSessions(cmd.Context(), admin.CLI, u.ID); err != nil {
				return notFound("user", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "sessions_revoked": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s out everywhere\n", u.Username)
			return nil
		}),
	}
}

func (c *cli) usersUnlockCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unlock USER",
		Short: "Clear a user's sign-in lockout",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			u, err := findUser(cmd, s, args[0])
			if err != nil {
				return err
			}
			if s.Locks == nil {
				return fmt.Errorf("cannot unlock %s: %w", u.Username, embeddedStore("sign-in lockouts", u.ID, "unlock"))
			}
			if err := s.Unlock(cmd.Context(), admin.CLI, u.ID); err != nil {
				return notFound("user", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "unlocked": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "unlocked %s\n", u.Username)
			return nil
		}),
	}
}
