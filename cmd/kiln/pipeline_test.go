package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/pack"
)

// TestRealPipeline builds an app from a description with the standard
// pipeline (rules planner, go-api templates, sandboxed checks, source
// packaging) through the running server, and checks the downloaded source.
func TestRealPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a generated app; skipped with -short")
	}
	m := MustMain(t, "", t.TempDir(), []string{"api", "worker"}, nil)
	alice := MustUser(t, m, "alice@example.com")
	ctx := context.Background()
	_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title, due date, done)"})
	if err != nil {
		t.Fatal(err)
	}
	// The first build compiles the generated app's dependencies (modernc
	// SQLite) into a fresh build cache: about 40s on an idle 2-core
	// machine, much longer on a loaded one.
	var done *kiln.Build
	deadline := time.Now().Add(15 * time.Minute)
	for {
		got, _, err := alice.GetBuild(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Terminal() || time.Now().After(deadline) {
			done = got
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if done.Status != kiln.BuildSucceeded {
		page, _ := alice.Logs(ctx, b.ID, 0, 1000)
		for _, l := range page.Items {
			t.Logf("%s %s", l.Time.Format("15:04:05.000"), l.Text)
		}
		t.Fatalf("build %s: %s", done.Status, done.Error)
	}
	// The server warmed a seed build cache at start; this first build of a
	// new owner started from a copy of it.
	page, err := alice.Logs(ctx, b.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var seeded bool
	for _, l := range page.Items {
		seeded = seeded || strings.Contains(l.Text, "build cache: a copy of the server's warm cache")
	}
	if !seeded {
		t.Error("the first build did not start from the warm build cache")
	}
	arts, err := alice.ListArtifacts(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]*kiln.Artifact{}
	for _, a := range arts {
		kinds[a.Kind] = a
	}
	for _, k := range []string{kiln.ArtifactSourceTarGz, kiln.ArtifactSourceZip, kiln.ArtifactChecksums, kiln.ArtifactReport} {
		if kinds[k] == nil {
			t.Errorf("no %s artifact among %d", k, len(arts))
		}
	}
	var tgz bytes.Buffer
	if _, err := alice.DownloadArtifact(ctx, kinds[kiln.ArtifactSourceTarGz].ID, &tgz); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pack.ExtractTarGz(&tgz, dir, pack.Limits{}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, done.Spec.Name, "kiln.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec kiln.AppSpec
	if err := json.Unmarshal(raw, &spec); err != nil || spec.Hash() != done.Spec.Hash() {
		t.Fatalf("kiln.json in the archive is not the build's spec: %v", err)
	}
	if spec.Entity("task") == nil {
		t.Errorf("planned spec lacks the task entity: %s", raw)
	}
}
