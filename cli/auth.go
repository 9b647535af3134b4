package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// prompter reads answers from a command's stdin: hidden on a terminal,
// line by line otherwise (so scripts can pipe them in).
type prompter struct {
	r     *runner
	cmd   *cobra.Command
	lines *bufio.Reader
}

func (r *runner) prompter(cmd *cobra.Command) *prompter {
	return &prompter{r: r, cmd: cmd, lines: bufio.NewReader(io.LimitReader(cmd.InOrStdin(), 1<<20))}
}

func (p *prompter) line(prompt string) (string, error) {
	fmt.Fprint(errw(p.cmd), prompt)
	s, err := p.lines.ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || s == "") {
		if errors.Is(err, io.EOF) {
			return "", &UsageError{Msg: "no input: " + strings.TrimSuffix(strings.TrimSpace(prompt), ":") + " needed", Command: p.cmd.CommandPath()}
		}
		return "", fmt.Errorf("read input: %w", err)
	}
	if !p.r.isTerminal(p.cmd.InOrStdin()) {
		fmt.Fprintln(errw(p.cmd))
	}
	return strings.TrimSpace(s), nil
}

func (p *prompter) secret(prompt string) (string, error) {
	in := p.cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && p.r.isTerminal(in) {
		fmt.Fprint(errw(p.cmd), prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(errw(p.cmd))
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	s, err := p.line(prompt)
	return s, err
}

// readAllStdin reads a secret piped on stdin, without its final newline.
func readAllStdin(cmd *cobra.Command) (string, error) {
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 64<<10))
	if err != nil {
		return "", fmt.Errorf("read stdin: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", &UsageError{Msg: "nothing on stdin", Command: cmd.CommandPath()}
	}
	return s, nil
}

// credentialFlags are the flags signup and login share.
type credentialFlags struct {
	email, password string
	passwordStdin   bool
}

func (f *credentialFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.email, "email", "", "email address (prompted for when absent)")
	cmd.Flags().StringVar(&f.password, "password", "", "password (visible to other users of this machine; prefer --password-stdin or the prompt)")
	cmd.Flags().BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from stdin")
}

// resolve fills in email and password from flags, stdin or prompts.
func (f *credentialFlags) resolve(r *runner, cmd *cobra.Command, confirm bool) (string, string, error) {
	if f.passwordStdin && f.password != "" {
		return "", "", usageErrorf(cmd, "--password and --password-stdin cannot be used together")
	}
	p := r.prompter(cmd)
	email := f.email
	if email == "" {
		if f.passwordStdin {
			return "", "", usageErrorf(cmd, "--password-stdin needs --email")
		}
		var err error
		if email, err = p.line("Email: "); err != nil {
			return "", "", err
		}
	}
	password := f.password
	switch {
	case f.passwordStdin:
		var err error
		if password, err = readAllStdin(cmd); err != nil {
			return "", "", err
		}
	case password == "":
		var err error
		if password, err = r.askPassword(cmd, p, "Password", confirm); errors.Is(err, errPasswordsDiffer) {
			return "", "", errors.New("the passwords do not match")
		} else if err != nil {
			return "", "", err
		}
	}
	return email, password, nil
}

// errPasswordsDiffer is askPassword's answer to two different passwords.
var errPasswordsDiffer = errors.New("the two passwords differ")

// askPassword prompts for a password ("LABEL: ") and, with confirm on a
// terminal, once more ("LABEL (again): "); errPasswordsDiffer when the two
// differ.
func (r *runner) askPassword(cmd *cobra.Command, p *prompter, label string, confirm bool) (string, error) {
	password, err := p.secret(label + ": ")
	if err != nil {
		return "", err
	}
	if confirm && r.isTerminal(cmd.InOrStdin()) {
		again, err := p.secret(label + " (again): ")
		if err != nil {
			return "", err
		}
		if again != password {
			return "", errPasswordsDiffer
		}
	}
	return password, nil
}

