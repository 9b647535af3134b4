package pack

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/kiln-build/kiln"
)

// Limits bound what an extraction may write. Zero fields take the
// defaults.
type Limits struct {
	MaxFiles     int   // entries of any kind
	MaxFileSize  int64 // bytes of one file
	MaxTotalSize int64 // bytes of all files together
}

// Default extraction limits.
const (
	DefaultMaxFiles     = 10_000
	DefaultMaxFileSize  = 256 << 20
	DefaultMaxTotalSize = 1 << 30
)

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultMaxTotalSize
	}
	return l
}

// maxLinkTarget bounds a symlink target read from a zip entry's content.
const maxLinkTarget = 4096

// ExtractTarGz extracts a gzip-compressed tar into dir (created when
// missing); see ExtractTar.
func ExtractTarGz(r io.Reader, dir string, lim Limits) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return kiln.Errorf(kiln.EInvalid, "archive is not gzip-compressed: %v", err)
	}
	defer zr.Close()
	return ExtractTar(zr, dir, lim)
}

// ExtractTar extracts a tar into dir (created when missing). It treats the
// archive as hostile: an entry with an absolute path, a ".." element, a
// backslash or NUL, a symlink or hard link whose target leaves dir, a path
// through a symlink, a device, FIFO or other special file, a duplicate
// name, or more files or bytes than lim allows fails the extraction with
// an EInvalid (ETooLarge for limits) error naming the entry. What was
// written before the failure stays; callers extract into a fresh folder and
// remove it on error.
func ExtractTar(r io.Reader, dir string, lim Limits) error {
	x, err := newExtractor(dir, lim)
	if err != nil {
		return err
	}
	defer x.root.Close()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return kiln.Errorf(kiln.EInvalid, "bad tar archive: %v", err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			err = x.file(hdr.Name, tr, hdr.FileInfo().Mode())
		case tar.TypeDir:
			err = x.dir(hdr.Name)
		case tar.TypeSymlink:
			err = x.symlink(hdr.Name, hdr.Linkname)
		case tar.TypeLink:
			err = x.hardlink(hdr.Name, hdr.Linkname)
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			err = x.refuse(hdr.Name, "is a device or FIFO")
		default:
			err = x.refuse(hdr.Name, fmt.Sprintf("has unsupported type %q", hdr.Typeflag))
		}
		if err != nil {
			return err
		}
	}
}

// ExtractZip extracts the zip archive in r (size bytes) into dir, with
// the same rules as ExtractTar.
func ExtractZip(r io.ReaderAt, size int64, dir string, lim Limits) error {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return kiln.Errorf(kiln.EInvalid, "bad zip archive: %v", err)
	}
	x, err := newExtractor(dir, lim)
	if err != nil {
		return err
	}
	defer x.root.Close()
	if len(zr.File) > x.lim.MaxFiles {
		return kiln.Errorf(kiln.ETooLarge, "archive has %d entries, more than the limit of %d", len(zr.File), x.lim.MaxFiles)
	}
	for _, f := range zr.File {
		if err := x.zipEntry(f); err != nil {
			return err
		}
	}
	return nil
}

func (x *extractor) zipEntry(f *zip.File) error {
	mode := f.Mode()
	switch {
	case mode.IsDir():
		return x.dir(f.Name)
	case mode&fs.ModeSymlink != 0:
		rc, err := f.Open()
		if err != nil {
			return kiln.Errorf(kiln.EInvalid, "archive entry %q: %v", f.Name, err)
		}
		defer rc.Close()
		target, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
		if err != nil {
			return kiln.Errorf(kiln.EInvalid, "archive entry %q: %v", f.Name, err)
		}
		if len(target) > maxLinkTarget {
			return x.refuse(f.Name, "is a symlink with an over-long target")
		}
		return x.symlink(f.Name, string(target))
	case mode.IsRegular():
		rc, err := f.Open()
		if err != nil {
			return kiln.Errorf(kiln.EInvalid, "archive entry %q: %v", f.Name, err)
		}
		defer rc.Close()
		return x.file(f.Name, rc, mode)
	default:
		return x.refuse(f.Name, "is a device, FIFO or other special file")
	}
}

// extractor writes entries through an os.Root, so even a check missed
// here cannot make a write land outside dir.
type extractor struct {
	root  *os.Root
	lim   Limits
	files int
	total int64
	seen  map[string]byte // name → 'f' file, 'd' folder, 'l' link
}

func newExtractor(dir string, lim Limits) (*extractor, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pack: extract: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("pack: extract: %w", err)
	}
	return &extractor{root: root, lim: lim.withDefaults(), seen: map[string]byte{}}, nil
}

func (x *extractor) refuse(name, why string) error {
	return kiln.Errorf(kiln.EInvalid, "archive entry %q %s", truncate(name, 200), why)
}

// name checks an entry's name and returns it cleaned ("" for the root
// folder itself, as in "./").
func (x *extractor) name(raw string) (string, error) {
	switch {
	case raw == "":
		return "", x.refuse(raw, "has an empty name")
	case strings.ContainsAny(raw, "\\\x00"):
		return "", x.refuse(raw, "has a backslash or NUL in its name")
	case strings.HasPrefix(raw, "/"):
		return "", x.refuse(raw, "has an absolute path")
	}
	for _, el := range strings.Split(raw, "/") {
		if el == ".." {
			return "", x.refuse(raw, `has a ".." element: it would leave the target folder`)
		}
	}
	name := path.Clean(raw)
	if name == "." {
		return "", nil
	}
	return name, nil
}

