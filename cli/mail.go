package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
)

func (r *runner) resetPasswordCmd() *cobra.Command {
	var email, token string
	var passwordStdin bool
	cmd := r.leaf(command{
		use:   "reset-password",
		short: "Ask for a password reset link, or set a new password with one",
		long: `Without --token, ask the server to mail a password reset link to --email
(prompted for when absent). The answer is the same whether or not an account
has the address. The link works once, for 1 hour.

With --token (the part of the link after token=), set a new password,
prompted for twice or read with --password-stdin. Every login session of
the account ends; API tokens keep working. No login is needed.`,
		example: `  kiln auth reset-password --email ada@example.com
  kiln auth reset-password --token 3f9c…
  printf '%s' "$NEW_PASSWORD" | kiln auth reset-password --token 3f9c… --password-stdin`,
		ops:         []string{"POST /v1/auth/password-reset", "POST /v1/auth/password-reset/confirm"},
		noLoginHint: true,
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			if token == "" && passwordStdin {
				return usageErrorf(cmd, "--password-stdin needs --token")
			}
			if token != "" && email != "" {
				return usageErrorf(cmd, "--email asks for a link and --token uses one: give one of them")
			}
			s, err := r.connect(cmd)
			if err != nil {
				return err
			}
			p := r.prompter(cmd)
			if token == "" {
				if email == "" {
					if email, err = p.line("Email: "); err != nil {
						return err
					}
				}
				msg, err := s.RequestPasswordReset(ctx, email)
				if err != nil {
					return err
				}
				return r.emit(cmd, map[string]string{"message": msg}, func(w io.Writer) { fmt.Fprintln(w, msg) })
			}
			var password string
			if passwordStdin {
				if password, err = readAllStdin(cmd); err != nil {
					return err
				}
			} else if password, err = r.askPassword(cmd, p, "New password", true); errors.Is(err, errPasswordsDiffer) {
				return usageErrorf(cmd, "the two passwords differ")
			} else if err != nil {
				return err
			}
			warnCleartext(cmd, s.server)
			if err := s.ResetPassword(ctx, strings.TrimSpace(token), password); err != nil {
				return err
			}
			return r.emit(cmd, map[string]bool{"reset": true}, func(w io.Writer) {
				fmt.Fprintln(w, "Password changed; every session of the account has ended. Log in with: kiln login")
			})
		},
	})
	cmd.Flags().StringVar(&email, "email", "", "the account's email: mail it a reset link")
	cmd.Flags().StringVar(&token, "token", "", "the token from the reset link: set a new password")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the new password from stdin")
	return cmd
}

// notifyValues are the values of 'kiln me set --notify'.
var notifyValues = map[string]kiln.Notifications{
	"builds": {BuildFinished: true},
	"none":   {BuildFinished: false},
}

func (r *runner) meCmd() *cobra.Command {
	var notify string
	set := r.leaf(command{
		use:   "set",
		short: "Change your account settings",
		long: `Change settings of the logged-in account.

--notify=builds mails you when one of your builds succeeds or fails (the
default for new accounts); --notify=none turns those mails off. Verification
and password reset mails are always sent.`,
		example: `  kiln me set --notify=none
  kiln me set --notify=builds`,
		ops: []string{"PATCH /v1/me"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("notify") {
				return usageErrorf(cmd, "nothing to set: give --notify=builds or --notify=none")
			}
			n, ok := notifyValues[notify]
			if !ok {
				return usageErrorf(cmd, "--notify must be builds or none, got %q", notify)
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			u, err := s.SetNotifications(ctx, n)
			if err != nil {
				return err
			}
			return r.emit(cmd, u, func(w io.Writer) {
				if u.Notifications.BuildFinished {
					fmt.Fprintf(w, "Build mails are on for %s.\n", safe(u.Email))
				} else {
					fmt.Fprintf(w, "Build mails are off for %s.\n", safe(u.Email))
				}
			})
		},
	})
	set.Flags().StringVar(&notify, "notify", "", "which mails to get besides account mail: builds or none")
	return r.group("me", "Your account settings", `Show and change settings of the logged-in account ('kiln whoami' shows who that is).`, set)
}

func (r *runner) adminMailCmd() *cobra.Command {
	var pf pageFlags
	var failed bool
	var status string
	list := r.leaf(command{
		use:   "list",
		short: "List outbox mail (admins)",
		long: `List the messages in the mail outbox, newest first: pending ones wait for
an attempt, sent ones were accepted by the mail server, failed ones ran out
of attempts or were refused for good (see LAST ERROR). Admins only.`,
		example: `  kiln admin mail list --failed
  kiln admin mail list --status pending -o json`,
		ops: []string{"GET /v1/admin/mail"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			p, err := pf.page(cmd)
			if err != nil {
				return err
			}
			if failed {
				if status != "" && status != string(kiln.MailFailed) {
					return usageErrorf(cmd, "--failed cannot be used with --status %s", status)
				}
				status = string(kiln.MailFailed)
			}
			switch kiln.MailStatus(status) {
			case "", kiln.MailPending, kiln.MailSent, kiln.MailFailed:
			default:
				return usageErrorf(cmd, "--status must be pending, sent or failed, got %q", status)
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			list, next, err := s.AdminListMail(ctx, kiln.MailStatus(status), p)
			if err != nil {
				return err
			}
			now := r.now()
			err = r.emit(cmd, map[string]any{"items": list, "next_cursor": next}, func(w io.Writer) {
				row(w, "ID", "KIND", "TO", "STATUS", "ATTEMPTS", "CREATED", "LAST ERROR")
				for _, m := range list {
					row(w, m.ID, m.Kind, cell(m.To), m.Status, m.Attempts, ago(now, m.CreatedAt), cell(m.LastError))
				}
			})
			if r.output == "table" {
				moreHint(cmd, next)
			}
			return err
		},
	})
	pf.register(list)
	list.Flags().BoolVar(&failed, "failed", false, "only failed messages (same as --status failed)")
	list.Flags().StringVar(&status, "status", "", "only messages with this status: pending, sent or failed")

	retry := r.leaf(command{
		use:   "retry ID",
		short: "Send a failed message again (admins)",
		long: `Put a failed message back in the outbox with a fresh set of attempts. Only
failed messages can be retried. Admins only.`,
		example: `  kiln admin mail retry 42`,
		ops:     []string{"POST /v1/admin/mail/{id}/retry"},
		args:    []string{"ID"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedID(cmd, "ID", args[0])
			if err != nil {
				return err
			}
			m, err := s.AdminRetryMail(ctx, id)
			if err != nil {
				return err
			}
			return r.emit(cmd, m, func(w io.Writer) {
				fmt.Fprintf(w, "Message %d to %s is queued again.\n", m.ID, safe(m.To))
			})
		},
	})
	return r.group("mail", "The mail outbox (admins)", `List outbox messages and send failed ones again. See docs/EMAIL.md.`, list, retry)
}
