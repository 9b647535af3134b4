package pack_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/pack"
)

// tarEntry is one header (and body) of a hand-made, possibly hostile tar.
type tarEntry struct {
	name, link string
	typ        byte
	body       string
	size       int64 // when not len(body)
}

func hostileTarGz(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		size := int64(len(e.body))
		if e.size != 0 {
			size = e.size
		}
		if typ != tar.TypeReg {
			size = 0
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o644, Size: size, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if e.size != 0 {
				tw.Write(bytes.Repeat([]byte{'z'}, int(e.size)))
			} else {
				tw.Write([]byte(e.body))
			}
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// zipEntry is one entry of a hand-made zip; link marks a symlink whose
// target is body.
type zipEntry struct {
	name, body string
	link       bool
	mode       fs.FileMode
}

func hostileZip(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.link {
			zipSymlink(t, zw, e.name, e.body)
			continue
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.body))
	}
	zw.Close()
	return buf.Bytes()
}

func TestExtractTar_Hostile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		code    string
		msg     string
	}{
		{"DotDot", []tarEntry{{name: "../escape.txt", body: "x"}}, kiln.EInvalid, `".." element`},
		{"DeepDotDot", []tarEntry{{name: "app/../../escape.txt", body: "x"}}, kiln.EInvalid, `".." element`},
		{"Absolute", []tarEntry{{name: "/tmp/kiln-escape.txt", body: "x"}}, kiln.EInvalid, "absolute path"},
		{"Backslash", []tarEntry{{name: `..\..\escape.txt`, body: "x"}}, kiln.EInvalid, "backslash"},
		{"SymlinkAbsolute", []tarEntry{{name: "etc", typ: tar.TypeSymlink, link: "/etc"}}, kiln.EInvalid, "absolute path"},
		{"SymlinkUp", []tarEntry{{name: "a/up", typ: tar.TypeSymlink, link: "../.."}}, kiln.EInvalid, "leaves the target folder"},
		{"SymlinkUnclean", []tarEntry{{name: "l", typ: tar.TypeSymlink, link: "a/../../x"}}, kiln.EInvalid, "unclean"},
		// A link inside, then a file written through it: refused even
		// though the link itself is harmless.
		{"ThroughSymlink", []tarEntry{
			{name: "sub/", typ: tar.TypeDir},
			{name: "l", typ: tar.TypeSymlink, link: "sub"},
			{name: "l/x", body: "x"},
		}, kiln.EInvalid, "through a symlink"},
		// The classic: a link out, then a file through it.
		{"SymlinkThenWrite", []tarEntry{
			{name: "d", typ: tar.TypeSymlink, link: "/tmp"},
			{name: "d/kiln-escape.txt", body: "x"},
		}, kiln.EInvalid, "absolute path"},
		{"HardlinkOut", []tarEntry{{name: "passwd", typ: tar.TypeLink, link: "/etc/passwd"}}, kiln.EInvalid, "hard link"},
		{"HardlinkUp", []tarEntry{{name: "passwd", typ: tar.TypeLink, link: "../../etc/passwd"}}, kiln.EInvalid, "hard link"},
		{"HardlinkToLink", []tarEntry{
			{name: "l", typ: tar.TypeSymlink, link: "x"},
			{name: "h", typ: tar.TypeLink, link: "l"},
		}, kiln.EInvalid, "hard link"},
		{"CharDevice", []tarEntry{{name: "null", typ: tar.TypeChar}}, kiln.EInvalid, "device"},
		{"BlockDevice", []tarEntry{{name: "sda", typ: tar.TypeBlock}}, kiln.EInvalid, "device"},
		{"Fifo", []tarEntry{{name: "pipe", typ: tar.TypeFifo}}, kiln.EInvalid, "FIFO"},
		{"Duplicate", []tarEntry{{name: "a", body: "1"}, {name: "a", body: "2"}}, kiln.EInvalid, "twice"},
		{"LinkSwap", []tarEntry{{name: "a", body: "1"}, {name: "a", typ: tar.TypeSymlink, link: "b"}}, kiln.EInvalid, "twice"},
		{"TooManyFiles", func() []tarEntry {
			var es []tarEntry
			for i := range 11 {
				es = append(es, tarEntry{name: strings.Repeat("f", i+1), body: "x"})
			}
			return es
		}(), kiln.ETooLarge, "more than 10 entries"},
		{"FileTooLarge", []tarEntry{{name: "big", size: 2 << 10}}, kiln.ETooLarge, "larger than the limit"},
		{"TotalTooLarge", []tarEntry{{name: "a", size: 900}, {name: "b", size: 900}, {name: "c", size: 900}}, kiln.ETooLarge, "more than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			dir := filepath.Join(root, "target")
			lim := pack.Limits{MaxFiles: 10, MaxFileSize: 1 << 10, MaxTotalSize: 2 << 10}
			err := pack.ExtractTarGz(bytes.NewReader(hostileTarGz(t, tc.entries...)), dir, lim)
			if kiln.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %s containing %q", err, tc.code, tc.msg)
			}
			assertNothingOutside(t, root)
		})
	}
}

