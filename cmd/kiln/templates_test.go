package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/cli"
	"github.com/kiln-build/kiln/templates"
)

func TestTemplatesCommands(t *testing.T) {
	t.Parallel()
	emb, err := templates.Embedded("go-api")
	if err != nil {
		t.Fatal(err)
	}
	embFiles, err := emb.All()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		stdout, stderr, code := kilnRun(t, "", "templates", "list")
		if code != 0 || !strings.Contains(stdout, "go-api") || !strings.Contains(stdout, "1.0.0") || !strings.Contains(stdout, "embedded") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
		stdout, _, _ = kilnRun(t, "", "templates", "list", "-o", "json")
		var doc struct {
			Items []struct{ Name, Version, Source string } `json:"items"`
		}
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Items) == 0 || doc.Items[0].Source != "embedded" {
			t.Errorf("-o json: %q, %v", stdout, err)
		}
	})

	t.Run("Show", func(t *testing.T) {
		t.Parallel()
		stdout, _, code := kilnRun(t, "", "templates", "show", "go-api")
		if code != 0 || !strings.Contains(stdout, "app/main.go.tmpl") || !strings.Contains(stdout, "prompts/plan.tmpl") {
			t.Errorf("exit %d\n%s", code, stdout)
		}
		stdout, _, code = kilnRun(t, "", "templates", "show", "go-api", "app/go.mod.tmpl")
		if code != 0 || stdout != string(embFiles["app/go.mod.tmpl"]) {
			t.Errorf("show FILE: exit %d, %q", code, stdout)
		}
		if _, stderr, code := kilnRun(t, "", "templates", "show", "go-api", "app/nope"); code != cli.ExitFailure || !strings.Contains(stderr, `no file "app/nope"`) {
			t.Errorf("missing file: exit %d, %q", code, stderr)
		}
		if _, stderr, code := kilnRun(t, "", "templates", "show", "rails"); code != cli.ExitFailure || !strings.Contains(stderr, `no template set "rails"`) {
			t.Errorf("missing set: exit %d, %q", code, stderr)
		}
		if _, _, code := kilnRun(t, "", "templates", "show"); code != cli.ExitUsage {
			t.Errorf("no NAME: exit %d", code)
		}
	})

	t.Run("ExportRoundTrip", func(t *testing.T) {
		t.Parallel()
		tmp := t.TempDir()
		dir := filepath.Join(tmp, "my-set")
		stdout, stderr, code := kilnRun(t, "", "templates", "export", "go-api", "--out", dir)
		if code != 0 || !strings.Contains(stdout, "Exported template set go-api 1.0.0") {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		got := MustReadTree(t, dir)
		if len(got) != len(embFiles) {
			t.Errorf("exported %d files, the set has %d", len(got), len(embFiles))
		}
		for p, b := range embFiles {
			if got[p] != string(b) {
				t.Errorf("exported %s differs from the embedded file", p)
			}
		}
		// Rendering with the exported set gives exactly what the embedded
		// set gives.
		a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
		if _, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", a, "--no-validate"); code != 0 {
			t.Fatal(stderr)
		}
		stdout, stderr, code = kilnRun(t, "", "generate", libraryDescription, "--out", b, "--no-validate", "--templates", dir)
		if code != 0 {
			t.Fatal(stderr)
		}
		if !strings.Contains(stdout, "template set go-api 1.0.0") {
			t.Errorf("generate does not name the set:\n%s", stdout)
		}
		ta, tb := MustReadTree(t, a), MustReadTree(t, b)
		if len(ta) != len(tb) {
			t.Errorf("%d files with the embedded set, %d with the exported one", len(ta), len(tb))
		}
		for p := range ta {
			if ta[p] != tb[p] {
				t.Errorf("%s differs between the embedded and the exported set", p)
			}
		}
		// Exporting the loaded copy again gives the same bytes.
		again := filepath.Join(tmp, "again")
		if _, stderr, code := kilnRun(t, "", "templates", "export", "go-api", "--templates", dir, "--out", again); code != 0 {
			t.Fatal(stderr)
		}
		ag := MustReadTree(t, again)
		for p := range got {
			if ag[p] != got[p] {
				t.Errorf("re-exported %s differs", p)
			}
		}
		// The target must be empty.
		if _, stderr, code := kilnRun(t, "", "templates", "export", "go-api", "--out", dir); code != cli.ExitFailure || !strings.Contains(stderr, "not empty") {
			t.Errorf("export over a set: exit %d, %q", code, stderr)
		}
		if _, _, code := kilnRun(t, "", "templates", "export", "go-api"); code != cli.ExitUsage {
			t.Errorf("export without --out: exit %d", code)
		}
	})

	t.Run("OverlayFromConfig", func(t *testing.T) {
		t.Parallel()
		tmp := t.TempDir()
		set := filepath.Join(tmp, "sets", "go-api")
		if err := os.MkdirAll(filepath.Join(set, "app"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(set, "set.json"), []byte(`{"name": "go-api", "version": "1.0.0-ours", "extends": "go-api"}`), 0o644)
		os.WriteFile(filepath.Join(set, "app", "README.md.tmpl"), []byte("# {{.Title}}: our README\n"), 0o644)
		cfgFile := filepath.Join(tmp, "kiln.yaml")
		os.WriteFile(cfgFile, []byte("templates: "+filepath.Join(tmp, "sets")+"\n"), 0o644)

		stdout, _, code := kilnRun(t, "", "templates", "list", "--config", cfgFile)
		if code != 0 || !strings.Contains(stdout, "1.0.0-ours") || !strings.Contains(stdout, "(extends go-api)") {
			t.Errorf("list with the templates setting: exit %d\n%s", code, stdout)
		}
		stdout, _, _ = kilnRun(t, "", "templates", "show", "go-api", "--config", cfgFile)
		if !strings.Contains(stdout, "app/README.md.tmpl\n") || !strings.Contains(stdout, "app/main.go.tmpl   (from go-api)") {
			t.Errorf("show does not mark where files come from:\n%s", stdout)
		}
		out := filepath.Join(tmp, "app")
		if _, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", out, "--no-validate", "--config", cfgFile); code != 0 {
			t.Fatal(stderr)
		}
		tree := MustReadTree(t, out)
		if tree["README.md"] != "# Library: our README\n" {
			t.Errorf("README.md = %q, want the overlay's", tree["README.md"])
		}
		if !strings.Contains(tree["main.go"], "go-api 1.0.0-ours") {
			t.Error("main.go does not come from the base set rendered as the overlay")
		}
	})

	t.Run("ErrBrokenSet", func(t *testing.T) {
		t.Parallel()
		set := t.TempDir()
		os.WriteFile(filepath.Join(set, "set.json"), []byte(`{"name": "mine", "version": "1", "extends": "go-api"}`), 0o644)
		os.MkdirAll(filepath.Join(set, "app"), 0o755)
		os.WriteFile(filepath.Join(set, "app", "README.md.tmpl"), []byte("# {{.Title}}\n{{range .Entities}}\n"), 0o644)
		_, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", filepath.Join(t.TempDir(), "x"), "--templates", set)
		want := filepath.Join(set, "app", "README.md.tmpl") + ":3: unexpected EOF"
		if code != cli.ExitFailure || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr %q; want an error naming %s", code, stderr, want)
		}
		if _, stderr, code := kilnRun(t, "", "templates", "list", "--templates", filepath.Join(set, "missing")); code != cli.ExitFailure || !strings.Contains(stderr, "missing") {
			t.Errorf("missing folder: exit %d, %q", code, stderr)
		}
	})
}
