package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

func (r *runner) adminCmd() *cobra.Command {
	var pf pageFlags
	var email string
	users := r.leaf(command{
		use:   "users",
		short: "List all users (admins)",
		long: `List every account on the server, newest first, with its role and whether
its email is verified; --email shows only the account with that address. An
admin whose ROLE reads "admin (oidc)" got it from the identity provider's
admin group and loses it at a login outside the group. Admins only.

'kiln admin users revoke-sessions' ends a user's login sessions.`,
		example: `  kiln admin users --limit 20
  kiln admin users --email ada@example.com`,
		ops: []string{"GET /v1/admin/users"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			p, err := pf.page(cmd)
			if err != nil {
				return err
			}
			if email != "" && (p.Cursor != "" || p.Limit != 0) {
				return usageErrorf(cmd, "--email shows one user: it cannot be used with --cursor or --limit")
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			var list []*kiln.User
			var next string
			if email != "" {
				u, err := s.AdminFindUser(ctx, email)
				if err != nil {
					return err
				}
				list = []*kiln.User{u}
			} else if list, next, err = s.AdminListUsers(ctx, p); err != nil {
				return err
			}
			now := r.now()
			err = r.emit(cmd, map[string]any{"items": list, "next_cursor": next}, func(w io.Writer) {
				row(w, "ID", "EMAIL", "ROLE", "VERIFIED", "CREATED")
				for _, u := range list {
					role := string(u.Role)
					if u.AdminFromOIDC {
						role += " (oidc)"
					}
					row(w, u.ID, cell(u.Email), role, u.EmailVerified, ago(now, u.CreatedAt))
				}
			})
			if r.output == "table" {
				moreHint(cmd, next)
			}
			return err
		},
	})
	pf.register(users)
	users.Flags().StringVar(&email, "email", "", "only the user with this email")
	users.AddCommand(r.revokeSessionsCmd())

	var role string
	grant := r.leaf(command{
		use:   "grant EMAIL",
		short: "Give a user a role (admins)",
		long: `Make the user with this email an admin (the default) or, with
--role user, take admin rights away. Admins only.`,
		example: `  kiln admin grant ada@example.com
  kiln admin grant bob@example.com --role user`,
		ops:  []string{"POST /v1/admin/grant"},
		args: []string{"EMAIL"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			rl := kiln.Role(role)
			if rl != kiln.RoleAdmin && rl != kiln.RoleUser {
				return usageErrorf(cmd, "invalid --role %q: want admin or user", role)
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			u, err := s.AdminGrant(ctx, args[0], rl)
			if err != nil {
				return err
			}
			return r.emit(cmd, u, func(w io.Writer) { fmt.Fprintf(w, "%s is now %s.\n", safe(u.Email), u.Role) })
		},
	})
	grant.Flags().StringVar(&role, "role", string(kiln.RoleAdmin), "the role to give: admin or user")
	return r.group("admin", "Administer users, signing keys and mail (admins)",
		`Commands for server admins: list users, change their roles, end their
sessions, rotate the keys that sign access tokens and watch the mail outbox.`, users, grant, r.signingKeysCmd(), r.adminMailCmd())
}

func (r *runner) revokeSessionsCmd() *cobra.Command {
	return r.leaf(command{
		use:   "revoke-sessions EMAIL|ID",
		short: "End every login session of a user (admins)",
		long: `End every login session of the user with this email or id, in the CLI and
the portal alike: the user's refresh tokens are revoked and the user's
portal sessions deleted. The portal logs the user out at their next page;
every other session fails the next time it refreshes, and the user has to
log in again.

Access tokens already issued stay valid until they expire (auth.access_ttl,
15 minutes by default): a CLI session in use can go on for that long. API
tokens (kiln_…) are not touched, and the user can log in again at once; to
take admin rights away use 'kiln admin grant EMAIL --role user'. Admins
only.`,
		example: `  kiln admin users revoke-sessions ada@example.com
  kiln admin users revoke-sessions 42`,
		ops:  []string{"GET /v1/admin/users", "POST /v1/admin/users/{id}/revoke-sessions"},
		args: []string{"EMAIL|ID"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			arg := strings.TrimSpace(args[0])
			byEmail := strings.Contains(arg, "@")
			var id int64
			if !byEmail {
				var err error
				if id, err = parseID(cmd, "EMAIL|ID", arg); err != nil {
					return usageErrorf(cmd, "EMAIL|ID must be an email address or a numeric user id, got %q", arg)
				}
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			if byEmail {
				u, err := s.AdminFindUser(ctx, arg)
				if err != nil {
					return err
				}
				id = u.ID
			}
			u, n, err := s.AdminRevokeUserSessions(ctx, id)
			if err != nil {
				return err
			}
			return r.emit(cmd, map[string]any{"user": u, "sessions_ended": n}, func(w io.Writer) {
				sessions := "sessions"
				if n == 1 {
					sessions = "session"
				}
				fmt.Fprintf(w, "Ended %d %s of %s. Access tokens already issued work until they expire (15 minutes by default).\n",
					n, sessions, safe(u.Email))
			})
		},
	})
}

func (r *runner) signingKeysCmd() *cobra.Command {
	printKeys := func(cmd *cobra.Command, keys []*kiln.SigningKey) error {
		now := r.now()
		return r.emit(cmd, map[string]any{"items": keys}, func(w io.Writer) {
			row(w, "KID", "ALG", "STATE", "CREATED", "RETIRES")
			for _, k := range keys {
				state, retires := "verifies", "-"
				if k.Current {
					state = "signs"
				}
				if k.RetiresAt != nil {
					retires = k.RetiresAt.Local().Format(time.DateTime)
				}
				row(w, k.ID, k.Algorithm, state, ago(now, k.CreatedAt), retires)
			}
		})
	}
	list := r.leaf(command{
		use:   "list",
		short: "List the access-token signing keys (admins)",
		long: `List the keys that verify Kiln's access tokens: the one that signs new
tokens and, after a rotation, the previous one until its tokens expire.
Key material is never shown. Admins only.`,
		example: `  kiln admin keys list`,
		ops:     []string{"GET /v1/admin/keys"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			keys, err := s.AdminSigningKeys(ctx)
			if err != nil {
				return err
			}
			return printKeys(cmd, keys)
		},
	})
	var immediate bool
	rotate := r.leaf(command{
		use:   "rotate",
		short: "Start a new access-token signing key (admins)",
		long: `Start a new key for signing access tokens. Every API node picks it up within
30 seconds. The previous key keeps verifying the tokens it signed until they
expire, so nobody is logged out; a key older than that retires at once, so
at most two keys verify. With --immediate the previous key retires now
(after a leak): every access token fails and clients refresh their session.
Admins only.`,
		example: `  kiln admin keys rotate
  kiln admin keys rotate --immediate`,
		ops: []string{"POST /v1/admin/keys/rotate"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			keys, err := s.AdminRotateSigningKey(ctx, immediate)
			if err != nil {
				return err
			}
			return printKeys(cmd, keys)
		},
	})
	rotate.Flags().BoolVar(&immediate, "immediate", false, "retire the previous key now: every access token stops working")
	return r.group("keys", "Manage the keys that sign access tokens (admins)",
		`List and rotate the keys that sign Kiln's access tokens (ES256).`, list, rotate)
}

// versionInfo is what 'kiln version -o json' prints.
type versionInfo struct {
	Client      client.ServerVersion  `json:"client"`
	Server      *client.ServerVersion `json:"server,omitempty"`
	ServerURL   string                `json:"server_url"`
	ServerError string                `json:"server_error,omitempty"`
}

func (r *runner) versionCmd() *cobra.Command {
	return r.leaf(command{
		use:   "version",
		short: "Print the client's and the server's version",
		long: `Print this kiln binary's version, and the server's when it is reachable
(an unreachable server is reported, not an error).`,
		example: `  kiln version
  kiln version -o json`,
		ops: []string{"GET /v1/version"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			info := versionInfo{Client: client.ServerVersion{Version: kiln.Version, Commit: kiln.Commit, Go: runtime.Version()}}
			s, err := r.connect(cmd)
			if err != nil {
				return err
			}
			info.ServerURL = s.server
			vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if v, err := s.Version(vctx); err != nil {
				info.ServerError = friendly(err).Error()
			} else {
				info.Server = v
			}
			return r.emit(cmd, info, func(w io.Writer) {
				row(w, "Client:", describeVersion(info.Client))
				if info.Server != nil {
					row(w, "Server:", describeVersion(*info.Server)+" at "+info.ServerURL)
				} else {
					row(w, "Server:", "unreachable at "+info.ServerURL+" ("+info.ServerError+")")
				}
			})
		},
	})
}

func describeVersion(v client.ServerVersion) string {
	parts := []string{cell(v.Version)}
	if v.Commit != "" {
		parts = append(parts, "commit "+cell(truncate(v.Commit, 12)))
	}
	if v.Go != "" {
		parts = append(parts, cell(v.Go))
	}
	return strings.Join(parts, ", ")
}

// Operations walks the commands under root and returns, by command path
// ("kiln apps create"), the API operations each one declares it calls (its
// AnnotationOperations), sorted. Commands without the annotation are left
// out.
func Operations(root *cobra.Command) map[string][]string {
	m := map[string][]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if v, ok := c.Annotations[AnnotationOperations]; ok && v != "" {
			ops := strings.Split(v, ",")
			sort.Strings(ops)
			m[c.CommandPath()] = slices.Compact(ops)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return m
}

// CoverageProblems checks the commands under root against the API's
// operations (apiOps, "METHOD /path" as in the OpenAPI document) and
// describes each gap: an operation under /v1/ that no command calls, a
// runnable command (other than Cobra's help and completion and commands
// marked AnnotationLocal) that calls no operation, and a declared operation
// the API does not have. Path parameter names do not matter. It returns
// nil when the CLI and the API match.
func CoverageProblems(root *cobra.Command, apiOps []string) []string {
	var problems []string
	api := map[string]bool{}
	for _, op := range apiOps {
		api[normalizeOp(op)] = true
	}
	covered := map[string]bool{}
	declared := Operations(root)
	for _, path := range sortedKeys(declared) {
		for _, op := range declared[path] {
			covered[normalizeOp(op)] = true
			if !api[normalizeOp(op)] {
				problems = append(problems, fmt.Sprintf("%s declares %s, which the API does not have", path, op))
			}
		}
	}
	for _, op := range apiOps {
		_, path, _ := strings.Cut(op, " ")
		if strings.HasPrefix(path, "/v1/") && !covered[normalizeOp(op)] {
			problems = append(problems, fmt.Sprintf("API operation %s has no CLI command", op))
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" || c.Annotations[AnnotationLocal] != "" {
			return
		}
		if c.Runnable() && !c.HasSubCommands() && len(declared[c.CommandPath()]) == 0 {
			problems = append(problems, fmt.Sprintf("%s calls no API operation (annotate it with %s, or %s if it is local)",
				c.CommandPath(), AnnotationOperations, AnnotationLocal))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return problems
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// normalizeOp makes path parameter names irrelevant: {id} matches {appID}.
func normalizeOp(op string) string {
	method, path, _ := strings.Cut(strings.TrimSpace(op), " ")
	return strings.ToUpper(method) + " " + pathParam.ReplaceAllString(path, "{}")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