// warnCleartext warns when a password is about to cross the network unencrypted.
func warnCleartext(cmd *cobra.Command, server string) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" {
		return
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return
	}
	fmt.Fprintf(errw(cmd), "Warning: %s is plain http; your password and tokens cross the network unencrypted.\n", server)
}

func sessionCredentials(server string, s *kiln.Session) *Credentials {
	c := &Credentials{Server: server, AccessToken: s.AccessToken, AccessExpiresAt: s.AccessExpiresAt,
		RefreshToken: s.RefreshToken, RefreshExpiresAt: s.RefreshExpiresAt}
	if s.User != nil {
		c.Email = s.User.Email
	}
	return c
}

func (r *runner) signupCmd() *cobra.Command {
	var f credentialFlags
	cmd := r.leaf(command{
		use:   "signup",
		short: "Create an account on a Kiln server and log in",
		long: `Create an account with an email address and a password (at least 8
characters), then log in and store the session like 'kiln login'.
The first account on a server becomes its admin. The server mails a link to
verify the address; pass its token to 'kiln verify-email'.`,
		example: `  kiln signup --email ada@example.com
  printf '%s' "$PASSWORD" | kiln signup --email ada@example.com --password-stdin`,
		ops: []string{"POST /v1/auth/signup", "POST /v1/auth/login"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.connect(cmd)
			if err != nil {
				return err
			}
			email, password, err := f.resolve(r, cmd, true)
			if err != nil {
				return err
			}
			warnCleartext(cmd, s.server)
			u, err := s.Signup(ctx, email, password)
			if err != nil {
				return err
			}
			sess, err := s.Login(ctx, email, password)
			if err != nil {
				fmt.Fprintf(errw(cmd), "Signed up as %s, but logging in failed: %v\nRun 'kiln login'.\n", u.Email, friendly(err))
			} else if err := s.store.save(sessionCredentials(s.server, sess)); err != nil {
				return err
			}
			return r.emit(cmd, u, func(w io.Writer) {
				fmt.Fprintf(w, "Signed up and logged in to %s as %s (%s).\n", s.server, safe(u.Email), u.Role)
				if !u.EmailVerified {
					fmt.Fprintln(w, "Check your mail for the verification link, then run: kiln verify-email TOKEN")
				}
			})
		},
	})
	f.register(cmd)
	return cmd
}

