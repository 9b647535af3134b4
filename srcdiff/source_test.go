package srcdiff_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/blob"
	"github.com/kiln-build/kiln/pack"
	"github.com/kiln-build/kiln/srcdiff"
)

// fakeBuilds serves builds and artifacts from maps, as the caller's.
type fakeBuilds struct {
	builds    map[int64]*kiln.Build
	artifacts map[int64][]*kiln.Artifact
}

var _ srcdiff.Builds = (*fakeBuilds)(nil)

func (f *fakeBuilds) FindBuildByID(_ context.Context, id int64) (*kiln.Build, error) {
	if b, ok := f.builds[id]; ok {
		return b, nil
	}
	return nil, kiln.Errorf(kiln.ENotFound, "build %d not found", id)
}

func (f *fakeBuilds) FindArtifacts(_ context.Context, id int64) ([]*kiln.Artifact, error) {
	return f.artifacts[id], nil
}

// MustStoreArchive stores a source archive of files under prefix and
// returns its artifact.
func MustStoreArchive(tb testing.TB, store *blob.Local, buildID int64, prefix string, files map[string]string) *kiln.Artifact {
	tb.Helper()
	m := map[string][]byte{}
	for p, c := range files {
		m[p] = []byte(c)
	}
	var buf bytes.Buffer
	if err := pack.WriteTarGz(&buf, pack.MapFS(m), prefix); err != nil {
		tb.Fatal(err)
	}
	return MustStoreBlob(tb, store, buildID, buf.Bytes())
}

func MustStoreBlob(tb testing.TB, store *blob.Local, buildID int64, content []byte) *kiln.Artifact {
	tb.Helper()
	key := "builds/" + strings.Repeat("x", int(buildID)) + "/source.tar.gz"
	size, sum, err := store.Put(context.Background(), key, bytes.NewReader(content))
	if err != nil {
		tb.Fatal(err)
	}
	return &kiln.Artifact{ID: buildID * 10, BuildID: buildID, Kind: kiln.ArtifactSourceTarGz, Name: "app-source.tar.gz", Size: size, SHA256: sum, Location: key}
}

