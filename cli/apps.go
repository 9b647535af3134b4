package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// appLookupPages bounds how many pages of apps a lookup by name reads.
const appLookupPages = 20

// resolveApp turns an APP argument, an id or a name, into an app id. Names
// are looked up among the caller's apps (GET /v1/apps).
func (r *runner) resolveApp(ctx context.Context, cmd *cobra.Command, s *session, arg string) (int64, error) {
	if id, err := strconv.ParseInt(strings.TrimPrefix(arg, "#"), 10, 64); err == nil {
		if id <= 0 {
			return 0, usageErrorf(cmd, "APP must be an id or a name, got %q", arg)
		}
		return id, nil
	}
	var found []*kiln.App
	cursor := ""
	for range appLookupPages {
		apps, next, err := s.ListApps(ctx, kiln.AppFilter{Page: kiln.Page{Cursor: cursor, Limit: kiln.MaxPageLimit}})
		if err != nil {
			return 0, err
		}
		for _, a := range apps {
			if a.Name == arg {
				found = append(found, a)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	switch len(found) {
	case 0:
		return 0, kiln.Errorf(kiln.ENotFound, "no app named %q", arg)
	case 1:
		return found[0].ID, nil
	}
	ids := make([]string, len(found))
	for i, a := range found {
		ids[i] = strconv.FormatInt(a.ID, 10)
	}
	return 0, kiln.Errorf(kiln.EConflict, "%d apps are named %q (ids %s): use the id", len(found), arg, strings.Join(ids, ", "))
}

// verifyHint adds what to do when the server refuses to build for a user
// whose email is not verified yet.
func verifyHint(err error) error {
	if kiln.ErrorCode(err) != kiln.EForbidden {
		return err
	}
	return fmt.Errorf("%w\nIf your email is not verified yet: kiln verify-email TOKEN (from the mail), or kiln auth resend-verification", friendly(err))
}

// newIdempotencyKey makes a create call safe to repeat (the client retries
// once after refreshing a session).
func newIdempotencyKey() client.CallOption {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return client.WithIdempotencyKey(hex.EncodeToString(b))
}

func (r *runner) appsCmd() *cobra.Command {
	return r.group("apps", "Create and manage apps",
		`An app is something you asked Kiln to build from a plain-language description.
Commands that take APP accept its id or its name.`,
		r.appsCreateCmd(), r.appsListCmd(), r.appsGetCmd(), r.appsUpdateCmd(), r.appsDeleteCmd(),
		r.appsRebuildCmd(), r.specCmd(), r.keysCmd(), r.appsPlanCmd(),
	)
}

func (r *runner) appsCreateCmd() *cobra.Command {
	var name, specFile string
	var wait, watchUI, plain, noCache bool
	cmd := r.leaf(command{
		use:   "create DESCRIPTION",
		short: "Create an app from a description and start its first build",
		long: `Describe the app in plain language (up to 10,000 characters; - reads it
from stdin). Kiln plans an AppSpec from it, generates the code, checks it and
packages it. With --wait, follow the build log until the build ends; the
exit status is 0 when it succeeded and 1 otherwise. With --watch, watch the
build in the terminal UI of 'kiln builds watch' (plain lines without a
terminal or with --plain).`,
		example: `  kiln apps create "a library with books (title, author, year) and loans" --name library --wait
  kiln apps create "a todo app with tasks (title, done)" --watch
  kiln apps create - < description.txt
  kiln apps plan "a todo app with tasks" > kiln.json && kiln apps create "a todo app with tasks" --spec kiln.json`,
		ops:  append([]string{"POST /v1/apps"}, watchOps...),
		args: []string{"DESCRIPTION"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			desc := args[0]
			if desc == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4*kiln.MaxDescriptionLen+1))
				if err != nil {
					return fmt.Errorf("read description: %w", err)
				}
				desc = string(b)
			}
			desc = strings.TrimSpace(desc)
			if desc == "" {
				return usageErrorf(cmd, "DESCRIPTION is empty")
			}
			var spec *kiln.AppSpec
			if specFile != "" {
				var err error
				if spec, err = readSpec(cmd, specFile); err != nil {
					return err
				}
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			app, build, err := s.CreateApp(ctx, kiln.AppCreate{Description: desc, Name: name, NoCache: noCache, Spec: spec}, newIdempotencyKey())
			if err != nil {
				return verifyHint(err)
			}
			if watchUI && !r.plainWatch(cmd, plain) {
				return r.watchBuild(ctx, cmd, s, build, app.Name)
			}
			if !wait && !watchUI {
				return r.emit(cmd, map[string]any{"app": app, "build": build}, func(w io.Writer) {
					fmt.Fprintf(w, "Created app %d %q; build %d (#%d) is %s.\n", app.ID, safe(app.Name), build.ID, build.Number, build.Status)
					fmt.Fprintf(w, "Follow it with: kiln builds logs -f %d\n", build.ID)
				})
			}
			fmt.Fprintf(errw(cmd), "Created app %d %q; following build %d (#%d)…\n", app.ID, safe(app.Name), build.ID, build.Number)
			final, err := r.follow(ctx, cmd, s, build.ID, 0)
			if final != nil && r.output != "table" {
				if err := r.emit(cmd, map[string]any{"app": app, "build": final}, nil); err != nil {
					return err
				}
			}
			return err
		},
	})
	cmd.Flags().StringVar(&name, "name", "", "a short name for the app (default: the name the planner gives it, e.g. \"library\")")
	cmd.Flags().StringVar(&specFile, "spec", "", "build this AppSpec JSON file (from 'kiln apps plan', edited) instead of planning the description")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "follow the build log and exit with the build's outcome")
	cmd.Flags().BoolVar(&watchUI, "watch", false, "watch the build in a terminal UI and exit with its outcome")
	cmd.Flags().BoolVar(&plain, "plain", false, "with --watch: print plain log lines instead of the terminal UI")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "build everything even when an identical earlier build could be reused")
	return cmd
}

