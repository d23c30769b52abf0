package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/app"
	"github.com/gatehouse/gatehouse/internal/audit"
)

func (c *cli) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the ID token signing keys"}
	cmd.AddCommand(c.keysListCmd(), c.keysRotateCmd())
	return cmd
}

func (c *cli) keysListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List signing keys, newest first",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			list, err := a.Keys.List(cmd.Context())
			if err != nil {
				return err
			}
			if c.json() {
				type key struct {
					KID       string     `json:"kid"`
					Alg       string     `json:"alg"`
					State     string     `json:"state"`
					CreatedAt time.Time  `json:"created_at"`
					RetiredAt *time.Time `json:"retired_at,omitempty"`
				}
				out := make([]key, len(list))
				for i, k := range list {
					out[i] = key{KID: k.ID, Alg: k.Algorithm, State: k.State, CreatedAt: k.CreatedAt.UTC(), RetiredAt: k.RetiredAt}
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			rows := make([][]string, len(list))
			for i, k := range list {
				retired := "-"
				if k.RetiredAt != nil {
					retired = formatTime(*k.RetiredAt)
				}
				rows[i] = []string{k.ID, k.Algorithm, k.State, formatTime(k.CreatedAt), retired}
			}
			return table(cmd.OutOrStdout(), "KID\tALG\tSTATE\tCREATED\tRETIRED", rows)
		}),
	}
}

func (c *cli) keysRotateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Create a new signing key for each algorithm; each signs once every replica has published it",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			rotated, err := a.Keys.Rotate(cmd.Context())
			if err != nil {
				return err
			}
			type created struct {
				KID       string    `json:"kid"`
				Alg       string    `json:"alg"`
				CreatedAt time.Time `json:"created_at"`
				SignsFrom time.Time `json:"signs_from"`
			}
			out := make([]created, len(rotated))
			for i, k := range rotated {
				// The manager publishes a new key for two refresh periods before it signs.
				out[i] = created{KID: k.ID, Alg: k.Algorithm, CreatedAt: k.CreatedAt.UTC(),
					SignsFrom: k.CreatedAt.Add(2 * a.Config.Keys.RefreshInterval.Duration).UTC()}
				record(cmd.Context(), a, audit.Event{Type: "key.rotated", Details: map[string]string{"kid": k.ID, "alg": k.Algorithm}})
			}
			if c.json() {
				return printJSON(cmd.OutOrStdout(), out)
			}
			for _, k := range out {
				fmt.Fprintf(cmd.OutOrStdout(), "created signing key %s (%s); it is published now and signs from %s\n", k.KID, k.Alg, formatTime(k.SignsFrom))
			}
			fmt.Fprintln(cmd.OutOrStdout(), "The previous keys stay published until the tokens they signed have expired.")
			return nil
		}),
	}
}
