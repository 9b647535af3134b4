package pack_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/pack"
)

var (
	fakeBinary = append([]byte("\x7fELF"), bytes.Repeat([]byte("static go binary "), 5000)...)
	imageOpts  = pack.ImageOptions{
		Title:    "library",
		Version:  "3",
		Source:   "https://kiln.example.com/apps/17",
		Revision: "sha256:5f1d0c",
		Created:  time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC),
	}
)

// MustOCIArchive builds the image and returns its archive bytes.
func MustOCIArchive(tb testing.TB, opts pack.ImageOptions) []byte {
	tb.Helper()
	img, err := pack.BuildOCIImage(fakeBinary, opts)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pack.WriteOCIArchive(&buf, img, "v3"); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestOCIArchive_ReadBack(t *testing.T) {
	t.Parallel()
	archive := MustOCIArchive(t, imageOpts)
	if again := MustOCIArchive(t, imageOpts); !bytes.Equal(archive, again) {
		t.Fatal("the same binary and options gave different archives")
	}

	dir := t.TempDir()
	if err := pack.ExtractTar(bytes.NewReader(archive), dir, pack.Limits{}); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v3" {
		t.Fatalf("index manifests: %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	// Digests, sizes and diff ids all agree with the blobs.
	if err := validate.Image(img); err != nil {
		t.Fatalf("invalid image: %v", err)
	}

	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest media types %s, %s", m.MediaType, m.Config.MediaType)
	}
	if m.Annotations[pack.LabelRevision] != "sha256:5f1d0c" || m.Annotations[pack.LabelCreated] != "2026-11-22T05:00:00Z" {
		t.Errorf("manifest annotations %v", m.Annotations)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	checks := []struct {
		what string
		ok   bool
	}{
		{"platform linux/amd64", cf.OS == "linux" && cf.Architecture == "amd64"},
		{"created", cf.Created.Time.Equal(imageOpts.Created)},
		{"entrypoint", slices.Equal(c.Entrypoint, []string{"/app/server"})},
		{"exposed port", len(c.ExposedPorts) == 1 && c.ExposedPorts["8080/tcp"] == struct{}{}},
		{"env", slices.Equal(c.Env, []string{"PORT=8080", "DB_PATH=/data/data.db"})},
		{"user", c.User == "65532:65532"},
		{"working dir", c.WorkingDir == "/app"},
		{"source label", c.Labels[pack.LabelSource] == "https://kiln.example.com/apps/17"},
		{"revision label", c.Labels[pack.LabelRevision] == "sha256:5f1d0c"},
		{"created label", c.Labels[pack.LabelCreated] == "2026-11-22T05:00:00Z"},
		{"title label", c.Labels[pack.LabelTitle] == "library"},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("config %s wrong: %+v", ch.what, cf)
		}
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %v, %v", layers, err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}
	got := layerEntries(t, layers[0])
	if h := got["app/server"]; h == nil || h.Mode != 0o755 || h.Uid != 0 || !bytes.Equal(h.body, fakeBinary) {
		t.Errorf("app/server in the layer: %+v", h)
	}
	if h := got["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp/ in the layer: %+v", h)
	}
	if h := got["data/"]; h == nil || h.Uid != 65532 || h.Typeflag != tar.TypeDir {
		t.Errorf("data/ in the layer: %+v", h)
	}
	if len(got) != 4 { // app/, app/server, data/, tmp/
		t.Errorf("layer entries: %v", keys(got))
	}

	t.Run("Skopeo", func(t *testing.T) {
		skopeo, err := exec.LookPath("skopeo")
		if err != nil {
			t.Skip("skopeo is not installed (apt-get install skopeo)")
		}
		p := filepath.Join(t.TempDir(), "image.tar")
		if err := os.WriteFile(p, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(skopeo, "inspect", "oci-archive:"+p).Output()
		if err != nil {
			t.Fatalf("skopeo inspect: %v", err)
		}
		var info struct {
			Architecture, Os string
			Labels           map[string]string
			Layers           []string
			Env              []string
		}
		if err := json.Unmarshal(out, &info); err != nil {
			t.Fatal(err)
		}
		digest, _ := layers[0].Digest()
		if info.Architecture != "amd64" || info.Os != "linux" || info.Labels[pack.LabelRevision] != "sha256:5f1d0c" ||
			!slices.Equal(info.Layers, []string{digest.String()}) || !slices.Contains(info.Env, "PORT=8080") {
			t.Fatalf("skopeo inspect: %s", out)
		}
		// Copying reads every blob and checks its digest.
		dst := filepath.Join(t.TempDir(), "copy")
		if out, err := exec.Command(skopeo, "copy", "--quiet", "oci-archive:"+p, "oci:"+dst+":v3").CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy: %v\n%s", err, out)
		}
	})
}

func TestBuildOCIImage_Options(t *testing.T) {
	t.Parallel()
	opts := imageOpts
	opts.Port, opts.DataDir, opts.UID, opts.Env = 9000, "/var/lib/app", 1000, []string{"LOG=debug"}
	img, err := pack.BuildOCIImage(fakeBinary, opts)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cf.Config.ExposedPorts["9000/tcp"]; !ok || cf.Config.User != "1000:1000" ||
		!slices.Equal(cf.Config.Env, []string{"PORT=9000", "DB_PATH=/var/lib/app/data.db", "LOG=debug"}) {
		t.Fatalf("config %+v", cf.Config)
	}
	layers, _ := img.Layers()
	if h := layerEntries(t, layers[0])["var/lib/app/"]; h == nil || h.Uid != 1000 {
		t.Fatalf("data dir %+v", h)
	}

	for name, o := range map[string]pack.ImageOptions{
		"RelativeBinary": {BinaryPath: "server"},
		"BinaryInData":   {DataDir: "/app"},
		"RootData":       {DataDir: "/"},
		"BadPort":        {Port: 70000},
		"BadEnv":         {Env: []string{"novalue"}},
	} {
		if _, err := pack.BuildOCIImage(fakeBinary, o); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Errorf("%s: err = %v, want EInvalid", name, err)
		}
	}
	if _, err := pack.BuildOCIImage(nil, pack.ImageOptions{}); kiln.ErrorCode(err) != kiln.EInvalid {
		t.Errorf("empty binary: %v", err)
	}
	if err := pack.WriteOCIArchive(io.Discard, img, "bad tag"); kiln.ErrorCode(err) != kiln.EInvalid {
		t.Errorf("bad tag: %v", err)
	}
}

type layerEntry struct {
	*tar.Header
	body []byte
}

func layerEntries(t *testing.T, l v1.Layer) map[string]*layerEntry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]*layerEntry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = &layerEntry{h, b}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