// pageFlags are --limit and --cursor of list commands.
type pageFlags struct {
	limit  int
	cursor string
}

func (p *pageFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&p.limit, "limit", 0, fmt.Sprintf("how many to show (server default %d, at most %d)", kiln.DefaultPageLimit, kiln.MaxPageLimit))
	cmd.Flags().StringVar(&p.cursor, "cursor", "", "continue a previous listing from its next cursor")
}

func (p *pageFlags) page(cmd *cobra.Command) (kiln.Page, error) {
	if p.limit < 0 || p.limit > kiln.MaxPageLimit {
		return kiln.Page{}, usageErrorf(cmd, "--limit must be between 1 and %d", kiln.MaxPageLimit)
	}
	return kiln.Page{Limit: p.limit, Cursor: p.cursor}, nil
}

// moreHint tells a table reader how to get the next page.
func moreHint(cmd *cobra.Command, next string) {
	if next != "" {
		fmt.Fprintf(errw(cmd), "More: %s --cursor %s\n", cmd.CommandPath(), next)
	}
}

func (r *runner) appsListCmd() *cobra.Command {
	var pf pageFlags
	var all bool
	cmd := r.leaf(command{
		use:   "list",
		short: "List your apps",
		long:  `List your apps, newest first, with the status of each one's latest build. Admins see everyone's with --all.`,
		example: `  kiln apps list
  kiln apps list -o json | jq '.items[].name'`,
		ops: []string{"GET /v1/apps"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			p, err := pf.page(cmd)
			if err != nil {
				return err
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			apps, next, err := s.ListApps(ctx, kiln.AppFilter{All: all, Page: p})
			if err != nil {
				return err
			}
			now := r.now()
			err = r.emit(cmd, map[string]any{"items": apps, "next_cursor": next}, func(w io.Writer) {
				row(w, "ID", "NAME", "LATEST BUILD", "STATUS", "CREATED", "DESCRIPTION")
				for _, a := range apps {
					build, status := "-", r.status(cmd, "")
					if b := a.LatestBuild; b != nil {
						build, status = fmt.Sprintf("%d (#%d)", b.ID, b.Number), r.status(cmd, b.Status)
					}
					row(w, a.ID, cell(a.Name), build, status, ago(now, a.CreatedAt), truncate(cell(a.Description), 50))
				}
			})
			if r.output == "table" {
				moreHint(cmd, next)
			}
			return err
		},
	})
	pf.register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "everyone's apps (admins)")
	return cmd
}

