package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
)

func (r *runner) appsPlanCmd() *cobra.Command {
	return r.leaf(command{
		use:   "plan DESCRIPTION",
		short: "Preview the AppSpec a description plans into, without building",
		long: `Ask the server's planner what app a description describes and print the
AppSpec (entities, fields, relations) it would build, creating nothing. The
table output summarises it; -o json prints kiln.json, ready to edit and pass
to 'kiln apps create --spec'. DESCRIPTION - reads stdin.`,
		example: `  kiln apps plan "a library with books (title, author, year) and loans"
  kiln apps plan -o json "a todo app with tasks (title, done)" > kiln.json`,
		ops:  []string{"POST /v1/plan"},
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
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			spec, err := s.Plan(ctx, desc)
			if err != nil {
				return err
			}
			return r.emit(cmd, spec, func(w io.Writer) {
				fmt.Fprintf(w, "App %s", safe(spec.Name))
				if spec.Summary != "" {
					fmt.Fprintf(w, ": %s", safe(spec.Summary))
				}
				fmt.Fprintln(w)
				for _, e := range spec.Entities {
					fields := make([]string, len(e.Fields))
					for i, f := range e.Fields {
						fields[i] = f.Name + " " + string(f.Type)
						if f.Required {
							fields[i] += " required"
						}
						if f.Unique {
							fields[i] += " unique"
						}
					}
					fmt.Fprintf(w, "  %s (%s): %s\n", safe(e.Name), safe(e.Plural), safe(strings.Join(fields, ", ")))
				}
				for _, rel := range spec.Relations {
					fmt.Fprintf(w, "  %s belongs to %s (%s)\n", safe(rel.From), safe(rel.To), safe(rel.Field))
				}
			})
		},
	})
}
