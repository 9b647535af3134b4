package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/templates"
)

// exportSet copies the embedded go-api set to a folder and writes extra
// files into it (path relative to the set → content).
func exportSet(t *testing.T, extra map[string]string) string {
	t.Helper()
	s, err := templates.Embedded("go-api")
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	files := render.Files(all)
	for p, c := range extra {
		files[p] = []byte(c)
	}
	dir := t.TempDir()
	if err := render.WriteDir(files, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRenderFromFolder(t *testing.T) {
	t.Parallel()
	dir := exportSet(t, map[string]string{
		"app/README.md.tmpl":          "# {{.Title}}, our way\n",
		"app/docs/__entity__.md.tmpl": "{{.Entity.Label}}:{{range .Entity.Fields}} {{.Name}}{{end}}\n",
		"app/maybe.txt.tmpl":          "{{if .Search}}search is on{{end}}\n",
		"app/bin/__name__.sh":         "#!/bin/sh\n{{not a template}}\n",
		"prompts/plan.tmpl":           "Plan {{.Description}}\n",
		"set.json":                    `{"name": "go-api-custom", "version": "1.0.0-custom"}`,
	})
	set, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Render(set, librarySpec())
	if err != nil {
		t.Fatal(err)
	}
	embedded := MustRender(t, librarySpec())
	checks := map[string]string{
		"README.md":      "# Library, our way\n",
		"docs/book.md":   "Book: title year price author_id\n",
		"docs/loan.md":   "Loan: borrower due_on returned book_id\n",
		"bin/library.sh": "#!/bin/sh\n{{not a template}}\n",
	}
	for p, want := range checks {
		if got := string(files[p]); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	if _, ok := files["maybe.txt"]; ok {
		t.Error("a template that rendered only white space produced a file")
	}
	if string(files["main.go"]) == string(embedded["main.go"]) {
		t.Error("main.go does not mention the custom set's version")
	}
	if !strings.Contains(string(files["main.go"]), "go-api-custom 1.0.0-custom") {
		t.Errorf("main.go does not name the set it came from")
	}
}

func TestRenderBrokenSet(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		file, content, wantErr string
	}{
		"InvalidGo":   {"app/bad.go.tmpl", "package main\n\nfunc {{.Name}}( {\n", "invalid Go"},
		"ParseError":  {"app/x.txt.tmpl", "{{.Name", "parse template"},
		"MissingData": {"app/x.txt.tmpl", "{{.NoSuchVariable}}", "execute"},
		"Runaway":     {"app/x.txt.tmpl", `{{range $i, $e := .Entities}}{{range $.Entities}}{{range $.Entities}}{{printf "%9999999d" 1}}{{end}}{{end}}{{end}}`, "larger than"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			set, err := templates.Load(exportSet(t, map[string]string{tt.file: tt.content}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = render.Render(set, librarySpec())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Render error %v, want one about %q", err, tt.wantErr)
			}
			if kiln.ErrorCode(err) != kiln.EInternal {
				t.Errorf("a broken set is the set's fault, not the spec's: code %q", kiln.ErrorCode(err))
			}
		})
	}
}

func TestRenderWriteDirRoundTrip(t *testing.T) {
	t.Parallel()
	files := MustRender(t, richSpec())
	dir := t.TempDir()
	if err := render.WriteDir(files, dir); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if string(b) != string(files[filepath.ToSlash(rel)]) {
			t.Errorf("%s differs after writing", rel)
		}
		return err
	})
	if err != nil || n != len(files) {
		t.Errorf("wrote %d files of %d: %v", n, len(files), err)
	}
}

func TestRenderDuplicateDeclaration(t *testing.T) {
	t.Parallel()
	set, err := templates.Load(exportSet(t, map[string]string{
		"app/internal/store/extra_store.go.tmpl": "package store\n\n// {{.Title}}\ntype {{(index .Entities 0).Type}} struct{}\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = render.Render(set, librarySpec())
	if kiln.ErrorCode(err) != kiln.EInvalid || !strings.Contains(kiln.ErrorMessage(err), "Author is declared twice in package internal/store") {
		t.Fatalf("Render error %v, want an EInvalid naming the duplicate", err)
	}
}
