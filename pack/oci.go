package pack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kiln-build/kiln"
)

// OCI annotation and label keys Kiln sets.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelTitle    = "org.opencontainers.image.title"
	LabelVersion  = "org.opencontainers.image.version"
	LabelRefName  = "org.opencontainers.image.ref.name"
)

// ImageOptions describe the image BuildOCIImage makes. Zero fields take
// the defaults noted.
type ImageOptions struct {
	Title      string // org.opencontainers.image.title
	Version    string // org.opencontainers.image.version
	Source     string // org.opencontainers.image.source (a URL)
	Revision   string // org.opencontainers.image.revision (the spec hash)
	Created    time.Time
	BinaryPath string   // "/app/server"; the entrypoint
	WorkingDir string   // "/app"
	DataDir    string   // "/data", owned by User, declared a volume
	Port       int      // 8080; exposed and passed as PORT
	UID        int      // 65532 when 0: the image never runs as root
	Env        []string // extra KEY=value pairs after PORT and DB_PATH
}

func (o ImageOptions) withDefaults() ImageOptions {
	if o.BinaryPath == "" {
		o.BinaryPath = "/app/server"
	}
	if o.WorkingDir == "" {
		o.WorkingDir = "/app"
	}
	if o.DataDir == "" {
		o.DataDir = "/data"
	}
	if o.Port == 0 {
		o.Port = 8080
	}
	if o.UID == 0 {
		o.UID = 65532
	}
	if o.Created.IsZero() {
		o.Created = epoch
	}
	o.Created = o.Created.UTC().Truncate(time.Second)
	return o
}

func (o ImageOptions) validate() error {
	for _, p := range []string{o.BinaryPath, o.WorkingDir, o.DataDir} {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || p == "/tmp" {
			return kiln.Errorf(kiln.EInvalid, "pack: image path %q must be a clean absolute path other than / and /tmp", p)
		}
	}
	if o.BinaryPath == o.DataDir || strings.HasPrefix(o.BinaryPath, o.DataDir+"/") {
		// The user owns the data dir; it must not be able to swap the binary.
		return kiln.Errorf(kiln.EInvalid, "pack: the binary cannot live in the data dir")
	}
	if o.Port < 1 || o.Port > 65535 {
		return kiln.Errorf(kiln.EInvalid, "pack: port %d out of range", o.Port)
	}
	if o.UID < 0 {
		return kiln.Errorf(kiln.EInvalid, "pack: uid %d must be positive (non-root)", o.UID)
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return kiln.Errorf(kiln.EInvalid, "pack: env %q is not KEY=value", kv)
		}
	}
	return nil
}

// BuildOCIImage returns a linux/amd64 OCI image holding binary, a static
// executable (CGO_ENABLED=0), on an empty base: one layer with the binary
// (mode 0755), a world-writable /tmp and a data dir owned by the
// non-root user the image runs as. The config sets the entrypoint, the
// exposed port, PORT and DB_PATH, the working dir and the OCI labels, which
// are also set as manifest annotations. The same binary and options give
// the same image digest.
func BuildOCIImage(binary []byte, opts ImageOptions) (v1.Image, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if len(binary) == 0 {
		return nil, kiln.Errorf(kiln.EInvalid, "pack: empty binary")
	}
	layerTar, err := imageLayer(binary, opts)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("pack: image layer: %w", err)
	}

	port := strconv.Itoa(opts.Port)
	labels := map[string]string{LabelCreated: opts.Created.Format(time.RFC3339)}
	for k, v := range map[string]string{LabelSource: opts.Source, LabelRevision: opts.Revision, LabelTitle: opts.Title, LabelVersion: opts.Version} {
		if v != "" {
			labels[k] = v
		}
	}
	user := strconv.Itoa(opts.UID)
	cfg := &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: opts.Created},
		Config: v1.Config{
			Entrypoint:   []string{opts.BinaryPath},
			ExposedPorts: map[string]struct{}{port + "/tcp": {}},
			Env:          append([]string{"PORT=" + port, "DB_PATH=" + path.Join(opts.DataDir, "data.db")}, opts.Env...),
			User:         user + ":" + user,
			WorkingDir:   opts.WorkingDir,
			Labels:       labels,
			Volumes:      map[string]struct{}{opts.DataDir: {}},
		},
		RootFS: v1.RootFS{Type: "layers"},
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("pack: image config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: opts.Created},
			CreatedBy: "kiln " + kiln.Version,
			Comment:   "static app binary at " + opts.BinaryPath,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("pack: image layer: %w", err)
	}
	img, ok := mutate.Annotations(img, labels).(v1.Image)
	if !ok {
		return nil, fmt.Errorf("pack: image annotations: unexpected type")
	}
	return img, nil
}