// count applies the entry limit.
func (x *extractor) count() error {
	x.files++
	if x.files > x.lim.MaxFiles {
		return kiln.Errorf(kiln.ETooLarge, "archive has more than %d entries", x.lim.MaxFiles)
	}
	return nil
}

// parents checks that no existing folder on the way to name is a symlink
// or a file, so a write never goes through a link, and creates the rest.
func (x *extractor) parents(name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		fi, err := x.root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return fmt.Errorf("pack: extract %s: %w", name, err)
		}
		if !fi.IsDir() {
			return x.refuse(name, "goes through a symlink or file ("+p+")")
		}
	}
	if err := x.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pack: extract %s: %w", name, err)
	}
	return nil
}

// claim records name and refuses a second entry of the same name (except
// a folder listed again), which could otherwise swap a file for a link.
func (x *extractor) claim(name string, kind byte) error {
	if prev, ok := x.seen[name]; ok && !(prev == 'd' && kind == 'd') {
		return x.refuse(name, "appears twice")
	}
	x.seen[name] = kind
	return nil
}

func (x *extractor) dir(raw string) error {
	name, err := x.name(raw)
	if err != nil || name == "" {
		return err
	}
	if err := x.count(); err != nil {
		return err
	}
	if err := x.claim(name, 'd'); err != nil {
		return err
	}
	if err := x.parents(name); err != nil {
		return err
	}
	if fi, err := x.root.Lstat(name); err == nil {
		if fi.IsDir() {
			return nil
		}
		return x.refuse(raw, "is a folder where a file or link exists")
	}
	if err := x.root.Mkdir(name, 0o755); err != nil {
		return fmt.Errorf("pack: extract %s: %w", name, err)
	}
	return nil
}

func (x *extractor) file(raw string, r io.Reader, mode fs.FileMode) error {
	name, err := x.name(raw)
	if err != nil {
		return err
	}
	if name == "" {
		return x.refuse(raw, "is a file in place of the target folder")
	}
	if err := x.count(); err != nil {
		return err
	}
	if err := x.claim(name, 'f'); err != nil {
		return err
	}
	if err := x.parents(name); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	// O_EXCL: never write into something already there (a link, a file
	// of the target folder).
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("pack: extract %s: %w", name, err)
	}
	limit := min(x.lim.MaxFileSize, x.lim.MaxTotalSize-x.total)
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	x.total += n
	switch {
	case err != nil:
		return kiln.Errorf(kiln.EInvalid, "archive entry %q: %v", truncate(raw, 200), err)
	case n > x.lim.MaxFileSize:
		return kiln.Errorf(kiln.ETooLarge, "archive entry %q is larger than the limit of %d bytes", truncate(raw, 200), x.lim.MaxFileSize)
	case x.total > x.lim.MaxTotalSize:
		return kiln.Errorf(kiln.ETooLarge, "archive holds more than the limit of %d bytes", x.lim.MaxTotalSize)
	}
	return nil
}

// symlink creates a link whose target, relative to the link's folder,
// stays inside the target folder. The target must be clean so its ".."
// elements all come first and count real folders (no link is ever on
// the way to an entry, see parents).
func (x *extractor) symlink(raw, target string) error {
	name, err := x.name(raw)
	if err != nil {
		return err
	}
	if name == "" {
		return x.refuse(raw, "is a link in place of the target folder")
	}
	switch {
	case target == "" || strings.ContainsAny(target, "\\\x00"):
		return x.refuse(raw, "is a symlink with an empty or odd target")
	case strings.HasPrefix(target, "/"):
		return x.refuse(raw, "is a symlink to an absolute path ("+truncate(target, 200)+"): it leaves the target folder")
	case path.Clean(target) != strings.TrimSuffix(target, "/"):
		return x.refuse(raw, "is a symlink with an unclean target ("+truncate(target, 200)+")")
	}
	if resolved := path.Join(path.Dir(name), target); resolved == ".." || strings.HasPrefix(resolved, "../") {
		return x.refuse(raw, "is a symlink to "+truncate(target, 200)+": it leaves the target folder")
	}
	if err := x.count(); err != nil {
		return err
	}
	if err := x.claim(name, 'l'); err != nil {
		return err
	}
	if err := x.parents(name); err != nil {
		return err
	}
	if err := x.root.Symlink(target, name); err != nil {
		return fmt.Errorf("pack: extract %s: %w", name, err)
	}
	return nil
}

// hardlink links name to a regular file extracted earlier from the same
// archive; anything else could alias a file outside the target folder.
func (x *extractor) hardlink(raw, target string) error {
	name, err := x.name(raw)
	if err != nil {
		return err
	}
	t, err := x.name(target)
	if err != nil || t == "" || x.seen[t] != 'f' {
		return x.refuse(raw, "is a hard link to "+truncate(target, 200)+", which is not a file extracted earlier from this archive")
	}
	if name == "" {
		return x.refuse(raw, "is a link in place of the target folder")
	}
	if err := x.count(); err != nil {
		return err
	}
	if err := x.claim(name, 'l'); err != nil {
		return err
	}
	if err := x.parents(name); err != nil {
		return err
	}
	if err := x.root.Link(t, name); err != nil {
		return fmt.Errorf("pack: extract %s: %w", name, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
