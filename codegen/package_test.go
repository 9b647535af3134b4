package codegen_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/pack"
	"github.com/kiln-build/kiln/sandbox"
	"github.com/kiln-build/kiln/templates"
)

// memRecorder is a kiln.Recorder that keeps artifacts and log lines in
// memory.
type memRecorder struct {
	mu        sync.Mutex
	artifacts []*kiln.Artifact
	content   map[string][]byte // by artifact name
	log       strings.Builder
}

var _ kiln.Recorder = (*memRecorder)(nil)

func newMemRecorder() *memRecorder { return &memRecorder{content: map[string][]byte{}} }

func (r *memRecorder) Step(ctx context.Context, name string, _ kiln.BuildStatus, fn func(context.Context) error) error {
	r.Logf("▶ %s", name)
	return fn(ctx)
}

func (r *memRecorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log.WriteString(strings.TrimRight(fmt.Sprintf(format, args...), "\n") + "\n")
}

func (r *memRecorder) Writer(string) io.WriteCloser { return nopWriteCloser{&lockedWriter{r: r}} }

func (r *memRecorder) SetSpec(context.Context, *kiln.AppSpec) error { return nil }

func (r *memRecorder) AddArtifact(_ context.Context, kind, name string, body io.Reader) (*kiln.Artifact, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	a := &kiln.Artifact{Kind: kind, Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.artifacts = append(r.artifacts, a)
	r.content[name] = b
	return a, nil
}

// byKind returns the artifact of a kind and its content.
func (r *memRecorder) byKind(tb testing.TB, kind string) (*kiln.Artifact, []byte) {
	tb.Helper()
	for _, a := range r.artifacts {
		if a.Kind == kind {
			return a, r.content[a.Name]
		}
	}
	tb.Fatalf("no %s artifact", kind)
	return nil, nil
}

type lockedWriter struct{ r *memRecorder }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.r.log.Write(p)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// helloApp is a tiny app with a main package at the module root, as the
// generated-app contract has it.
var helloApp = render.Files{
	"go.mod": []byte("module example.com/hello\n\ngo 1.22\n"),
	"main.go": []byte(`package main

import (
	"fmt"
	"os"
)

func main() { fmt.Println("listening on", os.Getenv("PORT")) }
`),
}

// TestSourcePackager packages a checked app with a real sandbox and reads
// every artifact back: the checksums verify with sha256sum, the OCI
// archive holds a valid linux/amd64 image with a static binary and the
// labels, the SBOM and the provenance describe what was built.
func TestSourcePackager(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles an app; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not installed")
	}
	dir := filepath.Join(t.TempDir(), "app")
	if err := render.WriteDir(helloApp, dir); err != nil {
		t.Fatal(err)
	}
	runner, err := sandbox.New(sandbox.Config{Mode: sandbox.ModeAuto})
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.Embedded(templates.DefaultSet)
	if err != nil {
		t.Fatal(err)
	}
	spec := &kiln.AppSpec{KilnSpec: kiln.SpecVersion, Name: "hello", Entities: []kiln.Entity{{Name: "note", Plural: "notes", Fields: []kiln.Field{{Name: "text", Type: kiln.FieldString}}}}}
	created := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	report := &codegen.Report{Spec: spec.Hash(), TemplateSet: set.Name, TemplateVersion: set.Version, Go: runtime.Version(), Sandboxed: runner.Sandboxed(), Passed: true}
	rec := newMemRecorder()
	reportJSON := report.JSON()
	if _, err := rec.AddArtifact(t.Context(), kiln.ArtifactReport, "validation-report.json", bytes.NewReader(reportJSON)); err != nil {
		t.Fatal(err)
	}
	in := codegen.PackageInput{
		Build: &kiln.Build{ID: 7, Number: 3, CreatedAt: created},
		App:   &kiln.App{ID: 17, Name: "hello"},
		Spec:  spec, Dir: dir, Files: helloApp, Set: set,
		Report: report, ReportJSON: reportJSON, Runner: runner, Planner: "rules",
	}
	err = codegen.SourcePackager{BaseURL: "https://kiln.example.com/"}.Package(t.Context(), in, rec)
	if err != nil {
		t.Fatalf("package: %v\n%s", err, rec.log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, ".kiln-image")); !os.IsNotExist(err) {
		t.Errorf("the image binary was left in the app folder: %v", err)
	}

	var kinds []string
	for _, a := range rec.artifacts {
		kinds = append(kinds, a.Kind)
	}
	slices.Sort(kinds)
	want := []string{kiln.ArtifactChecksums, kiln.ArtifactOCIImage, kiln.ArtifactProvenance, kiln.ArtifactSBOM,
		kiln.ArtifactSourceTarGz, kiln.ArtifactSourceZip, kiln.ArtifactReport}
	slices.Sort(want)
	if !slices.Equal(kinds, want) {
		t.Fatalf("artifact kinds %v, want %v", kinds, want)
	}

	t.Run("SHA256SUMS", func(t *testing.T) {
		_, sums := rec.byKind(t, kiln.ArtifactChecksums)
		lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
		if len(lines) != len(rec.artifacts)-1 {
			t.Errorf("SHA256SUMS lists %d files, want every artifact but itself (%d):\n%s", len(lines), len(rec.artifacts)-1, sums)
		}
		// The outside check: write the artifacts and let sha256sum verify.
		out := t.TempDir()
		for name, b := range rec.content {
			if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := exec.LookPath("sha256sum"); err != nil {
			t.Skip("sha256sum is not installed")
		}
		cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
		cmd.Dir = out
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, b)
		}
	})

	t.Run("Image", func(t *testing.T) {
		a, archive := rec.byKind(t, kiln.ArtifactOCIImage)
		if a.Name != "hello-image.oci.tar" {
			t.Errorf("image artifact name %q", a.Name)
		}
		ociDir := t.TempDir()
		if err := pack.ExtractTar(bytes.NewReader(archive), ociDir, pack.Limits{}); err != nil {
			t.Fatal(err)
		}
		idx, err := layout.ImageIndexFromPath(ociDir)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil || len(im.Manifests) != 1 {
			t.Fatalf("index: %+v %v", im, err)
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
		c := cf.Config
		for what, ok := range map[string]bool{
			"platform linux/amd64": cf.OS == "linux" && cf.Architecture == "amd64",
			"entrypoint":           slices.Equal(c.Entrypoint, []string{"/app/server"}),
			"exposed port":         len(c.ExposedPorts) == 1 && c.ExposedPorts["8080/tcp"] == struct{}{},
			"source label":         c.Labels[pack.LabelSource] == "https://kiln.example.com/apps/17",
			"revision label":       c.Labels[pack.LabelRevision] == spec.Hash(),
			"created label":        c.Labels[pack.LabelCreated] == "2026-11-22T09:30:00Z",
			"version label":        c.Labels[pack.LabelVersion] == "3",
		} {
			if !ok {
				t.Errorf("image config: %s wrong: %+v", what, cf)
			}
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("layers: %d %v", len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var bin []byte
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if h.Name == "app/server" {
				if bin, err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
		}
		if bin == nil {
			t.Fatal("no app/server in the image layer")
		}
		ef, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatalf("the binary is not ELF: %v", err)
		}
		if ef.Machine != elf.EM_X86_64 {
			t.Errorf("binary machine %v, want x86-64", ef.Machine)
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("the binary is dynamically linked (%v)", p.Type)
			}
		}
		bi, err := buildinfo.Read(bytes.NewReader(bin))
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if bi.Main.Path != "example.com/hello" || settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" || settings["GOOS"] != "linux" {
			t.Errorf("build info: main %s, settings %v", bi.Main.Path, settings)
		}
		if bytes.Contains(bin, []byte(dir)) {
			t.Error("the binary holds the host path of the work folder")
		}

		skopeo, err := exec.LookPath("skopeo")
		if err != nil {
			t.Skip("skopeo is not installed (apt-get install skopeo): no outside check")
		}
		p := filepath.Join(t.TempDir(), a.Name)
		if err := os.WriteFile(p, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(skopeo, "inspect", "oci-archive:"+p).Output()
		if err != nil {
			t.Fatalf("skopeo inspect: %v", err)
		}
		var got struct {
			Architecture, Os string
			Labels           map[string]string
			Layers           []string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got.Architecture != "amd64" || got.Os != "linux" || got.Labels[pack.LabelRevision] != spec.Hash() || len(got.Layers) != 1 {
			t.Errorf("skopeo inspect: %s", out)
		}
	})

	t.Run("SBOM", func(t *testing.T) {
		_, b := rec.byKind(t, kiln.ArtifactSBOM)
		var bom struct {
			BOMFormat, SpecVersion string
			Metadata               struct {
				Component struct{ Name, PURL string }
			}
		}
		if err := json.Unmarshal(b, &bom); err != nil {
			t.Fatal(err)
		}
		if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Name != "example.com/hello" {
			t.Errorf("sbom: %s", b)
		}
	})

	t.Run("Provenance", func(t *testing.T) {
		_, b := rec.byKind(t, kiln.ArtifactProvenance)
		var p pack.Provenance
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		rs := sha256.Sum256(reportJSON)
		if p.SpecSHA256 != spec.Hash() || p.TemplateSet != "go-api" || p.TemplateVersion != set.Version ||
			p.Planner != "rules" || p.Model != "" || p.GoVersion != runtime.Version() || p.BuildNumber != 3 ||
			p.ReportSHA256 != hex.EncodeToString(rs[:]) || p.Sandboxed != runner.Sandboxed() {
			t.Errorf("provenance: %s", b)
		}
		// It vouches for every artifact made before it.
		subjects := map[string]string{}
		for _, s := range p.Subjects {
			subjects[s.Name] = s.SHA256
		}
		for _, a := range rec.artifacts {
			if a.Kind == kiln.ArtifactProvenance || a.Kind == kiln.ArtifactChecksums {
				continue
			}
			if subjects[a.Name] != a.SHA256 {
				t.Errorf("provenance subject %s = %q, want %s", a.Name, subjects[a.Name], a.SHA256)
			}
		}
	})
}

// TestSourcePackager_Unchecked: without a sandbox runner (no checks ran)
// only the source and its checksums are stored, never an image.
func TestSourcePackager_Unchecked(t *testing.T) {
	t.Parallel()
	set, err := templates.Embedded(templates.DefaultSet)
	if err != nil {
		t.Fatal(err)
	}
	spec := &kiln.AppSpec{KilnSpec: kiln.SpecVersion, Name: "hello"}
	rec := newMemRecorder()
	in := codegen.PackageInput{Spec: spec, Dir: t.TempDir(), Files: helloApp, Set: set}
	if err := (codegen.SourcePackager{}).Package(t.Context(), in, rec); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range rec.artifacts {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, []string{"hello-source.tar.gz", "hello-source.zip", "SHA256SUMS"}) {
		t.Fatalf("artifacts %v", names)
	}
	_, tgz := rec.byKind(t, kiln.ArtifactSourceTarGz)
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var files []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		files = append(files, h.Name)
	}
	if !slices.Contains(files, "hello/main.go") {
		t.Errorf("source archive entries %v", files)
	}
}
