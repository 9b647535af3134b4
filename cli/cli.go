// Package cli holds Kiln's user-facing commands (login, apps, builds …).
// They are clients of the REST API only, through package client; cmd/kiln
// adds them to its root command with AddCommands and maps the error a
// command returns to the process exit status with ExitCode.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// Exit statuses.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the command failed (API error, failed build …)
	ExitUsage   = 2 // the command line was wrong
)

// DefaultServer is the server used when neither --server, KILN_SERVER nor
// stored credentials name one.
const DefaultServer = "http://127.0.0.1:8080"

// AnnotationOperations is the cobra annotation listing the API operations a
// command calls, comma-separated, as "METHOD /path" in the OpenAPI's path
// notation ("GET /v1/builds/{id}/logs").
const AnnotationOperations = "kiln.operations"

// AnnotationLocal marks a command that deliberately calls no API operation
// (serve, migrate …), so the operation coverage check skips it.
const AnnotationLocal = "kiln.local"

// UsageError is a wrong command line: a missing argument, an unknown flag,
// a bad flag value. ExitCode maps it to ExitUsage.
type UsageError struct {
	Msg     string
	Command string // the command path, for the help hint
}

// Error returns the message with a hint to the command's help.
func (e *UsageError) Error() string {
	if e.Command == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s\nRun '%s --help' for usage.", e.Msg, e.Command)
}

func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...), Command: cmd.CommandPath()}
}

// ExitCode returns the exit status for the error a command returned:
// ExitOK for nil, ExitUsage for a usage error (including Cobra's own for
// unknown commands and flags), ExitFailure for anything else.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	// Cobra reports unknown commands and missing required flags as plain
	// errors; flag parsing errors come through the FlagErrorFunc that
	// AddCommands installs.
	msg := err.Error()
	for _, p := range []string{"unknown command ", "required flag(s) ", "unknown flag: ", "unknown shorthand flag: ", "invalid argument "} {
		if strings.HasPrefix(msg, p) {
			return ExitUsage
		}
	}
	return ExitFailure
}

// env is what the commands take from their surroundings; tests replace it.
type env struct {
	getenv       func(string) string
	pollInterval time.Duration
	now          func() time.Time
	httpClient   *http.Client
	// isTerminal reports whether r or w is an interactive terminal.
	isTerminal func(f any) bool
	// browser, when set, opens URLs instead of $BROWSER (tests).
	browser func(url string)
}

func defaultEnv() env {
	return env{getenv: os.Getenv, pollInterval: 300 * time.Millisecond, now: time.Now, isTerminal: isTerminal}
}

// runner carries the global flags and the environment to every command.
type runner struct {
	env
	server  string
	output  string
	noColor bool
}

// AddCommands adds Kiln's client commands and the global flags --server,
// --output and --no-color to root. It also makes flag errors usage errors
// (exit status 2) for every command under root.
func AddCommands(root *cobra.Command) {
	addCommands(root, defaultEnv())
}

func addCommands(root *cobra.Command, e env) {
	r := &runner{env: e}
	pf := root.PersistentFlags()
	pf.StringVar(&r.server, "server", "", "Kiln server URL (default: $KILN_SERVER, the server you logged in to, or "+DefaultServer+")")
	pf.StringVarP(&r.output, "output", "o", "table", "output format: table, json or yaml")
	pf.BoolVar(&r.noColor, "no-color", false, "disable colored output (also: NO_COLOR=1)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &UsageError{Msg: err.Error(), Command: c.CommandPath()}
	})
	root.AddCommand(
		r.signupCmd(), r.loginCmd(), r.logoutCmd(), r.whoamiCmd(), r.verifyEmailCmd(), r.authCmd(),
		r.tokensCmd(), r.appsCmd(), r.buildsCmd(), r.artifactsCmd(), r.adminCmd(), r.versionCmd(),
		r.analyticsCmd(), r.usageCmd(), r.meCmd(),
	)
}

// command describes one leaf command.
type command struct {
	use, short, long, example string
	ops                       []string // API operations it calls
	args                      []string // names of the required positional arguments
	noLoginHint               bool     // do not suggest 'kiln login' on 401 (login itself)
	run                       func(ctx context.Context, cmd *cobra.Command, args []string) error
}

// leaf builds a cobra command with argument checking that reports usage
// errors, output format validation and friendly API errors.
func (r *runner) leaf(c command) *cobra.Command {
	cmd := &cobra.Command{
		Use:          c.use,
		Short:        c.short,
		Long:         c.long,
		Example:      c.example,
		SilenceUsage: true,
		Annotations:  map[string]string{AnnotationOperations: strings.Join(c.ops, ",")},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < len(c.args) {
				return usageErrorf(cmd, "%s: missing %s", cmd.CommandPath(), strings.Join(c.args[len(args):], " "))
			}
			if len(args) > len(c.args) {
				return usageErrorf(cmd, "%s: unexpected argument %q", cmd.CommandPath(), args[len(c.args)])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch r.output {
			case "table", "json", "yaml":
			default:
				return usageErrorf(cmd, "invalid --output %q: want table, json or yaml", r.output)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			err := c.run(ctx, cmd, args)
			if kiln.ErrorCode(err) == kiln.EUnauthorized && !c.noLoginHint {
				err = fmt.Errorf("%w\nRun 'kiln login' to log in (again).", friendly(err))
			}
			return friendly(err)
		},
	}
	return cmd
}

// group builds a command that only holds subcommands; given an unknown
// subcommand it fails with a usage error instead of printing help.
func (r *runner) group(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:          use,
		Short:        short,
		Long:         long,
		SilenceUsage: true,
		Args:         cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

// friendlyError presents an API error with the fields the server named,
// one per line.
type friendlyError struct {
	err error
	ce  *client.Error
}

func (e *friendlyError) Error() string {
	var b strings.Builder
	b.WriteString(e.ce.Message())
	if e.ce.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry in %s)", e.ce.RetryAfter.Round(time.Second))
	}
	for _, f := range e.ce.Fields {
		b.WriteString("\n  ")
		if p := strings.TrimPrefix(f.Path, "body."); p != "" {
			b.WriteString(p)
			b.WriteString(": ")
		}
		b.WriteString(f.Message)
	}
	if e.ce.Status >= 500 && e.ce.RequestID != "" {
		fmt.Fprintf(&b, "\n  request id: %s", e.ce.RequestID)
	}
	return b.String()
}

