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

func TestEmbedded(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		s, err := templates.Embedded("go-api")
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "go-api" || s.Version == "" || s.Description == "" || s.Source != "embedded" {
			t.Errorf("set info = %+v", s.SetInfo)
		}
		files, err := s.Files()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"set.json", "app/go.mod.tmpl", "app/go.sum", "app/.gitignore.tmpl", "prompts/plan.tmpl"} {
			if !slices.Contains(files, want) {
				t.Errorf("embedded set lacks %s; has %v", want, files)
			}
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, name := range []string{"nope", "../templates", "go-api/app", ""} {
			if _, err := templates.Embedded(name); kiln.ErrorCode(err) != kiln.ENotFound {
				t.Errorf("Embedded(%q) error %v, want code %s", name, err, kiln.ENotFound)
			}
		}
	})
	t.Run("OpenDefault", func(t *testing.T) {
		s, err := templates.Open("")
		if err != nil || s.Name != templates.DefaultSet {
			t.Errorf("Open(\"\") = %v, %v", s, err)
		}
	})
}

func TestList(t *testing.T) {
	t.Parallel()
	got := templates.List()
	if len(got) == 0 || got[0].Name != "go-api" {
		t.Fatalf("List() = %+v, want go-api first", got)
	}
}

func TestPrompts(t *testing.T) {
	t.Parallel()
	s, err := templates.Embedded("go-api")
	if err != nil {
		t.Fatal(err)
	}
	names, err := s.Prompts()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"customize", "fix", "plan", "repair"}) {
		t.Errorf("Prompts() = %v", names)
	}
	t.Run("Plan", func(t *testing.T) {
		out, err := s.RenderPrompt("plan", map[string]any{
			"Description": "a library with books and loans",
			"FieldTypes":  []string{"string", "integer"},
			"MaxEntities": kiln.MaxEntities,
			"MaxFields":   kiln.MaxFields,
			"Features":    kiln.Features,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"a library with books and loans", "string, integer", "at most 50 entities", "analytics, search, ui"} {
			if !strings.Contains(out, want) {
				t.Errorf("plan prompt lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "{{") || strings.Contains(out, "Variables:") {
			t.Errorf("plan prompt leaks template text:\n%s", out)
		}
	})
	t.Run("Repair", func(t *testing.T) {
		out, err := s.RenderPrompt("repair", map[string]any{
			"Description": "a library", "Spec": "{}", "Check": "vet", "Command": "go vet ./...", "Output": "x.go:1: undefined: y",
			"Attempt": 2, "MaxAttempts": 3, "Previous": []string{"customize: edited x.go"}, "EditFormat": "FORMAT",
			"Files": []map[string]any{{"Path": "x.go", "Size": 9}}, "Sources": []map[string]any{{"Path": "x.go", "Content": "package x"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "undefined: y") || !strings.Contains(out, "attempt 2 of 3") || !strings.Contains(out, "- customize: edited x.go") || !strings.Contains(out, "Current content of x.go") {
			t.Errorf("repair prompt:\n%s", out)
		}
	})
	t.Run("Fix", func(t *testing.T) {
		out, err := s.RenderPrompt("fix", map[string]any{"Problem": "entities[0].name: is required", "Expect": "one AppSpec JSON object", "Attempt": 2})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "entities[0].name: is required") || !strings.Contains(out, "Answer again with one AppSpec JSON object") {
			t.Errorf("fix prompt:\n%s", out)
		}
	})
	t.Run("MissingVariable", func(t *testing.T) {
		if _, err := s.RenderPrompt("customize", map[string]any{"Spec": "{}"}); err == nil {
			t.Error("RenderPrompt accepted missing variables")
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := s.Prompt("../set"); kiln.ErrorCode(err) != kiln.ENotFound {
			t.Errorf("Prompt(../set) error %v", err)
		}
	})
}

// exportSet writes the embedded set to a folder, as `kiln templates export`
// does.
func exportSet(t *testing.T) string {
	t.Helper()
	s, err := templates.Embedded("go-api")
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range all {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		dir := exportSet(t)
		s, err := templates.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != "go-api" || s.Source != dir {
			t.Errorf("loaded %+v", s.SetInfo)
		}
		emb, _ := templates.Embedded("go-api")
		a, _ := emb.Files()
		b, _ := s.Files()
		if !slices.Equal(a, b) {
			t.Errorf("exported set lists %v, embedded %v", b, a)
		}
	})
	bad := map[string]func(t *testing.T, dir string){
		"NoManifest": func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "set.json")) },
		"BadManifest": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "set.json"), []byte(`{"name": "Bad Name!", "version": "1"}`), 0o644)
		},
		"NoVersion": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "set.json"), []byte(`{"name": "mine"}`), 0o644)
		},
		"NoApp": func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "app")) },
		"Symlink": func(t *testing.T, dir string) {
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "app", "passwd")); err != nil {
				t.Skip("no symlinks:", err)
			}
		},
		"TooLarge": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "app", "big.bin"), make([]byte, 5<<20), 0o644)
		},
	}
	for name, breakIt := range bad {
		t.Run(name, func(t *testing.T) {
			dir := exportSet(t)
			breakIt(t, dir)
			if _, err := templates.Load(dir); kiln.ErrorCode(err) != kiln.EInvalid {
				t.Errorf("Load error %v, want code %s", err, kiln.EInvalid)
			}
		})
	}
	t.Run("NotAFolder", func(t *testing.T) {
		if _, err := templates.Load(filepath.Join(t.TempDir(), "missing")); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Errorf("Load error %v", err)
		}
	})
}
