package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/config"
)

// serverFlags are the flags every server-side command shares; each maps to
// a setting path.
type serverFlags struct {
	file string
	set  *pflag.FlagSet
}

func addServerFlags(cmd *cobra.Command, withServe bool) *serverFlags {
	sf := &serverFlags{set: cmd.Flags()}
	f := cmd.Flags()
	f.StringVar(&sf.file, "config", "", "config file (default ./kiln.yaml when present)")
	f.String("data-dir", "", "folder for the SQLite database, artifacts and caches (default ./kiln-data)")
	f.String("database-url", "", "PostgreSQL URL (postgres://…); empty means SQLite in the data folder")
	f.String("log-level", "", "debug, info, warn or error")
	f.String("log-format", "", "text, json or auto")
	if withServe {
		f.String("addr", "", "address to listen on (default 127.0.0.1:8080)")
		f.String("base-url", "", "public URL of the server, used in links")
		f.StringSlice("roles", nil, "what to run: api, worker or both (default both)")
		f.Bool("dev", false, "development mode: dev mail outbox at /dev/mail")
		f.String("sandbox", "", "auto, required or none")
		f.String("templates", "", "folder of template sets overriding the embedded ones")
	}
	return sf
}

// flagPaths maps flag names to setting paths.
var flagPaths = map[string]string{
	"data-dir": "data_dir", "database-url": "database.url", "log-level": "log.level", "log-format": "log.format",
	"addr": "addr", "base-url": "base_url", "roles": "roles", "dev": "dev", "sandbox": "sandbox", "templates": "templates",
}

// load reads the configuration: defaults, file, KILN_* environment, flags.
func (sf *serverFlags) load() (config.Config, error) {
	flags := map[string]any{}
	sf.set.Visit(func(f *pflag.Flag) {
		path, ok := flagPaths[f.Name]
		if !ok {
			return
		}
		switch f.Value.Type() {
		case "stringSlice":
			v, _ := sf.set.GetStringSlice(f.Name)
			flags[path] = v
		case "bool":
			v, _ := sf.set.GetBool(f.Name)
			flags[path] = v
		default:
			flags[path] = f.Value.String()
		}
	})
	return config.Load(config.Source{File: sf.file, Environ: os.Environ(), Flags: flags})
}

func newServeCmd() *cobra.Command {
	var sf *serverFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Kiln server: API and build worker (embedded SQLite by default)",
		Long: `Run the Kiln server. With no configuration it listens on 127.0.0.1:8080 and keeps
everything in ./kiln-data: a SQLite database with the job queue, and the artifacts.

With --database-url postgres://… it runs on PostgreSQL; then any number of
"kiln serve --roles api" nodes and "kiln worker" processes can share it.

Settings come from defaults, then kiln.yaml (or --config), then KILN_*
environment variables (KILN_DATABASE_URL, KILN_MAIL_SMTP_HOST, …), then
flags; "kiln config show" prints the result.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := sf.load()
			if err != nil {
				return err
			}
			return runServer(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	sf = addServerFlags(cmd, true)
	return cmd
}

func newWorkerCmd() *cobra.Command {
	var sf *serverFlags
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a build worker only (no API); for scaling out over PostgreSQL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := sf.load()
			if err != nil {
				return err
			}
			cfg.Roles = []string{config.RoleWorker}
			return runServer(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	sf = addServerFlags(cmd, false)
	return cmd
}

// runServer runs Main until ctx ends (Ctrl-C, SIGTERM).
func runServer(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	m := NewMain(cfg, stderr)
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	if m.HasAPI() {
		fmt.Fprintf(stdout, "Kiln %s is listening on %s (%s)\n", versionString(), m.URL(), strings.Join(cfg.Roles, " + "))
		fmt.Fprintf(stdout, "  portal:    %s/\n", m.URL())
		fmt.Fprintf(stdout, "  data:      %s\n", m.StorageSummary())
		fmt.Fprintf(stdout, "  API docs:  %s/docs\n", m.URL())
		fmt.Fprintf(stdout, "  sign up:   kiln signup --server %s --email you@example.com\n", m.URL())
		if o := cfg.Auth.OIDC; o.Enabled() {
			fmt.Fprintf(stdout, "  log in:    with %s (%s): kiln login --oidc --server %s\n", o.Name, o.Issuer, m.URL())
		}
		switch cfg.Mail.Sender {
		case "smtp":
			fmt.Fprintf(stdout, "  mail:      sent through %s:%d (outbox with retries; kiln admin mail list)\n", cfg.Mail.SMTP.Host, cfg.Mail.SMTP.Port)
		case "ses":
			fmt.Fprintf(stdout, "  mail:      sent through Amazon SES (outbox with retries; kiln admin mail list)\n")
		default:
			fmt.Fprintf(stdout, "  mail:      written to this server's log (verification links too)\n")
			if cfg.Dev {
				fmt.Fprintf(stdout, "  dev mail:  %s/dev/mail\n", m.URL())
			}
		}
	} else {
		fmt.Fprintf(stdout, "Kiln %s worker running (%s)\n", versionString(), m.StorageSummary())
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "shutting down…")
	if err := m.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
