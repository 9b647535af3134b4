package templates_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/templates"
)

// writeFiles writes files (slash paths → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOverlay(t *testing.T) {
	t.Parallel()
	base, err := templates.Embedded("go-api")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"set.json":           `{"name": "my-api", "version": "2.0.0", "description": "go-api, our README", "extends": "go-api"}`,
			"app/README.md.tmpl": "# {{.Title}}, our way\n",
			"app/docs/extra.md":  "more\n",
			"prompts/plan.tmpl":  "Plan {{.Description}}\n",
		})
		s, err := templates.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "my-api" || s.Version != "2.0.0" || s.Extends != "go-api" || s.Source != dir {
			t.Errorf("info = %+v", s.SetInfo)
		}
		files, _ := s.Files()
		baseFiles, _ := base.Files()
		for _, f := range baseFiles {
			if !slices.Contains(files, f) {
				t.Errorf("overlay lacks the base's %s", f)
			}
		}
		if !slices.Contains(files, "app/docs/extra.md") || len(files) != len(baseFiles)+1 {
			t.Errorf("overlay files = %v", files)
		}
		if b, _ := s.ReadFile("app/README.md.tmpl"); string(b) != "# {{.Title}}, our way\n" {
			t.Errorf("README template = %q, want the overlay's", b)
		}
		wantMain, _ := base.ReadFile("app/main.go.tmpl")
		if b, _ := s.ReadFile("app/main.go.tmpl"); string(b) != string(wantMain) {
			t.Error("main.go.tmpl does not come from the base")
		}
		if p, err := s.Prompt("plan"); err != nil || p != "Plan {{.Description}}\n" {
			t.Errorf("plan prompt = %q, %v", p, err)
		}
		if got := s.Where("app/README.md.tmpl"); got != filepath.Join(dir, "app", "README.md.tmpl") {
			t.Errorf("Where(overlay file) = %q", got)
		}
		if got := s.Where("app/main.go.tmpl"); got != "embedded:go-api/app/main.go.tmpl" {
			t.Errorf("Where(base file) = %q", got)
		}
		if got := base.Where("app/main.go.tmpl"); got != "embedded:go-api/app/main.go.tmpl" {
			t.Errorf("embedded Where = %q", got)
		}
	})
	bad := map[string]struct {
		files map[string]string
		want  string
	}{
		"UnknownBase":   {map[string]string{"set.json": `{"name": "x", "version": "1", "extends": "rails"}`}, `extends "rails", which is not an embedded set (there are: go-api)`},
		"FileOverDir":   {map[string]string{"set.json": `{"name": "x", "version": "1", "extends": "go-api"}`, "app/internal": "oops"}, "has a folder there"},
		"DirOverFile":   {map[string]string{"set.json": `{"name": "x", "version": "1", "extends": "go-api"}`, "app/go.sum/x": "oops"}, "has the file app/go.sum"},
		"ManifestTypo":  {map[string]string{"set.json": `{"name": "x", "version": "1", "extend": "go-api"}`}, `unknown field "extend"`},
		"OverlayNoVers": {map[string]string{"set.json": `{"name": "x", "extends": "go-api"}`}, "version is required"},
	}
	for name, tt := range bad {
		t.Run("Err"+name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			_, err := templates.Load(dir)
			if kiln.ErrorCode(err) != kiln.EInvalid || !strings.Contains(kiln.ErrorMessage(err), tt.want) {
				t.Errorf("Load error %v, want EInvalid with %q", err, tt.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	sets := t.TempDir()
	writeFiles(t, sets, map[string]string{
		"go-api/set.json":      `{"name": "go-api", "version": "9.9.9", "extends": "go-api"}`,
		"other/set.json":       `{"name": "other", "version": "1.0.0", "extends": "go-api"}`,
		"not-a-set/readme.txt": "hello",
	})
	single := t.TempDir()
	writeFiles(t, single, map[string]string{"set.json": `{"name": "solo", "version": "0.1.0", "extends": "go-api"}`})

	tests := []struct {
		name, dir, set, wantName, wantVersion string
	}{
		{"Embedded", "", "", "go-api", "1.0.0"},
		{"FolderOfSetsOverrides", sets, "", "go-api", "9.9.9"},
		{"FolderOfSetsByName", sets, "other", "other", "1.0.0"},
		{"SingleSetWins", single, "", "solo", "0.1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := templates.Resolve(tt.dir, tt.set)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != tt.wantName || s.Version != tt.wantVersion {
				t.Errorf("Resolve(%q, %q) = %s %s", tt.dir, tt.set, s.Name, s.Version)
			}
		})
	}
	t.Run("ErrMissingFolder", func(t *testing.T) {
		if _, err := templates.Resolve(filepath.Join(sets, "typo"), ""); kiln.ErrorCode(err) != kiln.EInvalid || !strings.Contains(err.Error(), "typo") {
			t.Errorf("Resolve error %v: a mistyped folder must not fall back to the embedded set", err)
		}
	})
	t.Run("ErrUnknownSet", func(t *testing.T) {
		if _, err := templates.Resolve(sets, "nope"); kiln.ErrorCode(err) != kiln.ENotFound {
			t.Errorf("Resolve error %v", err)
		}
	})
	t.Run("Available", func(t *testing.T) {
		got, err := templates.ListWith(sets)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Name != "go-api" || got[0].Version != "9.9.9" || got[1].Name != "other" || got[1].Source != filepath.Join(sets, "other") {
			t.Errorf("ListWith = %+v", got)
		}
		if _, err := templates.Find(sets, "nope"); kiln.ErrorCode(err) != kiln.ENotFound || !strings.Contains(err.Error(), "go-api, other") {
			t.Errorf("Find error %v", err)
		}
		if s, err := templates.Find(single, "solo"); err != nil || s.Source != single {
			t.Errorf("Find(single) = %v, %v", s, err)
		}
	})
}