func (r *runner) appsGetCmd() *cobra.Command {
	return r.leaf(command{
		use:   "get APP",
		short: "Show an app",
		long:  `Show an app: its description, its latest build and a summary of its current AppSpec.`,
		example: `  kiln apps get library
  kiln apps get 12 -o yaml`,
		ops:  []string{"GET /v1/apps/{id}", "GET /v1/apps"},
		args: []string{"APP"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			app, err := s.GetApp(ctx, id)
			if err != nil {
				return err
			}
			now := r.now()
			return r.emit(cmd, app, func(w io.Writer) {
				row(w, "ID:", app.ID)
				row(w, "Name:", cell(app.Name))
				row(w, "Created:", ago(now, app.CreatedAt))
				if b := app.LatestBuild; b != nil {
					row(w, "Latest build:", fmt.Sprintf("%d (#%d) %s %s", b.ID, b.Number, r.status(cmd, b.Status), ago(now, b.CreatedAt)))
					if b.Error != "" {
						row(w, "Error:", cell(b.Error))
					}
				} else {
					row(w, "Latest build:", "-")
				}
				if app.Spec != nil {
					names := make([]string, len(app.Spec.Entities))
					for i, e := range app.Spec.Entities {
						names[i] = e.Name
					}
					row(w, "Spec:", fmt.Sprintf("%s, %d entities (%s)", cell(app.Spec.Name), len(names), cell(strings.Join(names, ", "))))
				} else {
					row(w, "Spec:", "not planned yet")
				}
				row(w, "Description:", truncate(cell(strings.Join(strings.Fields(app.Description), " ")), 300))
			})
		},
	})
}

func (r *runner) appsUpdateCmd() *cobra.Command {
	var name, desc string
	cmd := r.leaf(command{
		use:   "update APP",
		short: "Rename an app or change its description",
		long: `Change an app's name or description. A new description takes effect when
a build plans the app again; 'kiln apps rebuild' builds the current spec.`,
		example: `  kiln apps update 12 --name library`,
		ops:     []string{"PATCH /v1/apps/{id}", "GET /v1/apps"},
		args:    []string{"APP"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			var upd kiln.AppUpdate
			if cmd.Flags().Changed("name") {
				upd.Name = &name
			}
			if cmd.Flags().Changed("description") {
				upd.Description = &desc
			}
			if upd.Name == nil && upd.Description == nil {
				return usageErrorf(cmd, "nothing to change: pass --name or --description")
			}
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			app, err := s.UpdateApp(ctx, id, upd)
			if err != nil {
				return err
			}
			return r.emit(cmd, app, func(w io.Writer) { fmt.Fprintf(w, "Updated app %d %q.\n", app.ID, safe(app.Name)) })
		},
	})
	cmd.Flags().StringVar(&name, "name", "", "the new name")
	cmd.Flags().StringVar(&desc, "description", "", "the new description")
	return cmd
}

