package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/clients"
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
	scopes, grantTypes                 []string
	authMethod, jwksURI, jwksFile      string
}

func (f *registrationFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", "display name shown on the consent page")
	fs.StringVar(&f.description, "description", "", "free-text description for administrators")
	fs.StringArrayVar(&f.redirectURIs, "redirect-uri", nil, "allowed redirect URI (repeatable)")
	fs.StringArrayVar(&f.postLogoutURIs, "post-logout-redirect-uri", nil, "allowed post-logout redirect URI (repeatable)")
	fs.BoolVar(&f.public, "public", false, "a public client (SPA or native app): no secret, PKCE required")
	fs.StringSliceVar(&f.scopes, "scope", nil, "allowed scope (repeatable; default: "+strings.Join(clients.SupportedScopes, ", ")+")")
	fs.StringSliceVar(&f.grantTypes, "grant-type", nil, "allowed grant type (repeatable; default: authorization_code, refresh_token)")
	fs.StringVar(&f.authMethod, "auth-method", "", "token endpoint auth method: "+strings.Join(clients.SupportedAuthMethods, ", ")+" (default: none when public, else client_secret_basic)")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "URL of the client's JWKS, for private_key_jwt")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "file holding the client's JWKS, for private_key_jwt")
	fs.BoolVar(&f.requireMFA, "require-mfa", false, "accept only sign-ins with multi-factor authentication")
	fs.BoolVar(&f.requireConsent, "require-consent", false, "ask users to consent before sharing their data")
	cmd.MarkFlagsMutuallyExclusive("jwks-uri", "jwks-file")
}

// apply copies the flags the user set onto r and returns their names; flags
// left out keep r's value, which is what makes update partial.
func (f *registrationFlags) apply(cmd *cobra.Command, r *clients.Registration) ([]string, error) {
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
		b, err := os.ReadFile(f.jwksFile)
		if err != nil {
			return nil, err
		}
		r.JWKSURI, r.JWKS, jwksSet = "", string(b), true
	}
	// Moving away from private_key_jwt drops the keys it no longer uses.
	if (publicSet || methodSet) && !jwksSet && r.TokenEndpointAuthMethod != clients.AuthPrivateKeyJWT {
		r.JWKSURI, r.JWKS = "", ""
	}
	if set("require-mfa") {
		r.RequiredACR = ""
		if f.requireMFA {
			r.RequiredACR = clients.ACRMFA
		}
	}
	if set("require-consent") {
		r.RequireConsent = f.requireConsent
	}
	return changed, nil
}

func nonEmpty(v []string) []string {
	return slices.DeleteFunc(slices.Clone(v), func(s string) bool { return strings.TrimSpace(s) == "" })
}

// summary is the audit view of a registration: settings, never secrets.
func summary(cl *clients.Client) map[string]string {
	d := map[string]string{
		"name": cl.Name, "public": strconv.FormatBool(cl.Public), "auth_method": cl.TokenEndpointAuthMethod,
		"redirect_uris": strings.Join(cl.RedirectURIs, " "), "grant_types": strings.Join(cl.GrantTypes, " "),
		"scopes": strings.Join(cl.Scopes, " "), "require_consent": strconv.FormatBool(cl.RequireConsent),
	}
	if len(cl.PostLogoutRedirectURIs) > 0 {
		d["post_logout_redirect_uris"] = strings.Join(cl.PostLogoutRedirectURIs, " ")
	}
	if cl.RequiredACR != "" {
		d["required_acr"] = cl.RequiredACR
	}
	if cl.JWKSURI != "" {
		d["jwks_uri"] = cl.JWKSURI
	}
	return d
}

func (c *cli) clientsCreateCmd() *cobra.Command {
	var f registrationFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Register a client; its secret is shown only once",
		Example: `  gatehouse clients create --name "Library portal" --redirect-uri https://library.district.example/callback
  gatehouse clients create --name "Demo app" --public --redirect-uri http://localhost:9090/callback`,
		Args: cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			var r clients.Registration
			if _, err := f.apply(cmd, &r); err != nil {
				return err
			}
			cl, secret, err := a.Clients.Create(cmd.Context(), r)
			if err != nil {
				return err
			}
			record(cmd.Context(), a, audit.Event{Type: "client.created", ClientID: cl.ID, Details: summary(cl)})
			return c.printClient(cmd.OutOrStdout(), cl, secret)
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
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			cl, err := a.Clients.Get(cmd.Context(), args[0])
			if err != nil {
				return notFound("client", args[0], err)
			}
			r := cl.Registration()
			changed, err := f.apply(cmd, &r)
			if err != nil {
				return err
			}
			if len(changed) == 0 {
				return fmt.Errorf("nothing to change; see gatehouse clients update --help")
			}
			cl, secret, err := a.Clients.Update(cmd.Context(), args[0], r)
			if err != nil {
				return notFound("client", args[0], err)
			}
			d := summary(cl)
			d["changed"] = strings.Join(changed, " ")
			if secret != "" {
				d["secret_issued"] = "true"
			}
			record(cmd.Context(), a, audit.Event{Type: "client.updated", ClientID: cl.ID, Details: d})
			return c.printClient(cmd.OutOrStdout(), cl, secret)
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
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			list, err := a.Clients.List(cmd.Context())
			if err != nil {
				return err
			}
			if c.json() {
				out := make([]clientJSON, len(list))
				for i := range list {
					out[i] = toClientJSON(&list[i], "")
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, len(list))
			for i, cl := range list {
				rows[i] = []string{cl.ID, cl.Name, clientType(&cl), cl.TokenEndpointAuthMethod, status(cl.Disabled)}
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
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			cl, err := a.Clients.Get(cmd.Context(), args[0])
			if err != nil {
				return notFound("client", args[0], err)
			}
			return c.printClient(cmd.OutOrStdout(), cl, "")
		}),
	}
}

