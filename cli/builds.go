package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// BuildError is returned by commands that follow a build which did not
// succeed; ExitCode maps it to ExitFailure.
type BuildError struct {
	Build *kiln.Build
}

// Error says how the build ended.
func (e *BuildError) Error() string {
	b := e.Build
	switch b.Status {
	case kiln.BuildCanceled:
		return fmt.Sprintf("build %d (#%d) was canceled", b.ID, b.Number)
	case kiln.BuildFailed:
		if b.Error != "" {
			return fmt.Sprintf("build %d (#%d) failed: %s", b.ID, b.Number, safe(b.Error))
		}
		return fmt.Sprintf("build %d (#%d) failed", b.ID, b.Number)
	}
	return fmt.Sprintf("build %d (#%d) ended %s", b.ID, b.Number, b.Status)
}

// follow prints a build's log lines after seq, following its event stream
// until the build ends (reconnecting and resuming as needed), then
// returns the final build, with a *BuildError unless it succeeded. Log
// lines go to stdout in table mode (as text) and json mode (one object per
// line); in yaml mode, and whenever a final document follows, to stderr.
func (r *runner) follow(ctx context.Context, cmd *cobra.Command, s *session, buildID, after int64) (*kiln.Build, error) {
	w := out(cmd)
	if cmd.Name() != "logs" && r.output != "table" {
		w = errw(cmd) // stdout carries the final document
	}
	print := r.lineWriter(cmd, w)
	opts := client.StreamOptions{After: after, OnReconnect: func(err error) {
		fmt.Fprintf(errw(cmd), "(connection to the server lost: %s; resuming…)\n", safe(err.Error()))
	}}
	_, err := s.FollowBuild(ctx, buildID, opts, func(e *kiln.BuildEvent) error {
		if l := e.LogLine(); l != nil {
			return print(l)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("stopped following build %d; it goes on on the server (stop it with: kiln builds cancel %d)", buildID, buildID)
		}
		return nil, err
	}
	b, _, err := s.GetBuild(ctx, buildID)
	if err != nil {
		return nil, err
	}
	if r.output == "table" {
		fmt.Fprintf(errw(cmd), "Build %d (#%d) %s in %s.\n", b.ID, b.Number, r.status(cmd, b.Status), duration(b.Duration(r.now())))
	}
	if b.Status != kiln.BuildSucceeded {
		return b, &BuildError{Build: b}
	}
	return b, nil
}

// lineWriter returns the function that prints one log line.
func (r *runner) lineWriter(cmd *cobra.Command, w io.Writer) func(*kiln.LogLine) error {
	color := r.colorOn(cmd)
	return func(l *kiln.LogLine) error {
		var err error
		switch r.output {
		case "json":
			var b []byte
			if b, err = json.Marshal(l); err == nil {
				_, err = fmt.Fprintf(w, "%s\n", b)
			}
		case "yaml":
			if _, err = fmt.Fprintln(w, "---"); err == nil {
				err = writeYAML(w, l)
			}
		default:
			prefix := ""
			switch l.Stream {
			case kiln.StreamSystem:
				prefix = "==> "
			case kiln.StreamStderr:
				if color {
					prefix = ansiRed + "!" + ansiReset + " "
				}
			}
			_, err = fmt.Fprintf(w, "%s %s%s\n", l.Time.Local().Format("15:04:05"), prefix, safe(l.Text))
		}
		if err != nil {
			return fmt.Errorf("print log: %w", err)
		}
		return nil
	}
}

func (r *runner) buildsCmd() *cobra.Command {
	return r.group("builds", "List, inspect, follow and cancel builds",
		`A build is one run of the pipeline for an app: plan, generate, validate, package.
BUILD is a build id, as shown by 'kiln builds list'.`,
		r.buildsListCmd(), r.buildsGetCmd(), r.buildsLogsCmd(), r.buildsCancelCmd(), r.buildsDiffCmd(), r.buildsEventsCmd(), r.buildsWatchCmd(),
	)
}

func (r *runner) buildsListCmd() *cobra.Command {
	var pf pageFlags
	var appArg, status string
	var all bool
	cmd := r.leaf(command{
		use:   "list",
		short: "List builds, newest first",
		long: `List your builds, newest first, optionally only one app's (--app, an id or
a name) or only those with one status (--status: queued, planning,
generating, validating, repairing, packaging, succeeded, failed, canceled).`,
		example: `  kiln builds list --app library
  kiln builds list --status failed -o json`,
		ops: []string{"GET /v1/builds", "GET /v1/apps/{id}/builds", "GET /v1/apps"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			p, err := pf.page(cmd)
			if err != nil {
				return err
			}
			st := kiln.BuildStatus(status)
			if st != "" && !st.Valid() {
				return usageErrorf(cmd, "invalid --status %q", status)
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			f := kiln.BuildFilter{Status: st, All: all, Page: p}
			if appArg != "" {
				if f.AppID, err = r.resolveApp(ctx, cmd, s, appArg); err != nil {
					return err
				}
			}
			builds, next, err := s.ListBuilds(ctx, f)
			if err != nil {
				return err
			}
			now := r.now()
			err = r.emit(cmd, map[string]any{"items": builds, "next_cursor": next}, func(w io.Writer) {
				row(w, "ID", "APP", "NUMBER", "STATUS", "STEP", "DURATION", "CREATED")
				for _, b := range builds {
					row(w, b.ID, b.AppID, fmt.Sprintf("#%d", b.Number), r.status(cmd, b.Status), cell(b.Step), duration(b.Duration(now)), ago(now, b.CreatedAt))
				}
			})
			if r.output == "table" {
				moreHint(cmd, next)
			}
			return err
		},
	})
	pf.register(cmd)
	cmd.Flags().StringVar(&appArg, "app", "", "only this app's builds (id or name)")
	cmd.Flags().StringVar(&status, "status", "", "only builds with this status")
	cmd.Flags().BoolVar(&all, "all", false, "everyone's builds (admins)")
	return cmd
}

func (r *runner) buildsGetCmd() *cobra.Command {
	return r.leaf(command{
		use:     "get BUILD",
		short:   "Show a build and its steps",
		long:    `Show a build's status, timing and error, and each step with its outcome.`,
		example: `  kiln builds get 42`,
		ops:     []string{"GET /v1/builds/{id}"},
		args:    []string{"BUILD"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedID(cmd, "BUILD", args[0])
			if err != nil {
				return err
			}
			d, err := s.GetBuildDetail(ctx, id)
			if err != nil {
				return err
			}
			b, steps := d.Build, d.Steps
			now := r.now()
			return r.emit(cmd, d, func(w io.Writer) {
				row(w, "Build:", fmt.Sprintf("%d (#%d of app %d)", b.ID, b.Number, b.AppID))
				row(w, "Status:", r.status(cmd, b.Status))
				if b.CancelRequested && !b.Status.Terminal() {
					row(w, "", "cancel requested")
				}
				row(w, "Created:", ago(now, b.CreatedAt))
				row(w, "Duration:", duration(b.Duration(now)))
				if b.Attempt > 1 {
					row(w, "Attempts:", b.Attempt)
				}
				if b.CachedFrom != nil {
					row(w, "Cache:", fmt.Sprintf("hit: reused the checked output and artifacts of build %d", *b.CachedFrom))
				}
				if b.Error != "" {
					row(w, "Error:", cell(b.Error))
				}
				if len(steps) > 0 {
					row(w)
					row(w, "STEP", "OUTCOME", "DURATION", "ERROR")
					for _, st := range steps {
						d := time.Duration(0)
						if st.FinishedAt != nil {
							d = st.FinishedAt.Sub(st.StartedAt)
						} else {
							d = now.Sub(st.StartedAt)
						}
						row(w, cell(st.Name), string(st.Outcome), duration(d), truncate(cell(st.Error), 80))
					}
				}
				writeUsage(w, d.LLMUsage)
			})
		},
	})
}

func (r *runner) buildsLogsCmd() *cobra.Command {
	var followFlag, text bool
	var after int64
	cmd := r.leaf(command{
		use:   "logs BUILD",
		short: "Print a build's log, or follow it with -f",
		long: `Print a build's log lines. With -f, keep following until the build ends
and exit with its outcome: 0 when it succeeded, 1 when it failed or was
canceled; the stream survives server restarts by reconnecting and resuming
after the last line it printed. -o json prints one JSON object per line.
--text prints the whole log as the server's plain-text download.`,
		example: `  kiln builds logs 42
  kiln builds logs -f 42
  kiln builds logs 42 --after 100 -o json
  kiln builds logs 42 --text > build-42.log`,
		ops:  []string{"GET /v1/builds/{id}/logs", "GET /v1/builds/{id}/events", "GET /v1/builds/{id}"},
		args: []string{"BUILD"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			id, err := parseID(cmd, "BUILD", args[0])
			if err != nil {
				return err
			}
			if after < 0 {
				return usageErrorf(cmd, "--after must not be negative")
			}
			if text && followFlag {
				return usageErrorf(cmd, "--text and --follow do not go together")
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			if text {
				if !r.isTerminal(out(cmd)) {
					return s.DownloadLog(ctx, id, after, out(cmd))
				}
				w := &safeLineWriter{w: out(cmd)}
				if err := s.DownloadLog(ctx, id, after, w); err != nil {
					return err
				}
				return w.Close()
			}
			if followFlag {
				_, err := r.follow(ctx, cmd, s, id, after)
				return err
			}
			print := r.lineWriter(cmd, out(cmd))
			const limit = 1000
			for {
				page, err := s.Logs(ctx, id, after, limit)
				if err != nil {
					return err
				}
				n := 0
				for _, l := range page.Items {
					if l.Seq <= after {
						continue // never print a line twice, whatever the server sends
					}
					if err := print(l); err != nil {
						return err
					}
					after, n = l.Seq, n+1
				}
				if n == 0 || len(page.Items) < limit {
					if !page.BuildStatus.Terminal() && r.output == "table" {
						fmt.Fprintf(errw(cmd), "Build %d is %s; follow it with: kiln builds logs -f %d\n", id, page.BuildStatus, id)
					}
					return nil
				}
			}
		},
	})
	cmd.Flags().BoolVarP(&followFlag, "follow", "f", false, "follow the log until the build ends; exit with its outcome")
	cmd.Flags().Int64Var(&after, "after", 0, "only lines after this sequence number")
	cmd.Flags().BoolVar(&text, "text", false, "print the whole log as plain text (TIME TEXT per line), as the server renders it")
	return cmd
}

func (r *runner) buildsCancelCmd() *cobra.Command {
	return r.leaf(command{
		use:   "cancel BUILD",
		short: "Cancel a queued or running build",
		long: `Ask a build to stop. A queued build is canceled at once; a running one
within seconds, when its worker stops the running step.`,
		example: `  kiln builds cancel 42`,
		ops:     []string{"POST /v1/builds/{id}/cancel"},
		args:    []string{"BUILD"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedID(cmd, "BUILD", args[0])
			if err != nil {
				return err
			}
			b, err := s.CancelBuild(ctx, id)
			if err != nil {
				return err
			}
			return r.emit(cmd, b, func(w io.Writer) {
				if b.Status.Terminal() {
					fmt.Fprintf(w, "Build %d is %s.\n", b.ID, r.status(cmd, b.Status))
				} else {
					fmt.Fprintf(w, "Cancel requested; build %d is %s and stops within seconds.\n", b.ID, r.status(cmd, b.Status))
				}
			})
		},
	})
}

func (r *runner) artifactsCmd() *cobra.Command {
	list := r.leaf(command{
		use:     "list BUILD",
		short:   "List a build's artifacts",
		long:    `List the files a build produced: source archives, OCI image, SBOM, checksums, validation report.`,
		example: `  kiln artifacts list 42`,
		ops:     []string{"GET /v1/builds/{id}/artifacts"},
		args:    []string{"BUILD"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedID(cmd, "BUILD", args[0])
			if err != nil {
				return err
			}
			arts, err := s.ListArtifacts(ctx, id)
			if err != nil {
				return err
			}
			return r.emit(cmd, map[string]any{"items": arts}, func(w io.Writer) {
				row(w, "ID", "KIND", "NAME", "SIZE", "SHA256")
				for _, a := range arts {
					row(w, a.ID, cell(a.Kind), cell(a.Name), size(a.Size), truncate(cell(a.SHA256), 13))
				}
			})
		},
	})

	var outPath string
	download := r.leaf(command{
		use:   "download ARTIFACT",
		short: "Download an artifact and verify its checksum",
		long: `Download an artifact by id (see 'kiln artifacts list') and verify its
SHA-256 against the server's. Without --out it is saved in the current
directory under the name the server gives; --out PATH names the file (or an
existing directory to save into), - writes to stdout. A download that fails
verification leaves no file behind.`,
		example: `  kiln artifacts download 7
  kiln artifacts download 7 --out app.tar.gz
  kiln artifacts download 7 --out - | tar tz`,
		ops:  []string{"GET /v1/artifacts/{id}/content"},
		args: []string{"ARTIFACT"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedID(cmd, "ARTIFACT", args[0])
			if err != nil {
				return err
			}
			if outPath == "-" {
				_, err := s.DownloadArtifact(ctx, id, out(cmd))
				return err
			}
			return r.downloadToFile(ctx, cmd, s, id, outPath)
		},
	})
	download.Flags().StringVar(&outPath, "out", "", "file or directory to write to; - for stdout (default: the server's file name)")
	return r.group("artifacts", "List and download build artifacts", `Artifacts are the files a build produced.`, list, download)
}

// downloadToFile downloads into a temporary file next to the target and
// renames it into place only after the checksum matched.
func (r *runner) downloadToFile(ctx context.Context, cmd *cobra.Command, s *session, id int64, outPath string) error {
	dir, target := ".", ""
	if outPath != "" {
		if fi, err := os.Stat(outPath); err == nil && fi.IsDir() {
			dir = outPath
		} else {
			dir, target = filepath.Dir(outPath), outPath
		}
	}
	tmp, err := os.CreateTemp(dir, ".kiln-download-*")
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	d, err := s.DownloadArtifact(ctx, id, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("download: %w", cerr)
	}
	if err != nil {
		return err
	}
	if target == "" {
		if d.Filename == "" {
			d.Filename = fmt.Sprintf("artifact-%d", id)
		}
		target = filepath.Join(dir, d.Filename)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	result := map[string]any{"path": target, "size": d.Size, "sha256": d.SHA256}
	return r.emit(cmd, result, func(w io.Writer) {
		fmt.Fprintf(w, "Saved %s (%s, sha256 %s verified).\n", target, size(d.Size), d.SHA256)
	})
}