func (r *runner) loginCmd() *cobra.Command {
	var f credentialFlags
	var token, callback string
	var useOIDC bool
	cmd := r.leaf(command{
		use:   "login",
		short: "Log in to a Kiln server and store the credentials",
		long: `Log in with your email and password, prompted for when not given as
flags, and store the session in the user config directory
(` + "`$KILN_CONFIG_DIR`" + ` or the OS default, file mode 0600). Later commands use it
and refresh it as needed.

With --token, store an API token (from 'kiln tokens create') instead; pass
- to read it from stdin.

With --oidc, log in through the server's identity provider (auth.oidc, e.g.
AWS Cognito): with the device flow when the provider supports it, else in
a browser — the URL is printed (and opened with $BROWSER when set) and the
provider redirects back to a one-shot server on 127.0.0.1. Use --callback
to fix that address when the provider needs the exact URL registered
(Cognito: http://localhost:PORT/PATH). The server is --server, $KILN_SERVER
or ` + DefaultServer + `.`,
		example: `  kiln login --server https://kiln.example.com
  kiln login --email ada@example.com --password-stdin < password.txt
  echo "$KILN_API_TOKEN" | kiln login --token -
  kiln login --oidc
  kiln login --oidc --callback http://localhost:8976/callback`,
		ops: []string{"POST /v1/auth/login", "GET /v1/me", "POST /v1/auth/logout",
			"GET /v1/auth/oidc", "POST /v1/auth/oidc/code", "POST /v1/auth/oidc/device", "POST /v1/auth/oidc/device/token"},
		noLoginHint: true,
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.connect(cmd)
			if err != nil {
				return err
			}
			if token != "" {
				if useOIDC {
					return usageErrorf(cmd, "--token cannot be used with --oidc")
				}
				return r.loginWithToken(ctx, cmd, s, token, f)
			}
			var sess *kiln.Session
			if useOIDC {
				if f.email != "" || f.password != "" || f.passwordStdin {
					return usageErrorf(cmd, "--oidc cannot be used with --email or a password")
				}
				if sess, err = r.loginOIDC(ctx, cmd, s, callback); err != nil {
					return err
				}
			} else {
				if callback != "" {
					return usageErrorf(cmd, "--callback needs --oidc")
				}
				email, password, err := f.resolve(r, cmd, false)
				if err != nil {
					return err
				}
				warnCleartext(cmd, s.server)
				if sess, err = s.Login(ctx, email, password); err != nil {
					return err
				}
			}
			if err := s.store.save(sessionCredentials(s.server, sess)); err != nil {
				return err
			}
			revokeReplaced(ctx, s)
			return r.emit(cmd, sess.User, func(w io.Writer) {
				fmt.Fprintf(w, "Logged in to %s as %s.\n", s.server, safe(sess.User.Email))
			})
		},
	})
	f.register(cmd)
	cmd.Flags().StringVar(&token, "token", "", "store this API token (kiln_…) instead of logging in with a password; - reads it from stdin")
	cmd.Flags().BoolVar(&useOIDC, "oidc", false, "log in through the server's identity provider (device flow, or a browser and a callback on 127.0.0.1)")
	cmd.Flags().StringVar(&callback, "callback", "", "with --oidc: the browser flow's redirect URI on this machine (default http://127.0.0.1:<free port>/callback)")
	return cmd
}

func (r *runner) loginWithToken(ctx context.Context, cmd *cobra.Command, s *session, token string, f credentialFlags) error {
	if f.email != "" || f.password != "" || f.passwordStdin {
		return usageErrorf(cmd, "--token cannot be used with --email or a password")
	}
	if token == "-" {
		var err error
		if token, err = readAllStdin(cmd); err != nil {
			return err
		}
	}
	token = strings.TrimSpace(token)
	u, err := client.New(s.server, client.WithToken(token), client.WithUserAgent("kiln-cli/"+kiln.Version)).Me(ctx)
	if err != nil {
		return fmt.Errorf("check token: %w", friendly(err))
	}
	if err := s.store.save(&Credentials{Server: s.server, Email: u.Email, APIToken: token}); err != nil {
		return err
	}
	revokeReplaced(ctx, s)
	return r.emit(cmd, u, func(w io.Writer) {
		fmt.Fprintf(w, "Logged in to %s as %s with an API token.\n", s.server, safe(u.Email))
	})
}

// revokeReplaced revokes, best effort, the session a new login replaced on
// the same server, so logging in again does not leave it alive.
func revokeReplaced(ctx context.Context, s *session) {
	if old := s.creds; old != nil && old.RefreshToken != "" && old.Server == s.server {
		_ = s.Logout(ctx, old.RefreshToken) // it may have expired already; nothing to do then
	}
}

