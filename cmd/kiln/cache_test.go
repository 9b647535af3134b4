package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/blob"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/sqlstore"
)

// TestCacheMissingBlob deletes the blob of an artifact that a cache hit
// shares and rebuilds: the rebuild does not reuse the build, says why in
// its log, runs in full and its artifacts download; the build after it is
// a cache hit of that full build again.
func TestCacheMissingBlob(t *testing.T) {
	dataDir := t.TempDir()
	m := MustMain(t, "", dataDir, []string{"api", "worker"}, renderPipeline(t))
	alice := MustUser(t, m, "alice@example.com")
	ctx := context.Background()

	app, b1, err := alice.CreateApp(ctx, kiln.AppCreate{Description: libraryDescription})
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := waitBuildDone(t, alice, b1.ID, time.Minute)
	b2, err := alice.CreateBuild(ctx, app.ID, kiln.BuildCreate{})
	if err != nil {
		t.Fatal(err)
	}
	hit, _, log := waitBuildDone(t, alice, b2.ID, time.Minute)
	if hit.CachedFrom == nil || *hit.CachedFrom != first.ID {
		t.Fatalf("the rebuild was not a cache hit of build %d:\n%s", first.ID, log)
	}

	// The hit's artifacts point at the first build's blobs; remove one.
	arts, err := sqlstore.NewBuildWork(m.DB).FindBuildArtifacts(ctx, hit.ID)
	if err != nil || len(arts) == 0 {
		t.Fatalf("artifacts of build %d: %d, %v", hit.ID, len(arts), err)
	}
	var gone *kiln.Artifact
	for _, a := range arts {
		if a.Kind == kiln.ArtifactSourceTarGz {
			gone = a
		}
	}
	if gone == nil || !strings.HasPrefix(gone.Location, fmt.Sprintf("builds/%d/", first.ID)) {
		t.Fatalf("no source artifact sharing build %d's blob: %+v", first.ID, gone)
	}
	blobs, err := blob.NewLocal(filepath.Join(dataDir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	if err := blobs.Delete(ctx, gone.Location); err != nil {
		t.Fatal(err)
	}

	b3, err := alice.CreateBuild(ctx, app.ID, kiln.BuildCreate{})
	if err != nil {
		t.Fatal(err)
	}
	full, steps, log := waitBuildDone(t, alice, b3.ID, time.Minute)
	want := fmt.Sprintf("cache: build %d's artifact %s is missing; building from scratch\n", hit.ID, gone.Name)
	if !strings.Contains(log, want) || strings.Contains(log, "cache hit") {
		t.Errorf("the log does not say %q:\n%s", want, log)
	}
	if full.CachedFrom != nil {
		t.Errorf("build %d reused build %d, whose blob is gone", full.ID, *full.CachedFrom)
	}
	var rendered bool
	for _, s := range steps {
		rendered = rendered || s.Name == "render"
	}
	if !rendered {
		t.Errorf("the build after the missing blob did not render: %+v", steps)
	}
	fullArts := mustDownloadAll(t, alice, full.ID, len(arts))

	b4, err := alice.CreateBuild(ctx, app.ID, kiln.BuildCreate{})
	if err != nil {
		t.Fatal(err)
	}
	again, _, log := waitBuildDone(t, alice, b4.ID, time.Minute)
	if again.CachedFrom == nil || *again.CachedFrom != full.ID {
		t.Errorf("the next rebuild was not a cache hit of the full build %d:\n%s", full.ID, log)
	}
	againArts := mustDownloadAll(t, alice, again.ID, len(arts))
	for name, content := range fullArts {
		if !bytes.Equal(againArts[name], content) {
			t.Errorf("the cache hit's %s differs from the full build's", name)
		}
	}
}

// mustDownloadAll downloads every artifact of a build (the client checks
// each against its sha256) and returns their contents by name.
func mustDownloadAll(tb testing.TB, c *client.Client, buildID int64, want int) map[string][]byte {
	tb.Helper()
	arts, err := c.ListArtifacts(context.Background(), buildID)
	if err != nil {
		tb.Fatal(err)
	}
	if len(arts) != want {
		tb.Errorf("build %d has %d artifacts, want %d", buildID, len(arts), want)
	}
	out := map[string][]byte{}
	for _, a := range arts {
		var buf bytes.Buffer
		if _, err := c.DownloadArtifact(context.Background(), a.ID, &buf); err != nil {
			tb.Fatalf("download %s of build %d: %v", a.Name, buildID, err)
		}
		if int64(buf.Len()) != a.Size {
			tb.Errorf("%s of build %d: %d bytes, recorded %d", a.Name, buildID, buf.Len(), a.Size)
		}
		out[a.Name] = buf.Bytes()
	}
	return out
}
