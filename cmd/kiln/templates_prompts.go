package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/cli"
	"github.com/kiln-build/kiln/templates"
)

// showPrompts prints a set's prompt templates (kiln templates show --prompts).
func showPrompts(cmd *cobra.Command, format string, set *templates.Set) error {
	names, err := set.Prompts()
	if err != nil {
		return err
	}
	type prompt struct {
		Name     string `json:"name"`
		Path     string `json:"path"`
		Template string `json:"template"`
	}
	out := make([]prompt, 0, len(names))
	for _, n := range names {
		text, err := set.Prompt(n)
		if err != nil {
			return err
		}
		out = append(out, prompt{Name: n, Path: templates.PromptsDir + "/" + n + ".tmpl", Template: text})
	}
	if format != "table" {
		return cli.WriteDocument(cmd.OutOrStdout(), format, map[string]any{"name": set.Name, "version": set.Version, "prompts": out})
	}
	w := cmd.OutOrStdout()
	if len(out) == 0 {
		fmt.Fprintf(w, "template set %s has no prompts\n", set.Name)
		return nil
	}
	for i, p := range out {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "==> %s <==\n%s", p.Path, p.Template)
	}
	return nil
}
