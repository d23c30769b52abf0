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

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
)

func (c *cli) usersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage the people who sign in"}
	cmd.AddCommand(c.usersCreateCmd(), c.usersListCmd(), c.usersGetCmd(), c.usersSetPasswordCmd(),
		c.usersSetDisabledCmd("disable", true), c.usersSetDisabledCmd("enable", false),
		c.usersDeleteCmd(), c.usersImportCmd(), c.usersResetMethodsCmd())
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
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			pw, err := pwf.read(cmd)
			if err != nil {
				return err
			}
			generated := pw == ""
			if generated {
				// An invalid username gets no policy check here; Create reports it.
				name, _ := identity.NormalizeUsername(nu.Username, a.Users.Domain())
				pw = a.Users.GeneratePassword(name)
				nu.MustChangePassword = true
			}
			nu.Password = pw
			u, err := a.Users.Create(cmd.Context(), nu)
			if err != nil {
				return err
			}
			record(cmd.Context(), a, audit.Event{Type: "user.created", SubjectID: u.ID, Details: map[string]string{
				"username": u.Username, "email": u.Email, "display_name": u.DisplayName, "roles": strings.Join(u.Roles, " "),
				"must_change_password": strconv.FormatBool(u.MustChangePassword), "password_generated": strconv.FormatBool(generated),
			}})
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
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			users, err := a.Users.List(cmd.Context(), q)
			if err != nil {
				return err
			}
			if c.json() {
				out := make([]userJSON, len(users))
				for i := range users {
					out[i] = toUserJSON(&users[i])
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, len(users))
			for i, u := range users {
				rows[i] = []string{u.ID, u.Username, orDash(u.DisplayName), orDash(u.Email), orDash(strings.Join(u.Roles, ",")), userStatus(&u)}
			}
			return table(cmd.OutOrStdout(), "ID\tUSERNAME\tNAME\tEMAIL\tROLES\tSTATUS", rows)
		}),
	}
	cmd.Flags().StringVar(&q.Search, "search", "", "show users whose username, email or name contains this")
	cmd.Flags().IntVar(&q.Limit, "limit", 100, "show at most this many users (up to 1000)")
	return cmd
}

// findUser resolves a user ID or username.
func findUser(cmd *cobra.Command, a *app.App, ref string) (*identity.User, error) {
	u, err := a.Users.Find(cmd.Context(), ref)
	return u, notFound("user", ref, err)
}

func (c *cli) usersGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get USER",
		Short: "Show a user, by ID or username",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			u, err := findUser(cmd, a, args[0])
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
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			u, err := findUser(cmd, a, args[0])
			if err != nil {
				return err
			}
			pw, err := pwf.read(cmd)
			if err != nil {
				return err
			}
			generated := pw == ""
			if generated {
				pw = a.Users.GeneratePassword(u.Username)
				mustChange = true
			}
			if err := a.Users.SetPassword(cmd.Context(), u.ID, pw, mustChange); err != nil {
				return notFound("user", args[0], err)
			}
			record(cmd.Context(), a, audit.Event{Type: "user.password_set", SubjectID: u.ID, Details: map[string]string{
				"username": u.Username, "must_change_password": strconv.FormatBool(mustChange), "password_generated": strconv.FormatBool(generated),
			}})
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

func (c *cli) usersSetDisabledCmd(verb string, disabled bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " USER",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " sign-in for a user",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			u, err := findUser(cmd, a, args[0])
			if err != nil {
				return err
			}
			if err := a.Users.SetDisabled(cmd.Context(), u.ID, disabled); err != nil {
				return notFound("user", args[0], err)
			}
			if disabled {
				if err := a.DB.RevokeSubject(cmd.Context(), u.ID); err != nil {
					return err
				}
			}
			record(cmd.Context(), a, audit.Event{Type: "user." + verb + "d", SubjectID: u.ID, Details: map[string]string{"username": u.Username}})
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
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			u, err := findUser(cmd, a, args[0])
			if err != nil {
				return err
			}
			if err := a.Users.Delete(cmd.Context(), u.ID); err != nil {
				return notFound("user", args[0], err)
			}
			if err := a.DB.RevokeSubject(cmd.Context(), u.ID); err != nil {
				return err
			}
			record(cmd.Context(), a, audit.Event{Type: "user.deleted", SubjectID: u.ID, Details: map[string]string{"username": u.Username}})
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "deleted": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", u.Username)
			return nil
		}),
	}
}

func (c *cli) usersImportCmd() *cobra.Command {
	var continueOnError bool
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Create or update users from a CSV file (- reads standard input)",
		Long: "Create or update users from a CSV file whose header row names the columns:\n" +
			"  username (required), email, display_name, password or password_hash, roles (\";\"-separated)\n" +
			"Rows are matched by username, so importing a file twice changes nothing.\n" +
			"One bad row rejects the whole file unless --continue-on-error is given.",
		Args: cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			in := cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			report, err := a.Users.Import(cmd.Context(), in, continueOnError)
			if report == nil {
				return err
			}
			if report.Created+report.Updated > 0 {
				record(cmd.Context(), a, audit.Event{Type: "user.imported", Details: map[string]string{
					"file": args[0], "created": strconv.Itoa(report.Created), "updated": strconv.Itoa(report.Updated),
					"rejected": strconv.Itoa(len(report.Rejected)),
				}})
			}
			if perr := c.printImport(cmd.OutOrStdout(), report); perr != nil {
				return perr
			}
			if errors.Is(err, identity.ErrImportRejected) {
				return fmt.Errorf("%w (fix the lines above, or import the good rows with --continue-on-error)", err)
			}
			return err
		}),
	}
	cmd.Flags().BoolVar(&continueOnError, "continue-on-error", false, "import the good rows even when some are rejected")
	return cmd
}

func (c *cli) printImport(w io.Writer, r *identity.ImportReport) error {
	if c.json() {
		type rejected struct {
			Line    int    `json:"line"`
			Message string `json:"message"`
		}
		out := struct {
			Created  int        `json:"created"`
			Updated  int        `json:"updated"`
			Rejected []rejected `json:"rejected"`
		}{Created: r.Created, Updated: r.Updated, Rejected: []rejected{}}
		for _, e := range r.Rejected {
			out.Rejected = append(out.Rejected, rejected{e.Line, e.Msg})
		}
		return printJSON(w, out)
	}
	for _, e := range r.Rejected {
		fmt.Fprintln(w, e.Error())
	}
	_, err := fmt.Fprintf(w, "created %d, updated %d, rejected %d\n", r.Created, r.Updated, len(r.Rejected))
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
		Roles: orEmpty(u.Roles), Disabled: u.Disabled, MustChangePassword: u.MustChangePassword,
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
		"status", userStatus(u),
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

func userStatus(u *identity.User) string {
	s := "enabled"
	if u.Disabled {
		s = "disabled"
	}
	if u.MustChangePassword {
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
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			u, err := findUser(cmd, a, args[0])
			if err != nil {
				return err
			}
			if err := a.DB.ResetMethods(cmd.Context(), u.ID, time.Now().UTC()); err != nil {
				return err
			}
			if err := a.DB.RevokeSubject(cmd.Context(), u.ID); err != nil {
				return err
			}
			record(cmd.Context(), a, audit.Event{Type: "mfa.methods_reset", SubjectID: u.ID, Details: map[string]string{"username": u.Username}})
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"id": u.ID, "username": u.Username, "methods_reset": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed the security methods of %s; they register again at next sign-in\n", u.Username)
			return nil
		}),
	}
}