func (r *runner) logoutCmd() *cobra.Command {
	return r.leaf(command{
		use:   "logout",
		short: "Log out and delete the stored credentials",
		long: `Revoke the stored session on the server and delete the local credentials
file. An API token stored with 'kiln login --token' is only forgotten
locally; revoke it with 'kiln tokens revoke'.`,
		example: `  kiln logout`,
		ops:     []string{"POST /v1/auth/logout"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			st, err := r.store()
			if err != nil {
				return err
			}
			creds, err := st.load(errw(cmd))
			if err != nil {
				return err
			}
			if creds == nil {
				fmt.Fprintln(errw(cmd), "Not logged in.")
				return nil
			}
			if creds.RefreshToken != "" {
				if _, err := client.ParseServerURL(creds.Server); err == nil {
					c := client.New(creds.Server, client.WithUserAgent("kiln-cli/"+kiln.Version))
					if err := c.Logout(ctx, creds.RefreshToken); err != nil {
						fmt.Fprintf(errw(cmd), "Warning: could not revoke the session on %s: %v\n", creds.Server, friendly(err))
					}
				}
			}
			if err := st.remove(); err != nil {
				return err
			}
			fmt.Fprintf(out(cmd), "Logged out of %s.\n", creds.Server)
			if creds.APIToken != "" {
				fmt.Fprintln(errw(cmd), "The API token still works until you revoke it: kiln tokens list / kiln tokens revoke ID")
			}
			return nil
		},
	})
}

func (r *runner) whoamiCmd() *cobra.Command {
	return r.leaf(command{
		use:   "whoami",
		short: "Show the user you are logged in as",
		long:  `Show the account the stored credentials (or KILN_TOKEN) belong to, its role, and whether its email is verified.`,
		example: `  kiln whoami
  kiln whoami -o json`,
		ops: []string{"GET /v1/me"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			u, err := s.Me(ctx)
			if err != nil {
				return err
			}
			return r.emit(cmd, u, func(w io.Writer) {
				verified := "verified"
				if !u.EmailVerified {
					verified = "email not verified"
				}
				fmt.Fprintf(w, "%s (%s, %s) on %s\n", safe(u.Email), u.Role, verified, s.server)
			})
		},
	})
}

func (r *runner) verifyEmailCmd() *cobra.Command {
	return r.leaf(command{
		use:   "verify-email TOKEN",
		short: "Verify your email address with the token from the mail",
		long: `Verify an email address with the token from the verification link the
server mailed (the part after token=). No login is needed.`,
		example: `  kiln verify-email 3f9c…`,
		ops:     []string{"POST /v1/auth/verify-email"},
		args:    []string{"TOKEN"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, err := r.connect(cmd)
			if err != nil {
				return err
			}
			u, err := s.VerifyEmail(ctx, strings.TrimSpace(args[0]))
			if err != nil {
				return err
			}
			return r.emit(cmd, u, func(w io.Writer) { fmt.Fprintf(w, "Verified %s.\n", safe(u.Email)) })
		},
	})
}

func (r *runner) authCmd() *cobra.Command {
	resend := r.leaf(command{
		use:     "resend-verification",
		short:   "Mail a new email verification link",
		long:    `Ask the server to mail a new verification link to the address of the logged-in account.`,
		example: `  kiln auth resend-verification`,
		ops:     []string{"POST /v1/auth/resend-verification"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			if err := s.ResendVerification(ctx); err != nil {
				return err
			}
			fmt.Fprintln(out(cmd), "Verification mail queued; it should arrive within a minute.")
			return nil
		},
	})
	refresh := r.leaf(command{
		use:   "refresh",
		short: "Renew the stored login session now",
		long: `Exchange the stored refresh token for a new session and store it. Other
commands do this by themselves when the access token has expired; this one
checks that the session is still alive and shows when it expires.`,
		example: `  kiln auth refresh`,
		ops:     []string{"POST /v1/auth/refresh"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			if s.creds.RefreshToken == "" {
				return errors.New("no login session to refresh: you are logged in with an API token")
			}
			sess, err := s.Refresh(ctx, s.creds.RefreshToken)
			if err != nil {
				return err
			}
			creds := sessionCredentials(s.server, sess)
			if creds.Email == "" {
				creds.Email = s.creds.Email
			}
			if err := s.store.save(creds); err != nil {
				return err
			}
			return r.emit(cmd, map[string]any{"access_expires_at": sess.AccessExpiresAt, "refresh_expires_at": sess.RefreshExpiresAt},
				func(w io.Writer) {
					fmt.Fprintf(w, "Session renewed; it lasts until %s unless unused.\n", sess.RefreshExpiresAt.Local().Format("2006-01-02 15:04"))
				})
		},
	})
	return r.group("auth", "Manage your login session, email verification and password", `Account actions beyond login and logout.`,
		resend, refresh, r.resetPasswordCmd())
}

