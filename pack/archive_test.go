package pack_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/pack"
)

var appFiles = map[string][]byte{
	"go.mod":                                 []byte("module example.com/library\n\ngo 1.26\n"),
	"main.go":                                []byte("package main\n\nfunc main() {}\n"),
	"kiln.json":                              []byte(`{"kiln_spec":1}`),
	"internal/store/store.go":                []byte("package store\n"),
	"internal/store/schema.sql":              []byte("CREATE TABLE books (id INTEGER PRIMARY KEY);\n"),
	"web/static/app.js":                      []byte("console.log('hi')\n"),
	strings.Repeat("long/", 30) + "name.txt": []byte("a path longer than 100 bytes"),
}

// writers are the archive formats under test.
var writers = []struct {
	name    string
	write   func(io.Writer, fs.FS, string) error
	extract func(t *testing.T, b []byte, dir string, lim pack.Limits) error
}{
	{"TarGz", pack.WriteTarGz, func(_ *testing.T, b []byte, dir string, lim pack.Limits) error {
		return pack.ExtractTarGz(bytes.NewReader(b), dir, lim)
	}},
	{"Zip", pack.WriteZip, func(_ *testing.T, b []byte, dir string, lim pack.Limits) error {
		return pack.ExtractZip(bytes.NewReader(b), int64(len(b)), dir, lim)
	}},
}

func MustWrite(tb testing.TB, write func(io.Writer, fs.FS, string) error, fsys fs.FS, prefix string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := write(&buf, fsys, prefix); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestWrite_Deterministic(t *testing.T) {
	t.Parallel()
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			a := MustWrite(t, w.write, pack.MapFS(appFiles), "library/")

			// The same files from disk, written in another order, with
			// other times and modes, give the same bytes.
			dir := t.TempDir()
			names := make([]string, 0, len(appFiles))
			for n := range appFiles {
				names = append(names, n)
			}
			sort.Sort(sort.Reverse(sort.StringSlice(names)))
			for i, n := range names {
				p := filepath.Join(dir, filepath.FromSlash(n))
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, appFiles[n], 0o600); err != nil {
					t.Fatal(err)
				}
				mt := time.Now().Add(-time.Duration(i) * time.Hour)
				if err := os.Chtimes(p, mt, mt); err != nil {
					t.Fatal(err)
				}
			}
			b := MustWrite(t, w.write, os.DirFS(dir), "library")
			if !bytes.Equal(a, b) {
				t.Fatalf("same files, different archives (%d and %d bytes)", len(a), len(b))
			}
			if c := MustWrite(t, w.write, pack.MapFS(appFiles), "other/"); bytes.Equal(a, c) {
				t.Fatal("the prefix did not change the archive")
			}
		})
	}
}

func TestWriteTarGz_Headers(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{"b.txt": []byte("b"), "a/x.go": []byte("x")}
	fsys := pack.MapFS(files)
	fsys.(fstest.MapFS)["run.sh"] = &fstest.MapFile{Data: []byte("#!/bin/sh\n"), Mode: 0o700}
	zr, err := gzip.NewReader(bytes.NewReader(MustWrite(t, pack.WriteTarGz, fsys, "app/")))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d %q:%q", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if h.ModTime.Unix() != pack.EpochUnix {
			t.Errorf("%s: mtime %s", h.Name, h.ModTime)
		}
		want := int64(0o644)
		if h.Typeflag == tar.TypeDir || h.Name == "app/run.sh" {
			want = 0o755
		}
		if h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
	}
	want := []string{"app/", "app/a/", "app/a/x.go", "app/b.txt", "app/run.sh"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("entries %v, want %v", got, want)
	}
}

func TestWrite_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			b := MustWrite(t, w.write, pack.MapFS(appFiles), "library/")
			dir := t.TempDir()
			if err := w.extract(t, b, dir, pack.Limits{}); err != nil {
				t.Fatal(err)
			}
			for name, want := range appFiles {
				got, err := os.ReadFile(filepath.Join(dir, "library", filepath.FromSlash(name)))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: %q, %v", name, got, err)
				}
			}
		})
	}
}

func TestWrite_RefusesSymlinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	for _, w := range writers {
		if err := w.write(io.Discard, os.DirFS(dir), ""); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Errorf("%s: err = %v, want EInvalid", w.name, err)
		}
	}
	if err := pack.WriteTarGz(io.Discard, pack.MapFS(nil), "../up"); kiln.ErrorCode(err) != kiln.EInvalid {
		t.Errorf("prefix ../up: err = %v", err)
	}
}

// zipSymlink adds a symlink entry to a zip being written.
func zipSymlink(t *testing.T, zw *zip.Writer, name, target string) {
	t.Helper()
	h := &zip.FileHeader{Name: name}
	h.SetMode(fs.ModeSymlink | 0o777)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, target)
}
