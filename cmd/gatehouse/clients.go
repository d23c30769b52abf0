package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/clients"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/pkg/assurance"
)

func (c *cli) clientsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "Register and manage client applications"}
	cmd.AddCommand(c.clientsCreateCmd(), c.clientsListCmd(), c.clientsGetCmd(), c.clientsUpdateCmd(),
		c.clientsRotateSecretCmd(), c.clientsDeleteCmd(),
		c.clientsSetDisabledCmd("disable", true), c.clientsSetDisabledCmd("enable", false))
	return cmd
}

// registrationFlags are the settings shared by create and update.
type registrationFlags struct {
	name, description                  string
	redirectURIs, postLogoutURIs       []string
	public, requireMFA, requireConsent bool
	mayIntrospect                      bool
	scopes, grantTypes                 []string
	authMethod, jwksURI, jwksFile      string
	idTokenAlg                         string
	jwks                               string // what --jwks-file holds, once read
}

func (f *registrationFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", "display name shown on the consent page")
	fs.StringVar(&f.description, "description", "", "free-text description for administrators")
	fs.StringArrayVar(&f.redirectURIs, "redirect-uri", nil, "allowed redirect URI (repeatable)")
	fs.StringArrayVar(&f.postLogoutURIs, "post-logout-redirect-uri", nil, "allowed post-logout redirect URI (repeatable)")
	fs.BoolVar(&f.public, "public", false, "a public client (SPA or native app): no secret, PKCE required")
	fs.StringSliceVar(&f.scopes, "scope", nil, "allowed scope (repeatable; default: "+strings.Join(clients.DefaultScopes, ", ")+
		"; admin API scopes, with --grant-type client_credentials alone: "+strings.Join(assurance.AdminScopes, ", ")+")")
	fs.StringSliceVar(&f.grantTypes, "grant-type", nil, "allowed grant type (repeatable; default: authorization_code, refresh_token)")
	fs.StringVar(&f.authMethod, "auth-method", "", "token endpoint auth method: "+strings.Join(clients.SupportedAuthMethods, ", ")+" (default: none when public, else client_secret_basic)")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "URL of the client's JWKS, for private_key_jwt")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "file holding the client's JWKS, for private_key_jwt")
	fs.BoolVar(&f.requireMFA, "require-mfa", false, "accept only sign-ins with multi-factor authentication")
	fs.BoolVar(&f.requireConsent, "require-consent", false, "ask users to consent before sharing their data")
	fs.BoolVar(&f.mayIntrospect, "may-introspect", false, "may introspect tokens issued to other clients (for an API that checks apps' tokens)")
	fs.StringVar(&f.idTokenAlg, "id-token-alg", "", "algorithm the app's ID tokens are signed with: "+strings.Join(keys.Supported, ", ")+" (default: the server's keys.algorithm; empty restores it)")
	cmd.MarkFlagsMutuallyExclusive("jwks-uri", "jwks-file")
}

// readFiles loads what the flags name on disk. It runs before apply, which
// may run inside the service's edit and so cannot fail.
func (f *registrationFlags) readFiles(cmd *cobra.Command) error {
	if !cmd.Flags().Changed("jwks-file") {
		return nil
	}
	b, err := os.ReadFile(f.jwksFile)
	f.jwks = string(b)
	return err
}

