package main

import (
	"fmt"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	kiln "github.com/kiln-build/kiln"
)

func versionString() string {
	v := kiln.Version
	if kiln.Commit != "" {
		v += " (" + kiln.Commit + ")"
	}
	return v + " " + runtime.Version()
}

func newMigrateCmd() *cobra.Command {
	var sf *serverFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations (kiln serve also does on start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := sf.load()
			if err != nil {
				return err
			}
			m := NewMain(cfg, cmd.ErrOrStderr())
			if err := m.openDB(cmd.Context()); err != nil {
				return err
			}
			defer m.DB.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "migrations applied (%s)\n", m.StorageSummary())
			return nil
		},
	}
	sf = addServerFlags(cmd, false)
	return cmd
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the server configuration"}
	var sf *serverFlags
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration with secrets redacted",
		Long: `Print every setting with its effective value, its environment variable and
what it does. Values come from defaults, kiln.yaml (or --config), KILN_*
environment variables and flags, in that order. Secrets are redacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := sf.load()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SETTING\tVALUE\tENVIRONMENT\tDESCRIPTION")
			for _, s := range cfg.Settings() {
				v := s.Value
				if v == "" {
					v = `""`
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Key, v, s.Env, s.Help)
			}
			return tw.Flush()
		},
	}
	sf = addServerFlags(show, true)
	cmd.AddCommand(show)
	return cmd
}

func newResetSigningKeysCmd() *cobra.Command {
	var sf *serverFlags
	cmd := &cobra.Command{
		Use:   "reset-signing-keys",
		Short: "Retire every access-token signing key and start a new one (operators)",
		Long: `Retire every key that signs or verifies Kiln's access tokens at once and
start a new one sealed with this configuration's auth.secret. Run it with
the server's configuration (--config, KILN_* environment) when the stored
key cannot be unsealed because auth.secret was lost or changed. Every
access token stops working; sessions go on through their refresh tokens.
For a routine rotation use "kiln admin keys rotate".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := sf.load()
			if err != nil {
				return err
			}
			m := NewMain(cfg, cmd.ErrOrStderr())
			if err := m.openDB(cmd.Context()); err != nil {
				return err
			}
			defer m.DB.Close()
			svc, err := m.newAuthService(cfg.PublicURL())
			if err != nil {
				return err
			}
			kid, err := svc.ResetSigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signing keys reset; new key %s (%s)\n", kid, m.StorageSummary())
			return nil
		},
	}
	sf = addServerFlags(cmd, false)
	return cmd
}
