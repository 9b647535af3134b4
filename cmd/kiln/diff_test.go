package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/plan"
)

// renderPipeline is the real generation pipeline without the checks: plan,
// render, package the source. Enough to compare what builds generated.
func renderPipeline(tb testing.TB) kiln.Pipeline {
	tb.Helper()
	p, err := codegen.New(codegen.Config{WorkDir: tb.TempDir(), Planner: plan.Rules{}, Packager: codegen.SourcePackager{}})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestBuildsDiff changes an app's spec between two real builds (PUT
// /v1/apps/{id}/spec, then a rebuild) and checks the diff of the generated
// files through the client and the CLI.
//
// It is not parallel: the CLI part sets KILN_TOKEN in the environment.
func TestBuildsDiff(t *testing.T) {
	dataDir := t.TempDir()
	m := MustMain(t, "", dataDir, []string{"api", "worker"}, renderPipeline(t))
	alice := MustUser(t, m, "alice@example.com")
	ctx := context.Background()

	app, b1, err := alice.CreateApp(ctx, kiln.AppCreate{Description: libraryDescription})
	if err != nil {
		t.Fatal(err)
	}
	if done := waitStatus(t, alice, b1.ID, time.Minute, kiln.BuildStatus.Terminal); done.Status != kiln.BuildSucceeded {
		t.Fatalf("build 1 %s: %s", done.Status, done.Error)
	}
	spec, err := alice.GetSpec(ctx, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	book := spec.Entity("book")
	if book == nil {
		t.Fatalf("no book entity in %+v", spec)
	}
	book.Fields = append(book.Fields, kiln.Field{Name: "isbn", Type: kiln.FieldString, Unique: true})
	if _, err := alice.SetSpec(ctx, app.ID, spec); err != nil {
		t.Fatal(err)
	}
	b2, err := alice.CreateBuild(ctx, app.ID, kiln.BuildCreate{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if done := waitStatus(t, alice, b2.ID, time.Minute, kiln.BuildStatus.Terminal); done.Status != kiln.BuildSucceeded {
		t.Fatalf("build 2 %s: %s", done.Status, done.Error)
	}

	t.Run("Client", func(t *testing.T) {
		d, err := alice.DiffBuilds(ctx, b2.ID, b1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.BuildID != b2.ID || d.Against != b1.ID || d.Truncated {
			t.Errorf("diff header = %d against %d, truncated %v", d.BuildID, d.Against, d.Truncated)
		}
		var paths []string
		for _, f := range d.Files {
			paths = append(paths, f.Path)
			if f.Change != kiln.FileModified || f.Added == 0 {
				t.Errorf("%+v", f)
			}
		}
		for _, want := range []string{"kiln.json", "internal/api/book_api.go", "internal/store/book_store.go", "internal/store/migrations/0001_init.sql"} {
			if !slices.Contains(paths, want) {
				t.Errorf("changed files %v lack %s", paths, want)
			}
		}
		for _, p := range paths {
			if strings.Contains(p, "loan") {
				t.Errorf("%s changed, but only the book entity did", p)
			}
		}
		for _, want := range []string{"diff --git a/kiln.json b/kiln.json", "+          \"name\": \"isbn\",", "+    \"isbn\" TEXT"} {
			if !strings.Contains(d.Diff, want) {
				t.Errorf("diff lacks %q", want)
			}
		}
		if !strings.Contains(strings.ToLower(d.Diff), "\n+\tisbn ") {
			t.Error("the diff does not add the Go struct field for isbn")
		}
		if strings.Contains(d.Diff, "library/") {
			t.Error("paths in the diff carry the archive's top folder")
		}
		// Build 1 against itself: nothing.
		if same, err := alice.DiffBuilds(ctx, b1.ID, b1.ID); err != nil || len(same.Files) != 0 || same.Diff != "" {
			t.Errorf("a build against itself: %+v, %v", same, err)
		}
	})

	t.Run("CLI", func(t *testing.T) {
		_, secret, err := alice.CreateToken(ctx, "diff-cli", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("KILN_TOKEN", secret)
		t.Setenv("KILN_CONFIG_DIR", t.TempDir())
		stdout, stderr, code := kilnRun(t, "", "builds", "diff", itoa(b1.ID), itoa(b2.ID), "--server", m.URL())
		if code != 0 || !strings.Contains(stdout, "+++ b/internal/store/book_store.go") || !strings.Contains(stderr, "files changed") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})

	t.Run("ErrOtherUser", func(t *testing.T) {
		bob := MustUser(t, m, "bob@example.com")
		for _, pair := range [][2]int64{{b2.ID, b1.ID}, {b1.ID, b1.ID}} {
			if _, err := bob.DiffBuilds(ctx, pair[0], pair[1]); kiln.ErrorCode(err) != kiln.ENotFound {
				t.Errorf("bob diffing alice's builds: %v, want not found", err)
			}
		}
		// Bob's own build against Alice's: still not found.
		_, bb, err := bob.CreateApp(ctx, kiln.AppCreate{Description: libraryDescription})
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, bob, bb.ID, time.Minute, kiln.BuildStatus.Terminal)
		if _, err := bob.DiffBuilds(ctx, bb.ID, b1.ID); kiln.ErrorCode(err) != kiln.ENotFound {
			t.Errorf("bob's build against alice's: %v, want not found", err)
		}
	})

	t.Run("ErrMissingArchive", func(t *testing.T) {
		// A failed build has no source archive.
		_, bf, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "hello"})
		if err != nil {
			t.Fatal(err)
		}
		if done := waitStatus(t, alice, bf.ID, time.Minute, kiln.BuildStatus.Terminal); done.Status != kiln.BuildFailed {
			t.Fatalf("build of %q %s, want failed", "hello", done.Status)
		}
		_, err = alice.DiffBuilds(ctx, bf.ID, b1.ID)
		if kiln.ErrorCode(err) != kiln.EConflict || !strings.Contains(err.Error(), "failed before its source was packaged") {
			t.Errorf("diff with a failed build: %v", err)
		}
		// An archive gone from the store.
		removed := 0
		filepath.WalkDir(filepath.Join(dataDir, "artifacts"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(p), "/builds/"+itoa(b1.ID)+"/") && strings.HasSuffix(p, ".tar.gz") {
				if os.Remove(p) == nil {
					removed++
				}
			}
			return nil
		})
		if removed == 0 {
			t.Skip("could not find build 1's archive in the store")
		}
		_, err = alice.DiffBuilds(ctx, b2.ID, b1.ID)
		if kiln.ErrorCode(err) != kiln.EConflict || !strings.Contains(err.Error(), "missing from the artifact store") {
			t.Errorf("diff with a missing archive: %v", err)
		}
	})
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