func MustLocal(tb testing.TB) *blob.Local {
	tb.Helper()
	store, err := blob.NewLocal(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	return store
}

func TestSourcesDiff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := MustLocal(t)
	succeeded := func(id int64) *kiln.Build { return &kiln.Build{ID: id, Status: kiln.BuildSucceeded} }
	fb := &fakeBuilds{
		builds: map[int64]*kiln.Build{
			1: succeeded(1), 2: succeeded(2), 3: {ID: 3, Status: kiln.BuildFailed}, 4: {ID: 4, Status: kiln.BuildValidating},
			5: succeeded(5), 6: succeeded(6),
		},
		artifacts: map[int64][]*kiln.Artifact{},
	}
	fb.artifacts[1] = []*kiln.Artifact{
		{ID: 99, BuildID: 1, Kind: kiln.ArtifactReport, Name: "validation-report.json"},
		MustStoreArchive(t, store, 1, "library", map[string]string{"kiln.json": "{\"name\": \"library\"}\n", "main.go": "package main\n"}),
	}
	fb.artifacts[2] = []*kiln.Artifact{
		MustStoreArchive(t, store, 2, "library2", map[string]string{"kiln.json": "{\"name\": \"library2\"}\n", "main.go": "package main\n", "extra.go": "package main\n\nvar x = 1\n"}),
	}
	missing := MustStoreArchive(t, store, 6, "x", map[string]string{"a": "b"})
	if err := store.Delete(ctx, missing.Location); err != nil {
		t.Fatal(err)
	}
	fb.artifacts[6] = []*kiln.Artifact{missing}
	s := &srcdiff.Sources{Builds: fb, Blobs: store, TempDir: t.TempDir()}

	t.Run("OK", func(t *testing.T) {
		d, err := s.Diff(ctx, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if d.BuildID != 2 || d.Against != 1 || len(d.Files) != 2 {
			t.Fatalf("diff = %+v", d)
		}
		if d.Files[0].Path != "extra.go" || d.Files[0].Change != kiln.FileAdded || d.Files[1].Path != "kiln.json" {
			t.Errorf("files = %+v (the app folder must not be part of the paths)", d.Files)
		}
		if !strings.Contains(d.Diff, "-{\"name\": \"library\"}\n+{\"name\": \"library2\"}\n") {
			t.Errorf("diff:\n%s", d.Diff)
		}
		same, err := s.Diff(ctx, 1, 1)
		if err != nil || len(same.Files) != 0 || same.Diff != "" {
			t.Errorf("a build against itself: %+v, %v", same, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, pair := range [][2]int64{{2, 404}, {404, 1}} {
			if _, err := s.Diff(ctx, pair[0], pair[1]); kiln.ErrorCode(err) != kiln.ENotFound {
				t.Errorf("Diff(%d, %d) error %v, want not found", pair[0], pair[1], err)
			}
		}
	})
	t.Run("ErrNoArchive", func(t *testing.T) {
		tests := map[int64]string{
			3: "build 3 failed before its source was packaged",
			4: "build 4 is validating",
			5: "build 5 has no source archive",
			6: "is missing from the artifact store",
		}
		for id, want := range tests {
			_, err := s.Diff(ctx, id, 1)
			if kiln.ErrorCode(err) != kiln.EConflict || !strings.Contains(kiln.ErrorMessage(err), want) {
				t.Errorf("Diff(%d, 1) error %v, want a conflict saying %q", id, err, want)
			}
		}
	})
}

func TestReadArchiveHostile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type entry struct {
		name, link string
		typ        byte
		body       string
	}
	tests := map[string][]entry{
		"DotDot":       {{name: "app/../../escaped.txt", typ: tar.TypeReg, body: "pwned"}},
		"Absolute":     {{name: "/tmp/escaped-abs.txt", typ: tar.TypeReg, body: "pwned"}},
		"SymlinkOut":   {{name: "app/link", link: "../../..", typ: tar.TypeSymlink}, {name: "app/link/escaped.txt", typ: tar.TypeReg, body: "pwned"}},
		"ThroughLink":  {{name: "app/dir", link: "/", typ: tar.TypeSymlink}, {name: "app/dir/escaped.txt", typ: tar.TypeReg, body: "pwned"}},
		"HardlinkOut":  {{name: "app/h", link: "/etc/passwd", typ: tar.TypeLink}},
		"Device":       {{name: "app/null", typ: tar.TypeChar}},
		"DuplicateDir": {{name: "app/x", typ: tar.TypeReg, body: "a"}, {name: "app/x/y", typ: tar.TypeReg, body: "b"}},
	}
	for name, entries := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			for _, e := range entries {
				hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
				if err := tw.WriteHeader(hdr); err != nil {
					t.Fatal(err)
				}
				if _, err := tw.Write([]byte(e.body)); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			zw.Close()
			store := MustLocal(t)
			a := MustStoreBlob(t, store, 1, buf.Bytes())
			parent := t.TempDir()
			tmp := filepath.Join(parent, "work", "deeper")
			if err := os.MkdirAll(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			s := &srcdiff.Sources{Blobs: store, TempDir: tmp}
			if tree, err := s.ReadArchive(ctx, a); err == nil {
				t.Fatalf("read a hostile archive: %v", tree)
			} else if kiln.ErrorCode(err) != kiln.EInternal {
				t.Errorf("a hostile stored archive is the server's problem, not the caller's: %v", err)
			}
			// Nothing escaped: the only things under parent are the
			// folders made above, and the extraction folder is gone.
			var found []string
			filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
				if p != parent && p != filepath.Join(parent, "work") && p != tmp {
					found = append(found, p)
				}
				return nil
			})
			if len(found) > 0 {
				t.Errorf("left behind: %v", found)
			}
			for _, p := range []string{"/tmp/escaped-abs.txt", "/escaped.txt", filepath.Join(parent, "escaped.txt"), filepath.Join(parent, "work", "escaped.txt")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

func TestReadArchiveChecksum(t *testing.T) {
	t.Parallel()
	store := MustLocal(t)
	a := MustStoreArchive(t, store, 1, "app", map[string]string{"main.go": "package main\n"})
	a.SHA256 = strings.Repeat("0", 64)
	s := &srcdiff.Sources{Blobs: store, TempDir: t.TempDir()}
	if _, err := s.ReadArchive(context.Background(), a); err == nil || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Errorf("ReadArchive error %v, want a checksum mismatch", err)
	}
}