func (r *runner) appsDeleteCmd() *cobra.Command {
	var yes bool
	cmd := r.leaf(command{
		use:   "delete APP",
		short: "Delete an app with its builds and artifacts",
		long: `Delete an app with all its builds, logs and artifacts. It asks for
confirmation on a terminal; pass --yes in scripts. An app with a running
build cannot be deleted: cancel the build first.`,
		example: `  kiln apps delete library --yes`,
		ops:     []string{"DELETE /v1/apps/{id}", "GET /v1/apps"},
		args:    []string{"APP"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			if !yes {
				if !r.isTerminal(cmd.InOrStdin()) {
					return usageErrorf(cmd, "refusing to delete app %d without confirmation: pass --yes", id)
				}
				answer, err := r.prompter(cmd).line(fmt.Sprintf("Delete app %d with all its builds and artifacts? [y/N] ", id))
				if err != nil {
					return err
				}
				if a := strings.ToLower(answer); a != "y" && a != "yes" {
					return errors.New("not deleted")
				}
			}
			if err := s.DeleteApp(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(out(cmd), "Deleted app %d.\n", id)
			return nil
		},
	})
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (r *runner) appsRebuildCmd() *cobra.Command {
	var wait, noCache bool
	cmd := r.leaf(command{
		use:   "rebuild APP",
		short: "Start a new build of an app from its current spec",
		long: `Queue a new build of the app from its current AppSpec (edit it with
'kiln apps spec set'). With --wait, follow the log and exit with the build's
outcome.`,
		example: `  kiln apps rebuild library --wait`,
		ops:     []string{"POST /v1/apps/{id}/builds", "GET /v1/apps", "GET /v1/builds/{id}/events", "GET /v1/builds/{id}"},
		args:    []string{"APP"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			b, err := s.CreateBuild(ctx, id, kiln.BuildCreate{NoCache: noCache}, newIdempotencyKey())
			if err != nil {
				return verifyHint(err)
			}
			if !wait {
				return r.emit(cmd, b, func(w io.Writer) {
					fmt.Fprintf(w, "Build %d (#%d) of app %d is %s.\n", b.ID, b.Number, id, b.Status)
				})
			}
			fmt.Fprintf(errw(cmd), "Following build %d (#%d)…\n", b.ID, b.Number)
			final, err := r.follow(ctx, cmd, s, b.ID, 0)
			if final != nil && r.output != "table" {
				if err := r.emit(cmd, final, nil); err != nil {
					return err
				}
			}
			return err
		},
	})
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "follow the build log and exit with the build's outcome")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "build everything even when an identical earlier build could be reused")
	return cmd
}

func (r *runner) specCmd() *cobra.Command {
	get := r.leaf(command{
		use:   "get APP",
		short: "Print an app's AppSpec (kiln.json)",
		long: `Print the app's current AppSpec as JSON (or YAML with -o yaml), ready to
edit and send back with 'kiln apps spec set'.`,
		example: `  kiln apps spec get library > kiln.json`,
		ops:     []string{"GET /v1/apps/{id}/spec", "GET /v1/apps"},
		args:    []string{"APP"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			spec, err := s.GetSpec(ctx, id)
			if err != nil {
				return err
			}
			if r.output == "yaml" {
				return writeYAML(out(cmd), spec)
			}
			return writeJSON(out(cmd), spec)
		},
	})
	set := r.leaf(command{
		use:   "set APP FILE",
		short: "Replace an app's AppSpec from a JSON file",
		long: `Replace the app's AppSpec with the JSON document in FILE (- reads stdin).
The server validates it and names every problem by path; the next build
('kiln apps rebuild') uses it.`,
		example: `  kiln apps spec set library kiln.json
  kiln apps spec get library | jq '.summary = "Books"' | kiln apps spec set library -`,
		ops:  []string{"PUT /v1/apps/{id}/spec", "GET /v1/apps"},
		args: []string{"APP", "FILE"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			spec, err := readSpec(cmd, args[1])
			if err != nil {
				return err
			}
			s, id, err := r.authedApp(ctx, cmd, args[0])
			if err != nil {
				return err
			}
			app, err := s.SetSpec(ctx, id, spec)
			if err != nil {
				return err
			}
			return r.emit(cmd, app, func(w io.Writer) {
				fmt.Fprintf(w, "Updated the spec of app %d %q; run 'kiln apps rebuild %d' to build it.\n", app.ID, safe(app.Name), app.ID)
			})
		},
	})
	return r.group("spec", "Read or replace an app's AppSpec",
		`The AppSpec (kiln.json) is what Kiln generates code from: entities, fields, relations and features.`, get, set)
}

// readSpec reads an AppSpec from a file or stdin ("-"), strictly: unknown
// fields are reported here rather than silently dropped.
func readSpec(cmd *cobra.Command, name string) (*kiln.AppSpec, error) {
	var rd io.Reader
	if name == "-" {
		rd = cmd.InOrStdin()
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read spec: %w", err)
		}
		defer f.Close()
		rd = f
	}
	data, err := io.ReadAll(io.LimitReader(rd, kiln.MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	if len(data) > kiln.MaxSpecBytes {
		return nil, fmt.Errorf("read spec %s: larger than %d bytes", name, kiln.MaxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var spec kiln.AppSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("read spec %s: %w", name, err)
	}
	return &spec, nil
}