// apply copies the flags the user set onto r and returns their names; flags
// left out keep r's value, which is what makes update partial.
func (f *registrationFlags) apply(cmd *cobra.Command, r *clients.Registration) []string {
	var changed []string
	set := func(name string) bool {
		if cmd.Flags().Changed(name) {
			changed = append(changed, name)
			return true
		}
		return false
	}
	if set("name") {
		r.Name = f.name
	}
	if set("description") {
		r.Description = f.description
	}
	// Empty values are dropped so that `--redirect-uri=` clears a list.
	if set("redirect-uri") {
		r.RedirectURIs = nonEmpty(f.redirectURIs)
	}
	if set("post-logout-redirect-uri") {
		r.PostLogoutRedirectURIs = nonEmpty(f.postLogoutURIs)
	}
	if set("scope") {
		r.Scopes = nonEmpty(f.scopes)
	}
	if set("grant-type") {
		r.GrantTypes = nonEmpty(f.grantTypes)
	}
	publicSet, methodSet := set("public"), set("auth-method")
	if publicSet {
		r.Public = f.public
		if !methodSet {
			r.TokenEndpointAuthMethod = "" // let the default follow the new client type
		}
	}
	if methodSet {
		r.TokenEndpointAuthMethod = f.authMethod
	}
	jwksSet := false
	if set("jwks-uri") {
		r.JWKSURI, r.JWKS, jwksSet = f.jwksURI, "", true
	}
	if set("jwks-file") {
		r.JWKSURI, r.JWKS, jwksSet = "", f.jwks, true
	}
	// Moving away from private_key_jwt drops the keys it no longer uses.
	if (publicSet || methodSet) && !jwksSet && r.TokenEndpointAuthMethod != clients.AuthPrivateKeyJWT {
		r.JWKSURI, r.JWKS = "", ""
	}
	if set("require-mfa") {
		r.RequiredACR = ""
		if f.requireMFA {
			r.RequiredACR = assurance.MFA
		}
	}
	if set("require-consent") {
		r.RequireConsent = f.requireConsent
	}
	if set("id-token-alg") {
		r.IDTokenSigningAlg = f.idTokenAlg
	}
	if set("may-introspect") {
		r.MayIntrospect = f.mayIntrospect
	}
	return changed
}

func nonEmpty(v []string) []string {
	return slices.DeleteFunc(slices.Clone(v), func(s string) bool { return strings.TrimSpace(s) == "" })
}

func (c *cli) clientsCreateCmd() *cobra.Command {
	var f registrationFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Register a client; its secret is shown only once",
		Example: `  gatehouse clients create --name "Library portal" --redirect-uri https://library.district.example/callback
  gatehouse clients create --name "Demo app" --public --redirect-uri http://localhost:9090/callback`,
		Args: cobra.NoArgs,
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			if err := f.readFiles(cmd); err != nil {
				return err
			}
			var r clients.Registration
			f.apply(cmd, &r)
			v, secret, err := s.CreateClient(cmd.Context(), admin.CLI, r)
			if err != nil {
				return err
			}
			return c.printClient(cmd.OutOrStdout(), v, secret)
		}),
	}
	f.register(cmd)
	cmd.MarkFlagRequired("name")
	return cmd
}

func (c *cli) clientsUpdateCmd() *cobra.Command {
	var f registrationFlags
	cmd := &cobra.Command{
		Use:   "update CLIENT_ID",
		Short: "Change a client's settings; flags left out keep their value",
		Long: "Change a client's settings. Only the flags given change; a repeatable flag\n" +
			"replaces the whole list, and an empty value (--redirect-uri=) clears it.",
		Args: cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			// Which flags were given does not depend on the registration, so
			// a blank one tells before anything is written.
			if len(f.apply(cmd, &clients.Registration{})) == 0 {
				return fmt.Errorf("nothing to change; see gatehouse clients update --help")
			}
			if err := f.readFiles(cmd); err != nil {
				return err
			}
			v, secret, err := s.UpdateClient(cmd.Context(), admin.CLI, args[0], func(r *clients.Registration) { f.apply(cmd, r) })
			if err != nil {
				return notFound("client", args[0], err)
			}
			return c.printClient(cmd.OutOrStdout(), v, secret)
		}),
	}
	f.register(cmd)
	return cmd
}

func (c *cli) clientsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List registered clients",
		Args:  cobra.NoArgs,
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			list, err := s.ListClients(cmd.Context(), admin.CLI)
			if err != nil {
				return err
			}
			if c.json() {
				out := make([]clientJSON, len(list))
				for i, v := range list {
					out[i] = toClientJSON(v, "")
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, len(list))
			for i, v := range list {
				rows[i] = []string{v.ID, v.Name, clientType(v.Public), v.TokenEndpointAuthMethod, status(v.Disabled)}
			}
			return table(cmd.OutOrStdout(), "CLIENT ID\tNAME\tTYPE\tAUTH METHOD\tSTATUS", rows)
		}),
	}
}

func (c *cli) clientsGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get CLIENT_ID",
		Short: "Show one client",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			v, err := s.GetClient(cmd.Context(), admin.CLI, args[0])
			if err != nil {
				return notFound("client", args[0], err)
			}
			return c.printClient(cmd.OutOrStdout(), v, "")
		}),
	}
}

