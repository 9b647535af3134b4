// Package pack turns a generated app into its published artifacts: source
// archives (.tar.gz, .zip), an OCI image layout archive, a CycloneDX SBOM,
// a SHA256SUMS file and a provenance record. Every writer is deterministic:
// the same input gives the same bytes. It also extracts archives safely,
// refusing entries that would land outside the target folder.
package pack

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing/fstest"
	"time"

	"github.com/kiln-build/kiln"
)

// EpochUnix is the modification time, in Unix seconds, of every entry
// Kiln writes into an archive or image layer: 2000-01-01T00:00:00Z. A fixed
// time makes archives reproducible; it is inside the range zip can encode.
const EpochUnix = 946684800

var epoch = time.Unix(EpochUnix, 0).UTC()

// MapFS returns a file system holding files (slash-separated relative
// paths → content), for the archive writers. Parent folders are implied.
func MapFS(files map[string][]byte) fs.FS {
	m := make(fstest.MapFS, len(files))
	for name, b := range files {
		m[name] = &fstest.MapFile{Data: b, Mode: 0o644, ModTime: epoch}
	}
	return m
}

// entry is one file or folder to archive.
type entry struct {
	name string // with prefix; folders end in "/"
	dir  bool
	mode int64  // 0o755 or 0o644
	path string // in fsys
	size int64
}

// walk lists fsys in a fixed order (depth first, names sorted, each folder
// before its contents) with normalized modes. Symlinks and special files
// are refused: generated source has none, and packing one would publish
// whatever it points at.
func walk(fsys fs.FS, prefix string) ([]entry, error) {
	if prefix != "" {
		p := strings.TrimSuffix(prefix, "/")
		if !fs.ValidPath(p) || p == "." {
			return nil, kiln.Errorf(kiln.EInvalid, "pack: bad archive prefix %q", prefix)
		}
		prefix = p + "/"
	}
	var out []entry
	if prefix != "" {
		// The prefix folders themselves, so extraction recreates them with
		// fixed modes.
		parts := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
		for i := range parts {
			out = append(out, entry{name: strings.Join(parts[:i+1], "/") + "/", dir: true, mode: 0o755})
		}
	}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			out = append(out, entry{name: prefix + p + "/", dir: true, mode: 0o755, path: p})
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := int64(0o644)
			if fi.Mode().Perm()&0o111 != 0 {
				mode = 0o755
			}
			out = append(out, entry{name: prefix + p, mode: mode, path: p, size: fi.Size()})
		default:
			return kiln.Errorf(kiln.EInvalid, "pack: %s is not a regular file or folder (%s)", p, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	return out, nil
}

// WriteTarGz writes fsys as a gzip-compressed tar to w, every path under
// prefix (e.g. "myapp/"; "" for none). Entries are sorted, owned by 0:0
// with no user names, dated EpochUnix, mode 0644 (0755 for folders and
// executables), so the same files always give the same bytes.
func WriteTarGz(w io.Writer, fsys fs.FS, prefix string) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if err := WriteTar(zw, fsys, prefix); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("pack: gzip: %w", err)
	}
	return nil
}

// WriteTar writes fsys as an uncompressed tar; see WriteTarGz.
func WriteTar(w io.Writer, fsys fs.FS, prefix string) error {
	entries, err := walk(fsys, prefix)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, ModTime: epoch, Typeflag: tar.TypeReg, Size: e.size}
		if e.dir {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("pack: tar %s: %w", e.name, err)
		}
		if !e.dir {
			if err := copyFile(tw, fsys, e); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("pack: tar: %w", err)
	}
	return nil
}

// WriteZip writes fsys as a zip archive to w; see WriteTarGz for the
// guarantees. Files are deflated, folders stored.
func WriteZip(w io.Writer, fsys fs.FS, prefix string) error {
	entries, err := walk(fsys, prefix)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: epoch}
		if e.dir {
			hdr.Method = zip.Store
			hdr.SetMode(fs.ModeDir | 0o755)
		} else {
			hdr.SetMode(fs.FileMode(e.mode))
		}
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return fmt.Errorf("pack: zip %s: %w", e.name, err)
		}
		if !e.dir {
			if err := copyFile(fw, fsys, e); err != nil {
				return err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("pack: zip: %w", err)
	}
	return nil
}

func copyFile(w io.Writer, fsys fs.FS, e entry) error {
	f, err := fsys.Open(e.path)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	if err != nil {
		return fmt.Errorf("pack: %s: %w", e.path, err)
	}
	if n != e.size {
		return fmt.Errorf("pack: %s changed size while being packed", e.path)
	}
	return nil
}