func (c *cli) clientsRotateSecretCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Issue a new client secret; the old one stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			secret, err := a.Clients.RotateSecret(cmd.Context(), args[0])
			if err != nil {
				return notFound("client", args[0], err)
			}
			record(cmd.Context(), a, audit.Event{Type: "client.secret_rotated", ClientID: args[0]})
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]string{"client_id": args[0], "client_secret": secret})
			}
			w := cmd.OutOrStdout()
			fields(w, "client_id", args[0], "client_secret", secret)
			fmt.Fprintln(w, "The secret is shown only once; the old secret no longer works.")
			return nil
		}),
	}
}

func (c *cli) clientsDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete a client",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			cl, err := a.Clients.Get(cmd.Context(), args[0])
			if err != nil {
				return notFound("client", args[0], err)
			}
			if err := a.Clients.Delete(cmd.Context(), cl.ID); err != nil {
				return notFound("client", args[0], err)
			}
			record(cmd.Context(), a, audit.Event{Type: "client.deleted", ClientID: cl.ID, Details: map[string]string{"name": cl.Name}})
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"client_id": cl.ID, "deleted": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted client %s (%s)\n", cl.ID, cl.Name)
			return nil
		}),
	}
}

func (c *cli) clientsSetDisabledCmd(verb string, disabled bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " CLIENT_ID",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a client",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			if err := a.Clients.SetDisabled(cmd.Context(), args[0], disabled); err != nil {
				return notFound("client", args[0], err)
			}
			record(cmd.Context(), a, audit.Event{Type: "client.updated", ClientID: args[0],
				Details: map[string]string{"changed": "disabled", "disabled": strconv.FormatBool(disabled)}})
			if c.json() {
				return printJSON(cmd.OutOrStdout(), map[string]any{"client_id": args[0], "disabled": disabled})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s %sd\n", args[0], verb)
			return nil
		}),
	}
}

// clientJSON is the machine-readable client; it never carries the secret hash.
type clientJSON struct {
	ClientID                string          `json:"client_id"`
	ClientSecret            string          `json:"client_secret,omitempty"`
	Name                    string          `json:"name"`
	Description             string          `json:"description,omitempty"`
	Public                  bool            `json:"public"`
	RedirectURIs            []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string        `json:"post_logout_redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	Scopes                  []string        `json:"scopes"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	RequirePKCE             bool            `json:"require_pkce"`
	RequireConsent          bool            `json:"require_consent"`
	RequiredACR             string          `json:"required_acr,omitempty"`
	Disabled                bool            `json:"disabled"`
	CreatedAt               time.Time       `json:"created_at"`
	UpdatedAt               time.Time       `json:"updated_at"`
}

func toClientJSON(cl *clients.Client, secret string) clientJSON {
	j := clientJSON{
		ClientID: cl.ID, ClientSecret: secret, Name: cl.Name, Description: cl.Description, Public: cl.Public,
		RedirectURIs: orEmpty(cl.RedirectURIs), PostLogoutRedirectURIs: orEmpty(cl.PostLogoutRedirectURIs),
		GrantTypes: orEmpty(cl.GrantTypes), ResponseTypes: orEmpty(cl.ResponseTypes), Scopes: orEmpty(cl.Scopes),
		TokenEndpointAuthMethod: cl.TokenEndpointAuthMethod, JWKSURI: cl.JWKSURI,
		RequirePKCE: cl.RequirePKCE, RequireConsent: cl.RequireConsent, RequiredACR: cl.RequiredACR,
		Disabled: cl.Disabled, CreatedAt: cl.CreatedAt.UTC(), UpdatedAt: cl.UpdatedAt.UTC(),
	}
	if cl.JWKS != "" {
		j.JWKS = json.RawMessage(cl.JWKS)
	}
	return j
}

// orEmpty makes absent lists print as [] rather than null.
func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func (c *cli) printClient(w io.Writer, cl *clients.Client, secret string) error {
	if c.json() {
		return printJSON(w, toClientJSON(cl, secret))
	}
	jwks := "-"
	switch {
	case cl.JWKSURI != "":
		jwks = cl.JWKSURI
	case cl.JWKS != "":
		jwks = "inline"
	}
	acr := cl.RequiredACR
	if acr == "" {
		acr = "any"
	}
	kv := []string{
		"client_id", cl.ID,
		"name", cl.Name,
		"description", orDash(cl.Description),
		"type", clientType(cl),
		"status", status(cl.Disabled),
		"auth_method", cl.TokenEndpointAuthMethod,
		"redirect_uris", orDash(strings.Join(cl.RedirectURIs, " ")),
		"post_logout_redirect_uris", orDash(strings.Join(cl.PostLogoutRedirectURIs, " ")),
		"grant_types", strings.Join(cl.GrantTypes, " "),
		"scopes", strings.Join(cl.Scopes, " "),
		"jwks", jwks,
		"require_pkce", strconv.FormatBool(cl.RequirePKCE),
		"require_consent", strconv.FormatBool(cl.RequireConsent),
		"required_acr", acr,
		"created", formatTime(cl.CreatedAt),
		"updated", formatTime(cl.UpdatedAt),
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

func clientType(cl *clients.Client) string {
	if cl.Public {
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
