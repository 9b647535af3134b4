package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/cli"
	"github.com/kiln-build/kiln/codegen/plan"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/sandbox"
	"github.com/kiln-build/kiln/templates"
)

// kilnRun runs the real kiln root command with args and returns its
// stdout, stderr and exit status, as main would.
func kilnRun(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		errb.WriteString("Error: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), cli.ExitCode(err)
}

// MustReadTree returns every file under dir by slash-separated path.
func MustReadTree(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

const libraryDescription = "a library API with books (title, author, year) and loans"

func TestGenerate(t *testing.T) {
	t.Parallel()
	t.Run("NoValidate", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "library")
		stdout, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", dir, "--no-validate")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"entity book (title:string, author:string, year:integer)", "entity loan (", "rendered ", "Checks skipped", "Run it:  cd "} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		if strings.Contains(stdout, "==> vet") {
			t.Errorf("--no-validate ran the checks:\n%s", stdout)
		}
		// The folder holds exactly what rendering the planned spec gives.
		spec, err := plan.Rules{}.Plan(context.Background(), libraryDescription)
		if err != nil {
			t.Fatal(err)
		}
		set, err := templates.Open("")
		if err != nil {
			t.Fatal(err)
		}
		want, err := render.Render(set, spec)
		if err != nil {
			t.Fatal(err)
		}
		got := MustReadTree(t, dir)
		if len(got) != len(want) {
			t.Errorf("wrote %d files, rendering gives %d", len(got), len(want))
		}
		for p, content := range want {
			if got[p] != string(content) {
				t.Errorf("%s differs from the rendered file", p)
			}
		}
	})

	t.Run("SpecFile", func(t *testing.T) {
		t.Parallel()
		tmp := t.TempDir()
		spec := kiln.AppSpec{KilnSpec: 1, Name: "pantry", Entities: []kiln.Entity{{Name: "jar", Plural: "jars", Fields: []kiln.Field{{Name: "label", Type: kiln.FieldString, Required: true}}}}}
		raw, _ := json.Marshal(spec)
		specPath := filepath.Join(tmp, "kiln.json")
		if err := os.WriteFile(specPath, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(tmp, "out")
		stdout, stderr, code := kilnRun(t, "", "generate", "--spec", specPath, "--out", dir, "--no-validate", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		var res generateResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("-o json printed %q: %v", stdout, err)
		}
		if res.Spec == nil || res.Spec.Hash() != spec.Hash() || res.Out != dir || len(res.Files) == 0 {
			t.Errorf("result = %+v", res)
		}
		if !strings.Contains(stderr, "using the app's spec \"pantry\"") {
			t.Errorf("progress (on stderr with -o json) does not say the spec was used:\n%s", stderr)
		}
		kj, err := os.ReadFile(filepath.Join(dir, "kiln.json"))
		if err != nil {
			t.Fatal(err)
		}
		var written kiln.AppSpec
		if err := json.Unmarshal(kj, &written); err != nil || written.Hash() != spec.Hash() {
			t.Errorf("kiln.json is not the given spec: %s", kj)
		}

		// From stdin too.
		dir2 := filepath.Join(tmp, "out2")
		if _, stderr, code := kilnRun(t, string(raw), "generate", "--spec", "-", "--out", dir2, "--no-validate"); code != 0 {
			t.Fatalf("--spec -: exit %d: %s", code, stderr)
		}
	})

	t.Run("ErrSpecFile", func(t *testing.T) {
		t.Parallel()
		tmp := t.TempDir()
		tests := map[string]struct{ content, want string }{
			"UnknownField": {`{"kiln_spec":1,"name":"x","entities":[{"name":"a","plural":"as","fields":[{"name":"f","type":"string","colour":"red"}]}]}`, "entities[0].fields[0].colour"},
			"BadType":      {`{"kiln_spec":1,"name":"x","entities":[{"name":"a","plural":"as","fields":[{"name":"f","type":"blob"}]}]}`, "entities[0].fields[0].type"},
			"NotJSON":      {`{"kiln_spec":1,`, "not valid JSON"},
		}
		for name, tt := range tests {
			path := filepath.Join(tmp, name+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(tmp, "out-"+name)
			_, stderr, code := kilnRun(t, "", "generate", "--spec", path, "--out", out, "--no-validate")
			if code != cli.ExitFailure || !strings.Contains(stderr, "spec "+path+": ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("%s: exit %d, stderr %q; want 1 and an error naming %s and %s", name, code, stderr, path, tt.want)
			}
			if strings.Contains(stderr, "kiln error:") {
				t.Errorf("%s: internal error formatting shown to the user: %q", name, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s: an invalid spec still created %s", name, out)
			}
		}
		_, stderr, code := kilnRun(t, "", "generate", "--spec", filepath.Join(tmp, "missing.json"), "--out", filepath.Join(tmp, "o"))
		if code != cli.ExitFailure || !strings.Contains(stderr, "missing.json") {
			t.Errorf("missing spec file: exit %d, %q", code, stderr)
		}
	})

	t.Run("ErrPlan", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "x")
		stdout, stderr, code := kilnRun(t, "", "generate", "hello", "--out", dir, "--no-validate")
		if code != cli.ExitFailure || !strings.Contains(stdout, "==> plan") || !strings.Contains(stdout, "FAILED") || strings.Contains(stderr, "kiln error:") {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("a failed plan wrote %d files", len(entries))
		}
	})

	t.Run("ErrNotEmpty", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		keep := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", dir, "--no-validate")
		if code != cli.ExitFailure || !strings.Contains(stderr, "not empty") || !strings.Contains(stderr, "--force") {
			t.Fatalf("exit %d, %q", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "kiln.json")); err == nil {
			t.Fatal("wrote into a non-empty folder without --force")
		}
		if _, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", dir, "--no-validate", "--force"); code != 0 {
			t.Fatalf("--force: exit %d, %s", code, stderr)
		}
		if b, err := os.ReadFile(keep); err != nil || string(b) != "mine" {
			t.Errorf("--force lost a file it does not write: %q, %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "kiln.json")); err != nil {
			t.Error("--force did not write the app")
		}
		// A file where the folder should be.
		_, stderr, code = kilnRun(t, "", "generate", libraryDescription, "--out", keep, "--no-validate", "--force")
		if code != cli.ExitFailure || !strings.Contains(stderr, "not a folder") {
			t.Errorf("--out FILE: exit %d, %q", code, stderr)
		}
	})

	t.Run("ErrUsage", func(t *testing.T) {
		t.Parallel()
		tmp := t.TempDir()
		for _, args := range [][]string{
			{"generate", libraryDescription},
			{"generate", "--out", tmp},
			{"generate", libraryDescription, "--spec", "x.json", "--out", tmp},
			{"generate", "books", "loans", "--out", tmp},
			{"generate", libraryDescription, "--out", tmp, "-o", "xml"},
		} {
			if _, stderr, code := kilnRun(t, "", args...); code != cli.ExitUsage {
				t.Errorf("%q: exit %d, want %d: %s", args, code, cli.ExitUsage, stderr)
			}
		}
		if _, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", filepath.Join(tmp, "a"), "--sandbox", "sometimes"); code != cli.ExitFailure || !strings.Contains(stderr, "sandbox") {
			t.Errorf("--sandbox sometimes: exit %d, %q", code, stderr)
		}
	})
}