func (c *cli) clientsRotateSecretCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Issue a new client secret; the old one works on for clients.secret_rotation_overlap",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			secret, err := s.RotateClientSecret(cmd.Context(), admin.CLI, args[0])
			if err != nil {
				return notFound("client", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]string{"client_id": args[0], "client_secret": secret})
			}
			w := cmd.OutOrStdout()
			fields(w, "client_id", args[0], "client_secret", secret)
			if s.Clients.SecretOverlap > 0 {
				fmt.Fprintf(w, "The secret is shown only once; the old secret keeps working for %s.\n", s.Clients.SecretOverlap)
			} else {
				fmt.Fprintln(w, "The secret is shown only once; the old secret no longer works.")
			}
			return nil
		}),
	}
}

func (c *cli) clientsDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			// Read first for the name the confirmation shows.
			v, err := s.GetClient(cmd.Context(), admin.CLI, args[0])
			if err != nil {
				return notFound("client", args[0], err)
			}
			if err := s.DeleteClient(cmd.Context(), admin.CLI, v.ID); err != nil {
				return notFound("client", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"client_id": v.ID, "deleted": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s (%s)\n", v.ID, v.Name)
			return nil
		}),
	}
}

func (c *cli) clientsSetDisabledCmd(verb string, disabled bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " CLIENT_ID",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a client",
		Args:  cobra.ExactArgs(1),
		RunE: c.withAdmin(func(cmd *cobra.Command, args []string, s *admin.Service) error {
			if err := s.SetClientDisabled(cmd.Context(), admin.CLI, args[0], disabled); err != nil {
				return notFound("client", args[0], err)
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"client_id": args[0], "disabled": disabled})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s %sd\n", args[0], verb)
			return nil
		}),
	}
}

// clientJSON is the machine-readable client: the admin service's view, as
// the admin API shows it, plus a new secret when there is one.
type clientJSON struct {
	admin.ClientView
	ClientSecret string `json:"client_secret,omitempty"`
}

func toClientJSON(v admin.ClientView, secret string) clientJSON {
	v.RedirectURIs, v.PostLogoutRedirectURIs = orEmpty(v.RedirectURIs), orEmpty(v.PostLogoutRedirectURIs)
	v.GrantTypes, v.Scopes = orEmpty(v.GrantTypes), orEmpty(v.Scopes)
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	return clientJSON{ClientView: v, ClientSecret: secret}
}

// orEmpty makes absent lists print as [] rather than null.
func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func (c *cli) printClient(w io.Writer, v *admin.ClientView, secret string) error {
	if c.json() {
		return printJSON(w, toClientJSON(*v, secret))
	}
	jwks := "-"
	switch {
	case v.JWKSURI != "":
		jwks = v.JWKSURI
	case v.TokenEndpointAuthMethod == clients.AuthPrivateKeyJWT:
		jwks = "inline" // private_key_jwt always has keys: a URL or, failing that, inline
	}
	acr := v.RequiredACR
	if acr == "" {
		acr = "any"
	}
	idTokenAlg := v.IDTokenSigningAlg
	if idTokenAlg == "" {
		idTokenAlg = "server default"
	}
	kv := []string{
		"client_id", v.ID,
		"name", v.Name,
		"description", orDash(v.Description),
		"type", clientType(v.Public),
		"status", status(v.Disabled),
		"auth_method", v.TokenEndpointAuthMethod,
		"redirect_uris", orDash(strings.Join(v.RedirectURIs, " ")),
		"post_logout_redirect_uris", orDash(strings.Join(v.PostLogoutRedirectURIs, " ")),
		"grant_types", strings.Join(v.GrantTypes, " "),
		"scopes", strings.Join(v.Scopes, " "),
		"jwks", jwks,
		"require_pkce", strconv.FormatBool(v.Public), // PKCE is required of public clients, and only of them
		"require_consent", strconv.FormatBool(v.RequireConsent),
		"required_acr", acr,
		"id_token_alg", idTokenAlg,
		"may_introspect", strconv.FormatBool(v.MayIntrospect),
		"created", formatTime(v.CreatedAt),
		"updated", formatTime(v.UpdatedAt),
	}
	if secret != "" {
		kv = append(kv, "client_secret", secret)
	}
	if err := fields(w, kv...); err != nil {
		return err
	}
	if secret != "" {
		fmt.Fprintln(w, "\nThe client secret is shown only once: store it now. `gatehouse clients rotate-secret` issues a new one.")
	}
	return nil
}

func clientType(public bool) string {
	if public {
		return "public"
	}
	return "confidential"
}

func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}
