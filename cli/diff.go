package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

func (r *runner) buildsDiffCmd() *cobra.Command {
	var stat bool
	cmd := r.leaf(command{
		use:   "diff A B",
		short: "Show what changed in the generated files from build A to build B",
		long: `Print a unified diff (git style) of the files build A generated to those build
B generated, for example after changing the app's spec ('kiln apps spec set')
and rebuilding. Both builds must be yours and must have succeeded: the diff is
read from their stored source archives. --stat lists the changed files with
their added and removed lines instead. With -o json the result is
{build_id, against, files, diff, truncated}.`,
		example: `  kiln builds diff 41 42
  kiln builds diff 41 42 --stat
  kiln builds diff 41 42 | git apply --directory=library   # bring a copy up to date`,
		ops:  []string{"GET /v1/builds/{id}/diff"},
		args: []string{"A", "B"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			from, err := parseID(cmd, "A", args[0])
			if err != nil {
				return err
			}
			to, err := parseID(cmd, "B", args[1])
			if err != nil {
				return err
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			d, err := s.DiffBuilds(ctx, to, from)
			if err != nil {
				return err
			}
			if r.output != "table" {
				return r.emit(cmd, d, nil)
			}
			added, removed := 0, 0
			for _, f := range d.Files {
				added += f.Added
				removed += f.Removed
			}
			if stat {
				err = r.emit(cmd, d, func(w io.Writer) {
					row(w, "FILE", "CHANGE", "ADDED", "REMOVED")
					for _, f := range d.Files {
						change := f.Change
						if f.Binary {
							change += " (binary)"
						}
						row(w, cell(f.Path), change, fmt.Sprintf("+%d", f.Added), fmt.Sprintf("-%d", f.Removed))
					}
				})
			} else {
				// Not through the table writer: diff lines hold tabs.
				err = writeDiff(out(cmd), d.Diff, r.isTerminal(out(cmd)), r.colorOn(cmd))
			}
			if err != nil {
				return err
			}
			if len(d.Files) == 0 {
				fmt.Fprintf(errw(cmd), "Builds %d and %d generated identical files.\n", from, to)
			} else {
				files := "files"
				if len(d.Files) == 1 {
					files = "file"
				}
				fmt.Fprintf(errw(cmd), "%d %s changed, +%d -%d lines (build %d → build %d).\n", len(d.Files), files, added, removed, from, to)
			}
			if d.Truncated && !stat {
				fmt.Fprintln(errw(cmd), "The diff was cut at the server's size limit; --stat lists every changed file.")
			}
			return nil
		},
	})
	cmd.Flags().BoolVar(&stat, "stat", false, "list the changed files with line counts instead of the diff")
	return cmd
}

// writeDiff prints a unified diff, colored like git's when color is on.
// On a terminal, control characters from file contents are shown as '?';
// into a pipe the diff goes byte for byte, so that it applies.
func writeDiff(w io.Writer, diff string, terminal, color bool) error {
	if !terminal {
		if _, err := io.WriteString(w, diff); err != nil {
			return fmt.Errorf("print diff: %w", err)
		}
		return nil
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(diff, "\n") {
		if line == "" {
			continue
		}
		text := strings.TrimSuffix(line, "\n")
		text = strings.Map(func(c rune) rune {
			if c < 0x20 && c != '\t' || c == 0x7f || c >= 0x80 && c < 0xa0 {
				return '?'
			}
			return c
		}, text)
		if color {
			switch {
			case strings.HasPrefix(text, "diff --git"), strings.HasPrefix(text, "--- "), strings.HasPrefix(text, "+++ "):
				text = "\x1b[1m" + text + ansiReset
			case strings.HasPrefix(text, "@@"):
				text = ansiCyan + text + ansiReset
			case strings.HasPrefix(text, "+"):
				text = ansiGreen + text + ansiReset
			case strings.HasPrefix(text, "-"):
				text = ansiRed + text + ansiReset
			}
		}
		b.WriteString(text)
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("print diff: %w", err)
	}
	return nil
}