// imageLayer returns the gzip-compressed layer tar.
func imageLayer(binary []byte, o ImageOptions) ([]byte, error) {
	type item struct {
		name string
		mode int64
		dir  bool
		uid  int
		body []byte
	}
	items := []item{{name: "tmp/", mode: 0o1777, dir: true}}
	dirs := map[string]bool{"tmp": true}
	addDirs := func(p string) {
		if p == "/" {
			return
		}
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		for i := range parts {
			d := strings.Join(parts[:i+1], "/")
			if !dirs[d] {
				dirs[d] = true
				items = append(items, item{name: d + "/", mode: 0o755, dir: true})
			}
		}
	}
	// The data dir first, so it is the user's even when it is also the
	// working dir.
	addDirs(path.Dir(o.DataDir))
	dataName := strings.TrimPrefix(o.DataDir, "/")
	if !dirs[dataName] {
		dirs[dataName] = true
		items = append(items, item{name: dataName + "/", mode: 0o755, dir: true, uid: o.UID})
	}
	addDirs(path.Dir(o.BinaryPath))
	addDirs(o.WorkingDir)
	items = append(items, item{name: strings.TrimPrefix(o.BinaryPath, "/"), mode: 0o755, body: binary})
	sort.Slice(items, func(i, j int) bool { return items[i].name < items[j].name })

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	tw := tar.NewWriter(zw)
	for _, it := range items {
		h := &tar.Header{Name: it.name, Mode: it.mode, ModTime: epoch, Uid: it.uid, Gid: it.uid, Typeflag: tar.TypeReg, Size: int64(len(it.body))}
		if it.dir {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("pack: image layer: %w", err)
		}
		if _, err := tw.Write(it.body); err != nil {
			return nil, fmt.Errorf("pack: image layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("pack: image layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("pack: image layer: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteOCIArchive writes img as an OCI image layout in a tar (what skopeo
// and podman call oci-archive): oci-layout, index.json naming the image
// by tag (org.opencontainers.image.ref.name), and blobs/sha256/ holding
// the manifest, config and layers. Entries are sorted and dated
// EpochUnix, so the same image gives the same bytes.
func WriteOCIArchive(w io.Writer, img v1.Image, tag string) error {
	if tag == "" || len(tag) > 128 || strings.ContainsAny(tag, " \t\n\x00/") {
		return kiln.Errorf(kiln.EInvalid, "pack: bad image tag %q", tag)
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}
	configName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType:   mt,
			Size:        int64(len(manifest)),
			Digest:      digest,
			Annotations: map[string]string{LabelRefName: tag},
			Platform:    &v1.Platform{OS: cf.OS, Architecture: cf.Architecture},
		}},
	})
	if err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}

	// Each blob once, sorted by name after the fixed files.
	type blob struct {
		size int64
		open func() (io.ReadCloser, error)
	}
	fromBytes := func(b []byte) blob {
		return blob{int64(len(b)), func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
	}
	blobs := map[string]blob{
		digest.Hex:     fromBytes(manifest),
		configName.Hex: fromBytes(config),
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("pack: oci archive: %w", err)
		}
		size, err := l.Size()
		if err != nil {
			return fmt.Errorf("pack: oci archive: %w", err)
		}
		blobs[d.Hex] = blob{size, l.Compressed}
	}
	names := make([]string, 0, len(blobs))
	for n := range blobs {
		names = append(names, n)
	}
	sort.Strings(names)

	tw := tar.NewWriter(w)
	put := func(name string, size int64, body io.Reader) error {
		h := &tar.Header{Name: name, Mode: 0o644, ModTime: epoch, Typeflag: tar.TypeReg, Size: size}
		if body == nil {
			h.Mode, h.Typeflag = 0o755, tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("pack: oci archive %s: %w", name, err)
		}
		if body != nil {
			if n, err := io.Copy(tw, body); err != nil {
				return fmt.Errorf("pack: oci archive %s: %w", name, err)
			} else if n != size {
				return fmt.Errorf("pack: oci archive %s: %d bytes, want %d", name, n, size)
			}
		}
		return nil
	}
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	if err := put("oci-layout", int64(len(layout)), bytes.NewReader(layout)); err != nil {
		return err
	}
	if err := put("index.json", int64(len(index)), bytes.NewReader(index)); err != nil {
		return err
	}
	if err := put("blobs/", 0, nil); err != nil {
		return err
	}
	if err := put("blobs/sha256/", 0, nil); err != nil {
		return err
	}
	for _, n := range names {
		b := blobs[n]
		rc, err := b.open()
		if err != nil {
			return fmt.Errorf("pack: oci archive: %w", err)
		}
		err = put("blobs/sha256/"+n, b.size, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("pack: oci archive: %w", err)
	}
	return nil
}