func TestExtractZip_Hostile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		entries []zipEntry
		code    string
		msg     string
	}{
		{"ZipSlip", []zipEntry{{name: "../../escape.txt", body: "x"}}, kiln.EInvalid, `".." element`},
		{"Absolute", []zipEntry{{name: "/tmp/kiln-escape.txt", body: "x"}}, kiln.EInvalid, "absolute path"},
		{"WindowsSlip", []zipEntry{{name: `..\..\escape.txt`, body: "x"}}, kiln.EInvalid, "backslash"},
		{"SymlinkOut", []zipEntry{{name: "etc", body: "/etc", link: true}, {name: "etc/x", body: "x"}}, kiln.EInvalid, "absolute path"},
		{"SymlinkUp", []zipEntry{{name: "up", body: "..", link: true}}, kiln.EInvalid, "leaves the target folder"},
		{"Device", []zipEntry{{name: "dev", mode: fs.ModeDevice | 0o644}}, kiln.EInvalid, "device"},
		{"TooManyFiles", func() []zipEntry {
			var es []zipEntry
			for i := range 11 {
				es = append(es, zipEntry{name: strings.Repeat("f", i+1)})
			}
			return es
		}(), kiln.ETooLarge, "11 entries"},
		// A zip bomb: 4 KiB compressed, over the 2 KiB total once inflated.
		{"Bomb", []zipEntry{{name: "bomb", body: strings.Repeat("0", 64<<10)}}, kiln.ETooLarge, "larger than the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			dir := filepath.Join(root, "target")
			b := hostileZip(t, tc.entries...)
			err := pack.ExtractZip(bytes.NewReader(b), int64(len(b)), dir, pack.Limits{MaxFiles: 10, MaxFileSize: 1 << 10, MaxTotalSize: 2 << 10})
			if kiln.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %s containing %q", err, tc.code, tc.msg)
			}
			assertNothingOutside(t, root)
		})
	}
}

// Links that stay inside are kept.
func TestExtract_SafeLinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := hostileTarGz(t,
		tarEntry{name: "./", typ: tar.TypeDir},
		tarEntry{name: "./docs/README.md", body: "read me"},
		tarEntry{name: "docs/current", typ: tar.TypeSymlink, link: "README.md"},
		tarEntry{name: "top", typ: tar.TypeSymlink, link: "docs/README.md"},
		tarEntry{name: "a/b/up", typ: tar.TypeSymlink, link: "../../docs"},
		tarEntry{name: "hard", typ: tar.TypeLink, link: "docs/README.md"},
	)
	if err := pack.ExtractTarGz(bytes.NewReader(b), dir, pack.Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"docs/current", "top", "a/b/up/README.md", "hard"} {
		if got, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(got) != "read me" {
			t.Errorf("%s: %q, %v", p, got, err)
		}
	}
	zb := hostileZip(t, zipEntry{name: "x/file", body: "zip"}, zipEntry{name: "x/link", body: "file", link: true})
	zdir := t.TempDir()
	if err := pack.ExtractZip(bytes.NewReader(zb), int64(len(zb)), zdir, pack.Limits{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(zdir, "x/link")); err != nil || string(got) != "zip" {
		t.Errorf("zip link: %q, %v", got, err)
	}
}

func TestExtract_NotAnArchive(t *testing.T) {
	t.Parallel()
	junk := []byte("this is not an archive at all")
	if err := pack.ExtractTarGz(bytes.NewReader(junk), t.TempDir(), pack.Limits{}); kiln.ErrorCode(err) != kiln.EInvalid {
		t.Errorf("tar.gz: %v", err)
	}
	if err := pack.ExtractZip(bytes.NewReader(junk), int64(len(junk)), t.TempDir(), pack.Limits{}); kiln.ErrorCode(err) != kiln.EInvalid {
		t.Errorf("zip: %v", err)
	}
}

// assertNothingOutside fails when anything but the target folder appeared
// in root, or when a planted escape file exists in /tmp.
func assertNothingOutside(t *testing.T, root string) {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "target" {
			t.Errorf("%s written outside the target folder", e.Name())
		}
	}
	if _, err := os.Lstat("/tmp/kiln-escape.txt"); err == nil {
		os.Remove("/tmp/kiln-escape.txt")
		t.Error("/tmp/kiln-escape.txt written")
	}
}