// TestGenerateChecks runs the checks for real, sandboxed as the settings
// say, on apps of a tiny template set with no dependencies (so they compile
// in seconds); TestRealPipeline checks a go-api app on the server.
func TestGenerateChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet, build and test; skipped with -short")
	}
	t.Parallel()
	tiny, err := filepath.Abs("testdata/tiny-set")
	if err != nil {
		t.Fatal(err)
	}
	_, bwrapWorks := sandbox.Detect()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "app")
		stdout, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", dir, "--templates", tiny)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"template set tiny 0.1.0", "==> download modules", "==> gofmt", "==> vet", "==> build", "==> test", "Checks passed: gofmt, vet, build, test"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		wantHow := "(UNSANDBOXED)"
		if bwrapWorks {
			wantHow = "(sandboxed with bubblewrap)"
		}
		if !strings.Contains(stdout, wantHow) {
			t.Errorf("output does not say %s:\n%s", wantHow, stdout)
		}
	})

	t.Run("SandboxNone", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "app")
		stdout, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", dir, "--templates", tiny, "--sandbox", "none", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		var res generateResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		if res.Report == nil || !res.Report.Passed || res.Report.Sandboxed || len(res.Report.Checks) != 4 {
			t.Errorf("report = %+v", res.Report)
		}
		if !strings.Contains(stderr, "UNSANDBOXED") {
			t.Errorf("an unsandboxed run does not say so:\n%s", stderr)
		}
	})

	t.Run("ErrCheckFails", func(t *testing.T) {
		t.Parallel()
		// The tiny set plus a test that fails.
		set := t.TempDir()
		files := MustReadTree(t, tiny)
		files["app/fail_test.go.tmpl"] = "package {{.Name}}\n\nimport \"testing\"\n\nfunc TestFails(t *testing.T) { t.Fatal(\"this generated test fails on purpose\") }\n"
		for p, c := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(set, p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(set, p), []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dir := filepath.Join(t.TempDir(), "app")
		stdout, stderr, code := kilnRun(t, "", "generate", libraryDescription, "--out", dir, "--templates", set)
		if code != cli.ExitFailure {
			t.Fatalf("exit %d, want %d when a check fails\n%s%s", code, cli.ExitFailure, stdout, stderr)
		}
		if !strings.Contains(stdout, "this generated test fails on purpose") {
			t.Errorf("the failing test's output is not shown:\n%s", stdout)
		}
		if !strings.Contains(stderr, "go test -count=1 ./... failed") || !strings.Contains(stderr, dir) {
			t.Errorf("error %q does not name the check and the app's folder", stderr)
		}
		if strings.Contains(stdout, "Checks passed") {
			t.Errorf("claims success:\n%s", stdout)
		}
	})
}
