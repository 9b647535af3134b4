package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
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
	for _, k := range []string{kiln.ArtifactSourceTarGz, kiln.ArtifactSourceZip, kiln.ArtifactOCIImage, kiln.ArtifactSBOM,
		kiln.ArtifactProvenance, kiln.ArtifactChecksums, kiln.ArtifactReport} {
		if kinds[k] == nil {
			t.Fatalf("no %s artifact among %d", k, len(arts))
		}
	}
	requirePackaged(t, alice, done, arts)
	requireCacheHit(t, alice, done, arts)
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

// waitBuildDone waits for a build to end and returns it with its steps
// and log.
func waitBuildDone(t *testing.T, c *client.Client, id int64, d time.Duration) (*kiln.Build, []*kiln.Step, string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(d)
	for {
		b, steps, err := c.GetBuild(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status.Terminal() || time.Now().After(deadline) {
			page, err := c.Logs(ctx, id, 0, 5000)
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			for _, l := range page.Items {
				log.WriteString(l.Text + "\n")
			}
			if b.Status != kiln.BuildSucceeded {
				t.Fatalf("build %d %s: %s\n%s", id, b.Status, b.Error, log.String())
			}
			return b, steps, log.String()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireCacheHit rebuilds the app of first, a succeeded build: the
// rebuild reuses first's checked output and artifacts (same blobs) and
// ends at once, saying so in its log; a rebuild with no_cache runs every
// check again.
func requireCacheHit(t *testing.T, c *client.Client, first *kiln.Build, firstArts []*kiln.Artifact) {
	t.Helper()
	ctx := context.Background()
	rb, err := c.CreateBuild(ctx, first.AppID, kiln.BuildCreate{})
	if err != nil {
		t.Fatal(err)
	}
	hit, steps, log := waitBuildDone(t, c, rb.ID, time.Minute)
	if !strings.Contains(log, fmt.Sprintf("cache hit: build %d (#%d of app %d)", first.ID, first.Number, first.AppID)) {
		t.Errorf("the rebuild's log does not name the cache hit:\n%s", log)
	}
	if hit.CachedFrom == nil || *hit.CachedFrom != first.ID || hit.CacheKey == "" || hit.CacheKey != first.CacheKey {
		t.Errorf("rebuild: cached_from %v, cache key %q (first %q)", hit.CachedFrom, hit.CacheKey, first.CacheKey)
	}
	for _, s := range steps {
		if s.Name == "test" || s.Name == "render" {
			t.Errorf("the cache hit ran the %s step", s.Name)
		}
	}
	// The issue asks for under a second; a loaded CI machine gets slack.
	took := hit.Duration(time.Now())
	t.Logf("cache hit build took %s", took)
	if took > 5*time.Second {
		t.Errorf("the cache hit took %s", took)
	}
	arts, err := c.ListArtifacts(ctx, hit.ID)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, a := range firstArts {
		sums[a.Name] = a.SHA256
	}
	if len(arts) != len(firstArts) {
		t.Errorf("the cache hit has %d artifacts, the first build %d", len(arts), len(firstArts))
	}
	for _, a := range arts {
		if sums[a.Name] != a.SHA256 || a.BuildID != hit.ID {
			t.Errorf("reused artifact %+v differs from the first build's", a)
		}
	}
	requirePackaged(t, c, hit, arts)

	nb, err := c.CreateBuild(ctx, first.AppID, kiln.BuildCreate{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	full, steps, log := waitBuildDone(t, c, nb.ID, 8*time.Minute)
	if full.CachedFrom != nil || strings.Contains(log, "cache hit") || !strings.Contains(log, "cache: not used (no_cache)") {
		t.Errorf("the no_cache build reused a build (cached_from %v):\n%s", full.CachedFrom, log)
	}
	var tested bool
	for _, s := range steps {
		tested = tested || s.Name == "test"
	}
	if !tested {
		t.Error("the no_cache build did not run the tests")
	}
}

// requirePackaged downloads every artifact of a finished build through the
// API and checks them against each other: SHA256SUMS lists and matches
// every other artifact, the provenance names the build's spec and the
// validation report, the SBOM lists the app's SQLite driver, and the OCI
// image is a valid linux/amd64 image whose revision is the spec hash.
func requirePackaged(t *testing.T, c *client.Client, b *kiln.Build, arts []*kiln.Artifact) {
	t.Helper()
	ctx := context.Background()
	content := map[string][]byte{}
	byKind := map[string][]byte{}
	for _, a := range arts {
		var buf bytes.Buffer
		if _, err := c.DownloadArtifact(ctx, a.ID, &buf); err != nil {
			t.Fatal(err)
		}
		content[a.Name], byKind[a.Kind] = buf.Bytes(), buf.Bytes()
	}
	sums := strings.Split(strings.TrimSpace(string(byKind[kiln.ArtifactChecksums])), "\n")
	if len(sums) != len(arts)-1 {
		t.Errorf("SHA256SUMS lists %d files for %d other artifacts", len(sums), len(arts)-1)
	}
	for _, line := range sums {
		sum, name, _ := strings.Cut(line, "  ")
		got := sha256.Sum256(content[name])
		if content[name] == nil || hex.EncodeToString(got[:]) != sum {
			t.Errorf("SHA256SUMS line %q does not match the artifact", line)
		}
	}

	var prov pack.Provenance
	if err := json.Unmarshal(byKind[kiln.ArtifactProvenance], &prov); err != nil {
		t.Fatal(err)
	}
	report := sha256.Sum256(byKind[kiln.ArtifactReport])
	if prov.SpecSHA256 != b.Spec.Hash() || prov.Planner != "rules" || prov.TemplateSet != "go-api" ||
		prov.ReportSHA256 != hex.EncodeToString(report[:]) || prov.GoVersion == "" {
		t.Errorf("provenance: %s", byKind[kiln.ArtifactProvenance])
	}
	if !bytes.Contains(byKind[kiln.ArtifactSBOM], []byte(`"name": "modernc.org/sqlite"`)) {
		t.Errorf("the SBOM does not list modernc.org/sqlite:\n%s", byKind[kiln.ArtifactSBOM])
	}

	dir := t.TempDir()
	if err := pack.ExtractTar(bytes.NewReader(byKind[kiln.ArtifactOCIImage]), dir, pack.Limits{}); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("image index: %v", err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("invalid image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || cf.Config.Labels[pack.LabelRevision] != b.Spec.Hash() ||
		!strings.HasSuffix(cf.Config.Labels[pack.LabelSource], fmt.Sprintf("/apps/%d", b.AppID)) || len(cf.Config.Entrypoint) != 1 {
		t.Errorf("image config: %+v", cf)
	}
}
