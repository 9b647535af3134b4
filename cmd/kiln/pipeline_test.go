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
