package main

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cli"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/templates"
)

// templateFlags registers --config and --templates on a templates
// subcommand; the templates setting (KILN_TEMPLATES, kiln.yaml) applies too.
func templateFlags(cmd *cobra.Command) *serverFlags {
	sf := &serverFlags{set: cmd.Flags()}
	cmd.Flags().StringVar(&sf.file, "config", "", "config file (default ./kiln.yaml when present)")
	cmd.Flags().String("templates", "", "folder holding a template set, or sets by name, next to the embedded ones (default: the templates setting)")
	return sf
}

// templatesDir returns the override folder the settings name ("" for none).
func (sf *serverFlags) templatesDir() (string, error) {
	cfg, err := sf.load()
	if err != nil {
		return "", err
	}
	return cfg.Templates, nil
}

func newTemplatesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "List, show and export template sets (the files apps are generated from)",
		Long: `A template set turns an AppSpec into the files of an app. Kiln embeds the set
go-api; a folder named by --templates (or the templates setting,
KILN_TEMPLATES) adds sets or replaces embedded ones, and may extend an
embedded set, replacing only some of its files. docs/TEMPLATES.md explains
how to write one.`,
		Example: `  kiln templates list
  kiln templates show go-api app/main.go.tmpl
  kiln templates export go-api --out my-set
  kiln generate "books and loans" --out library --templates my-set`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newTemplatesListCmd(), newTemplatesShowCmd(), newTemplatesExportCmd())
	return cmd
}

func newTemplatesListCmd() *cobra.Command {
	var sf *serverFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the template sets: embedded ones and those in the templates folder",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := cli.OutputFormat(cmd)
			if err != nil {
				return err
			}
			dir, err := sf.templatesDir()
			if err != nil {
				return err
			}
			sets, err := templates.Available(dir)
			if err != nil {
				return localError("", err)
			}
			type setRow struct {
				templates.SetInfo
				Source string `json:"source"`
			}
			rows := make([]setRow, len(sets))
			for i, s := range sets {
				rows[i] = setRow{SetInfo: s.SetInfo, Source: s.Source}
			}
			if format != "table" {
				return cli.WriteDocument(cmd.OutOrStdout(), format, map[string]any{"items": rows})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tSOURCE\tDESCRIPTION")
			for _, r := range rows {
				src := r.Source
				if r.Extends != "" {
					src += " (extends " + r.Extends + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Version, src, printable(r.Description))
			}
			return tw.Flush()
		},
	}
	sf = templateFlags(cmd)
	return cmd
}

func newTemplatesShowCmd() *cobra.Command {
	var sf *serverFlags
	var prompts bool
	cmd := &cobra.Command{
		Use:   "show NAME [FILE]",
		Short: "Show a template set and its files, or print one file",
		Long: `Without FILE, show the set's manifest and list its files (an overlay's files
that come from the set it extends are marked). With FILE, a path inside the
set such as app/main.go.tmpl or prompts/plan.tmpl, print that file as it is.
With --prompts, print every prompt template the LLM steps use, each starting
with the comment that lists its variables (see docs/LLM.md).`,
		Example: `  kiln templates show go-api
  kiln templates show go-api app/internal/api/__entity___api.go.tmpl
  kiln templates show go-api --prompts`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cli.UsageErrorf(cmd, "%s: want NAME and optionally FILE", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := cli.OutputFormat(cmd)
			if err != nil {
				return err
			}
			dir, err := sf.templatesDir()
			if err != nil {
				return err
			}
			set, err := templates.Find(dir, args[0])
			if err != nil {
				return localError("", err)
			}
			if prompts {
				return showPrompts(cmd, format, set)
			}
			if len(args) == 2 {
				b, err := set.ReadFile(args[1])
				if err != nil {
					return fmt.Errorf("template set %s has no file %q (see 'kiln templates show %s')", set.Name, args[1], set.Name)
				}
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			files, err := set.Files()
			if err != nil {
				return err
			}
			type fileRow struct {
				Path string `json:"path"`
				From string `json:"from"`
			}
			rows := make([]fileRow, len(files))
			for i, f := range files {
				rows[i] = fileRow{Path: f, From: set.Where(f)}
			}
			if format != "table" {
				return cli.WriteDocument(cmd.OutOrStdout(), format, map[string]any{
					"name": set.Name, "version": set.Version, "description": set.Description,
					"extends": set.Extends, "source": set.Source, "files": rows,
				})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Name:        %s\nVersion:     %s\nSource:      %s\n", set.Name, set.Version, set.Source)
			if set.Extends != "" {
				fmt.Fprintf(w, "Extends:     %s\n", set.Extends)
			}
			fmt.Fprintf(w, "Description: %s\n\nFiles:\n", printable(set.Description))
			for _, r := range rows {
				note := ""
				if set.Extends != "" && r.From != filepath.Join(set.Source, filepath.FromSlash(r.Path)) {
					note = "   (from " + set.Extends + ")"
				}
				fmt.Fprintf(w, "  %s%s\n", r.Path, note)
			}
			return nil
		},
	}
	sf = templateFlags(cmd)
	cmd.Flags().BoolVar(&prompts, "prompts", false, "print the set's LLM prompt templates")
	return cmd
}

func newTemplatesExportCmd() *cobra.Command {
	var sf *serverFlags
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "export NAME --out DIR",
		Short: "Write a template set's files to a folder, to edit and use with --templates",
		Long: `Write every file of a template set to DIR, byte for byte, so that you can edit
it and render with it: 'kiln generate --templates DIR', or 'kiln serve
--templates DIR' (or templates: DIR in kiln.yaml) for the server. Give the
copy its own name and version in set.json once you change it; the version
is part of each build's provenance and cache key.

DIR must be missing or empty unless --force is given.`,
		Example: `  kiln templates export go-api --out my-set`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.UsageErrorf(cmd, "%s: want the NAME of one set", cmd.CommandPath())
			}
			if out == "" {
				return cli.UsageErrorf(cmd, "%s: --out DIR is required", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := sf.templatesDir()
			if err != nil {
				return err
			}
			set, err := templates.Find(dir, args[0])
			if err != nil {
				return localError("", err)
			}
			all, err := set.All()
			if err != nil {
				return err
			}
			target, err := prepareOutDir(out, force)
			if err != nil {
				return err
			}
			if err := render.WriteDir(render.Files(all), target); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Exported template set %s %s (%d files) to %s.\nUse it with: kiln generate \"…\" --out APP --templates %s\n",
				set.Name, set.Version, len(all), target, out)
			return nil
		},
	}
	sf = templateFlags(cmd)
	cmd.Flags().StringVar(&out, "out", "", "folder to write the set to (required)")
	cmd.Flags().BoolVar(&force, "force", false, "write into a folder that is not empty")
	return cmd
}
