package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
)

// keysCmd is 'kiln apps keys': the app's analytics ingest keys.
func (r *runner) keysCmd() *cobra.Command {
	var name string
	var rateLimit int
	create := r.leaf(command{
		use:   "create APP",
		short: "Create an analytics ingest key for an app",
		long: `Create a key the generated app sends its analytics events with. The secret
is printed once, on stdout, and cannot be shown again: give it to the app as
KILN_APP_KEY, with KILN_INGEST_URL set to this server's /v1/ingest.
--rate-limit caps the events per second the key may send (default: the
server's analytics.rate_limit).`,
		example: `  kiln apps keys create library --name prod
  KILN_APP_KEY=$(kiln apps keys create library) ./library`,
		ops:  []string{"POST /v1/apps/{id}/ingest-keys", "GET /v1/apps"},
		args: []string{"APP"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			if rateLimit < 0 || rateLimit > kiln.MaxIngestRateLimit {
				return usageErrorf(cmd, "--rate-limit must be between 0 and %d", kiln.MaxIngestRateLimit)
			}
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			k, secret, err := s.CreateIngestKey(ctx, id, kiln.IngestKeyCreate{Name: name, RateLimit: rateLimit})
			if err != nil {
				return err
			}
			return r.emitSecret(cmd, s.server, k, secret, "Created")
		},
	})
	create.Flags().StringVar(&name, "name", "", `a label for the key (default "default")`)
	create.Flags().IntVar(&rateLimit, "rate-limit", 0, "events per second the key may send (0: the server's default)")

	list := r.leaf(command{
		use:     "list APP",
		short:   "List an app's ingest keys",
		long:    `List the app's ingest keys with the first characters of each secret, its rate limit and when it was last used.`,
		example: `  kiln apps keys list library`,
		ops:     []string{"GET /v1/apps/{id}/ingest-keys", "GET /v1/apps"},
		args:    []string{"APP"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			keys, err := s.ListIngestKeys(ctx, id)
			if err != nil {
				return err
			}
			now := r.now()
			return r.emit(cmd, map[string]any{"items": keys}, func(w io.Writer) {
				row(w, "ID", "NAME", "PREFIX", "RATE LIMIT", "CREATED", "ROTATED", "LAST USED")
				for _, k := range keys {
					limit := "default"
					if k.RateLimit > 0 {
						limit = fmt.Sprintf("%d/s", k.RateLimit)
					}
					row(w, k.ID, cell(k.Name), cell(k.Prefix)+"…", limit, ago(now, k.CreatedAt), agoPtr(now, k.RotatedAt), agoPtr(now, k.LastUsedAt))
				}
			})
		},
	})

	rotate := r.leaf(command{
		use:   "rotate APP KEY_ID",
		short: "Give an ingest key a new secret",
		long: `Replace the key's secret. The new secret is printed once, on stdout; the old
one is refused from now on, so update the app's KILN_APP_KEY.`,
		example: `  kiln apps keys rotate library 3`,
		ops:     []string{"POST /v1/apps/{id}/ingest-keys/{key_id}/rotate", "GET /v1/apps"},
		args:    []string{"APP", "KEY_ID"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			keyID, err := parseID(cmd, "KEY_ID", args[1])
			if err != nil {
				return err
			}
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			k, secret, err := s.RotateIngestKey(ctx, id, keyID)
			if err != nil {
				return err
			}
			return r.emitSecret(cmd, s.server, k, secret, "Rotated")
		},
	})

	revoke := r.leaf(command{
		use:     "revoke APP KEY_ID",
		short:   "Revoke an ingest key",
		long:    `Delete the key. Events sent with it are refused at once.`,
		example: `  kiln apps keys revoke library 3`,
		ops:     []string{"DELETE /v1/apps/{id}/ingest-keys/{key_id}", "GET /v1/apps"},
		args:    []string{"APP", "KEY_ID"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			keyID, err := parseID(cmd, "KEY_ID", args[1])
			if err != nil {
				return err
			}
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			if err := s.RevokeIngestKey(ctx, id, keyID); err != nil {
				return err
			}
			fmt.Fprintf(out(cmd), "Revoked ingest key %d of app %d.\n", keyID, id)
			return nil
		},
	})
	return r.group("keys", "Manage an app's analytics ingest keys",
		`Ingest keys let a generated app send analytics events to Kiln (POST /v1/ingest).
Only the app's owner sees and manages them.`, create, list, rotate, revoke)
}

// emitSecret prints a key's secret alone on stdout (the table format) so
// that scripts can capture it, with the note on stderr: how to run the
// generated app with it against server.
func (r *runner) emitSecret(cmd *cobra.Command, server string, k *kiln.IngestKey, secret, verb string) error {
	if r.output != "table" {
		return r.emit(cmd, map[string]any{"key": k, "secret": secret}, nil)
	}
	fmt.Fprintln(out(cmd), safe(secret))
	fmt.Fprintf(errw(cmd), "%s ingest key %d %q of app %d. Copy the secret now: it is not shown again.\n", verb, k.ID, safe(k.Name), k.AppID)
	fmt.Fprintf(errw(cmd), "Run the app with: KILN_INGEST_URL=%s/v1/ingest KILN_APP_KEY=<the secret>\n", strings.TrimRight(safe(server), "/"))
	return nil
}
