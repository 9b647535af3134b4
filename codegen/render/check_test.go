package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/templates"
)

func TestSampleSpec(t *testing.T) {
	t.Parallel()
	if err := render.SampleSpec().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	t.Run("Embedded", func(t *testing.T) {
		t.Parallel()
		for _, info := range templates.List() {
			s, err := templates.Embedded(info.Name)
			if err != nil {
				t.Fatal(err)
			}
			if err := render.Check(s); err != nil {
				t.Errorf("embedded set %s: %v", info.Name, err)
			}
		}
	})
	// Each broken overlay must fail Check with an error naming the file
	// and the line.
	tests := map[string]struct {
		file, content string
		want          []string
	}{
		"ParseError":      {"app/notes.txt.tmpl", "line one\n{{.Name", []string{"app/notes.txt.tmpl:2:", "unclosed action"}},
		"UnknownFunction": {"app/README.md.tmpl", "# {{.Title}}\n\n{{pascl .Name}}\n", []string{"app/README.md.tmpl:3:", `function "pascl" not defined`}},
		"MissingVariable": {"app/x.txt.tmpl", "ok\nok\n{{.Colour}}\n", []string{"app/x.txt.tmpl:3:", "Colour"}},
		"EntityField":     {"app/__entity__.txt.tmpl", "{{.Entity.Colour}}", []string{"app/__entity__.txt.tmpl:1:", "Colour"}},
		"InvalidGo":       {"app/bad.go.tmpl", "package main\n\nfunc {{.Name}}( {\n", []string{"app/bad.go.tmpl produced invalid Go in bad.go"}},
		"PromptParse":     {"prompts/plan.tmpl", "Plan\n{{if .Description}}\n", []string{"prompts/plan.tmpl:", "unexpected EOF"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{
				"set.json": `{"name": "broken", "version": "0.0.1", "extends": "go-api"}`,
				tt.file:    tt.content,
			}
			for p, c := range files {
				full := filepath.Join(dir, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			set, err := templates.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = render.Check(set)
			if err == nil {
				t.Fatal("Check accepted a broken set")
			}
			for _, w := range append(tt.want, dir) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check error %q lacks %q", err, w)
				}
			}
		})
	}
}