func (e *friendlyError) Unwrap() error { return e.err }

func friendly(err error) error {
	var ce *client.Error
	var fe *friendlyError
	if err == nil || !errors.As(err, &ce) || errors.As(err, &fe) {
		return err
	}
	return &friendlyError{err: err, ce: ce}
}

// serverURL resolves the server: --server, then KILN_SERVER, then the
// stored credentials' server, then DefaultServer.
func (r *runner) serverURL(creds *Credentials) (string, error) {
	s := r.server
	if s == "" {
		s = r.getenv("KILN_SERVER")
	}
	if s == "" && creds != nil {
		s = creds.Server
	}
	if s == "" {
		s = DefaultServer
	}
	u, err := client.ParseServerURL(s)
	if err != nil {
		return "", &UsageError{Msg: err.Error()}
	}
	return u.String(), nil
}

// session is a client with what it was built from.
type session struct {
	*client.Client
	server string
	creds  *Credentials // nil when not logged in to this server
	store  *store
}

// connect returns a client of the resolved server, authenticated with
// KILN_TOKEN or the stored credentials when they belong to that server:
// credentials are never sent to a server they were not issued by.
func (r *runner) connect(cmd *cobra.Command) (*session, error) {
	st, err := r.store()
	if err != nil {
		return nil, err
	}
	creds, err := st.load(cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	server, err := r.serverURL(creds)
	if err != nil {
		return nil, err
	}
	s := &session{server: server, store: st}
	opts := []client.Option{client.WithUserAgent("kiln-cli/" + kiln.Version)}
	if r.httpClient != nil {
		opts = append(opts, client.WithHTTPClient(r.httpClient))
	}
	switch {
	case r.getenv("KILN_TOKEN") != "":
		opts = append(opts, client.WithToken(r.getenv("KILN_TOKEN")))
		s.creds = &Credentials{Server: server, APIToken: r.getenv("KILN_TOKEN")}
	case creds != nil && creds.Server == server && creds.APIToken != "":
		opts = append(opts, client.WithToken(creds.APIToken))
		s.creds = creds
	case creds != nil && creds.Server == server && (creds.AccessToken != "" || creds.RefreshToken != ""):
		s.creds = creds
		opts = append(opts, client.WithSession(client.Tokens{
			AccessToken: creds.AccessToken, AccessExpiresAt: creds.AccessExpiresAt, RefreshToken: creds.RefreshToken,
		}, func(sess *kiln.Session) error {
			creds.AccessToken, creds.AccessExpiresAt = sess.AccessToken, sess.AccessExpiresAt
			creds.RefreshToken, creds.RefreshExpiresAt = sess.RefreshToken, sess.RefreshExpiresAt
			return st.save(creds)
		}), client.WithSessionReload(func() (client.Tokens, bool) {
			// Another kiln command may have rotated the session meanwhile.
			now, err := st.load(io.Discard)
			if err != nil || now == nil || now.Server != server || now.RefreshToken == "" {
				return client.Tokens{}, false
			}
			*creds = *now
			return client.Tokens{AccessToken: now.AccessToken, AccessExpiresAt: now.AccessExpiresAt, RefreshToken: now.RefreshToken}, true
		}))
	}
	s.Client = client.New(server, opts...)
	return s, nil
}

// authed is connect for commands that need a user: without credentials it
// says how to log in instead of calling the server.
func (r *runner) authed(cmd *cobra.Command) (*session, error) {
	s, err := r.connect(cmd)
	if err != nil {
		return nil, err
	}
	if s.creds == nil {
		return nil, fmt.Errorf("not logged in to %s: run 'kiln login' (or set KILN_TOKEN)", s.server)
	}
	return s, nil
}

// authedID parses the numeric argument named what (usage errors first),
// then connects as authed does.
func (r *runner) authedID(cmd *cobra.Command, what, arg string) (*session, int64, error) {
	id, err := parseID(cmd, what, arg)
	if err != nil {
		return nil, 0, err
	}
	s, err := r.authed(cmd)
	if err != nil {
		return nil, 0, err
	}
	return s, id, nil
}

// authedApp connects as authed does and resolves an APP argument (id or name).
func (r *runner) authedApp(ctx context.Context, cmd *cobra.Command, arg string) (*session, int64, error) {
	s, err := r.authed(cmd)
	if err != nil {
		return nil, 0, err
	}
	id, err := r.resolveApp(ctx, cmd, s, arg)
	if err != nil {
		return nil, 0, err
	}
	return s, id, nil
}

// stdout and stderr of a command.
func out(cmd *cobra.Command) io.Writer  { return cmd.OutOrStdout() }
func errw(cmd *cobra.Command) io.Writer { return cmd.ErrOrStderr() }