// parseExpiry reads --expires: a duration ("720h", "30d") from now, a date
// (2026-12-31) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid --expires %q: want a duration (30d, 12h), a date (2026-12-31) or an RFC 3339 time", s)
}

// parseID reads a positive numeric id argument.
func parseID(cmd *cobra.Command, what, s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(s, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErrorf(cmd, "%s must be a numeric id, got %q", what, s)
	}
	return id, nil
}

func (r *runner) tokensCmd() *cobra.Command {
	var expires string
	create := r.leaf(command{
		use:   "create NAME",
		short: "Create an API token for scripts and CI",
		long: `Create a long-lived API token. The secret is printed once, on stdout, and
cannot be shown again. Use it with 'kiln login --token -', the KILN_TOKEN
environment variable, or an Authorization: Bearer header.`,
		example: `  kiln tokens create ci --expires 90d
  KILN_TOKEN=$(kiln tokens create deploy) kiln apps list`,
		ops:  []string{"POST /v1/tokens"},
		args: []string{"NAME"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			var exp *time.Time
			if expires != "" {
				t, err := parseExpiry(expires, r.now())
				if err != nil {
					return &UsageError{Msg: err.Error(), Command: cmd.CommandPath()}
				}
				exp = &t
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			tok, secret, err := s.CreateToken(ctx, args[0], exp)
			if err != nil {
				return err
			}
			if r.output != "table" {
				return r.emit(cmd, map[string]any{"token": tok, "secret": secret}, nil)
			}
			fmt.Fprintln(out(cmd), safe(secret))
			fmt.Fprintf(errw(cmd), "Created token %d %q. Copy it now: it is not shown again.\n", tok.ID, safe(tok.Name))
			return nil
		},
	})
	create.Flags().StringVar(&expires, "expires", "", "when the token stops working: 30d, 12h, 2026-12-31 or RFC 3339 (default: never)")

	list := r.leaf(command{
		use:     "list",
		short:   "List your API tokens",
		long:    `List your API tokens with the first characters of each secret, when each was last used and when it expires.`,
		example: `  kiln tokens list`,
		ops:     []string{"GET /v1/tokens"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			toks, err := s.ListTokens(ctx)
			if err != nil {
				return err
			}
			now := r.now()
			return r.emit(cmd, map[string]any{"items": toks}, func(w io.Writer) {
				row(w, "ID", "NAME", "PREFIX", "CREATED", "LAST USED", "EXPIRES")
				for _, t := range toks {
					exp := "never"
					if t.ExpiresAt != nil {
						exp = t.ExpiresAt.Local().Format("2006-01-02 15:04")
					}
					row(w, t.ID, cell(t.Name), cell(t.Prefix)+"…", ago(now, t.CreatedAt), agoPtr(now, t.LastUsedAt), exp)
				}
			})
		},
	})

	revoke := r.leaf(command{
		use:     "revoke ID",
		short:   "Revoke an API token",
		long:    `Revoke one of your API tokens by its id (see 'kiln tokens list'). It stops working at once.`,
		example: `  kiln tokens revoke 12`,
		ops:     []string{"DELETE /v1/tokens/{id}"},
		args:    []string{"ID"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedID(cmd, "ID", args[0])
			if err != nil {
				return err
			}
			if err := s.RevokeToken(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(out(cmd), "Revoked token %d.\n", id)
			return nil
		},
	})
	return r.group("tokens", "Manage API tokens", `Create, list and revoke API tokens: long-lived credentials for scripts and CI.`, create, list, revoke, r.streamTicketCmd())
}
