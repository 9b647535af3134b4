package blob_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/blob"
	"github.com/kiln-build/kiln/blob/blobtest"
)

func MustLocal(tb testing.TB) *blob.Local {
	tb.Helper()
	s, err := blob.NewLocal(filepath.Join(tb.TempDir(), "blobs"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestLocal(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return MustLocal(t) })
}

func TestLocal_Corruption(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(path string) error
	}{
		{"FlippedByte", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x01
			return os.WriteFile(p, b, 0o644)
		}},
		{"Truncated", func(p string) error { return os.Truncate(p, 10) }},
		{"Appended", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.WriteString("!")
			return f.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustLocal(t)
			sum := blobtest.MustPut(t, s, "builds/7/source.zip", strings.Repeat("archive bytes ", 1000))
			if err := tc.corrupt(filepath.Join(s.Dir(), "builds", "7", "source.zip")); err != nil {
				t.Fatal(err)
			}
			rc, err := s.Open(t.Context(), "builds/7/source.zip", sum)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := io.ReadAll(rc); !errors.Is(err, blob.ErrChecksum) {
				t.Fatalf("read of a corrupted blob: err = %v, want ErrChecksum", err)
			}
			// The error sticks: a second read does not report EOF.
			if _, err := rc.Read(make([]byte, 1)); !errors.Is(err, blob.ErrChecksum) {
				t.Fatalf("second read: %v", err)
			}
		})
	}
}

func TestLocal_NoTempFilesLeft(t *testing.T) {
	s := MustLocal(t)
	blobtest.MustPut(t, s, "a/b", "x")
	if _, _, err := s.Put(t.Context(), "a/c", failingReader{}); err == nil {
		t.Fatal("put from a failing reader succeeded")
	}
	ents, err := os.ReadDir(filepath.Join(s.Dir(), ".tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
	if _, err := s.Open(t.Context(), "a/c", ""); kiln.ErrorCode(err) != kiln.ENotFound {
		t.Fatalf("a failed put left a blob: %v", err)
	}
}

// A symlink planted inside the folder cannot lead reads or writes out of it.
func TestLocal_SymlinkEscape(t *testing.T) {
	s := MustLocal(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	if rc, err := s.Open(t.Context(), "link/secret", ""); err == nil {
		rc.Close()
		t.Fatal("read through a symlink out of the store")
	}
	if _, _, err := s.Put(t.Context(), "link/planted", strings.NewReader("x")); err == nil {
		t.Fatal("wrote through a symlink out of the store")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Fatal("file written outside the store")
	}
}

func TestValidKey(t *testing.T) {
	for _, k := range []string{"a", "builds/12/source.tar.gz", "A-b_c.9/x", "x..y"} {
		if err := blob.ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	for _, k := range blobtest.BadKeys {
		if err := blob.ValidKey(k); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Errorf("ValidKey(%q) = %v, want EInvalid", k, err)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestLocal_ChildrenDeleteAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := MustLocal(t)
	for _, key := range []string{"builds/1/1/a.zip", "builds/1/2/b.zip", "builds/2/1/c.zip"} {
		if _, _, err := l.Put(ctx, key, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	kids, err := l.Children(ctx, "builds")
	if err != nil || len(kids) != 2 || kids["1"].IsZero() || kids["2"].IsZero() {
		t.Fatalf("children = %v, %v", kids, err)
	}
	if err := l.DeleteAll(ctx, "builds/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Open(ctx, "builds/1/1/a.zip", ""); kiln.ErrorCode(err) != kiln.ENotFound {
		t.Fatalf("deleted blob opens: %v", err)
	}
	if rc, err := l.Open(ctx, "builds/2/1/c.zip", ""); err != nil {
		t.Fatalf("other build's blob: %v", err)
	} else {
		rc.Close()
	}
	if err := l.DeleteAll(ctx, "builds/1"); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if kids, err := l.Children(ctx, "nothing-here"); err != nil || len(kids) != 0 {
		t.Fatalf("missing prefix: %v %v", kids, err)
	}
	for _, bad := range []string{"../x", "/etc", "builds/../.."} {
		if err := l.DeleteAll(ctx, bad); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Errorf("DeleteAll(%q) = %v, want invalid", bad, err)
		}
		if _, err := l.Children(ctx, bad); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Errorf("Children(%q) = %v, want invalid", bad, err)
		}
	}
}
