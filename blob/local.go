package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln"
)

// tmpDir is where Local writes blobs before renaming them into place. Keys
// cannot start with a dot, so it never collides with a blob.
const tmpDir = ".tmp"

// Local is a Store in a folder of the local file system: a key is a path
// under the folder. Writes go to a temporary file that is synced and then
// renamed into place, so a crash leaves the old blob or the new one.
type Local struct {
	root *os.Root
	dir  string
}

var _ Store = (*Local)(nil)

// NewLocal returns a Local store in dir, creating it when missing.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Local{root: root, dir: dir}, nil
}

// Close releases the store's handle on its folder.
func (l *Local) Close() error { return l.root.Close() }

// Dir returns the store's folder.
func (l *Local) Dir() string { return l.dir }

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (int64, string, error) {
	if err := ValidKey(key); err != nil {
		return 0, "", err
	}
	f, err := os.CreateTemp(filepath.Join(l.dir, tmpDir), "put-*")
	if err != nil {
		return 0, "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()

	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx: ctx, r: r})
	if err != nil {
		return 0, "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return 0, "", fmt.Errorf("blob: put %s: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return 0, "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	parent := filepath.Dir(filepath.FromSlash(key))
	if parent != "." {
		if err := l.root.MkdirAll(parent, 0o755); err != nil {
			return 0, "", fmt.Errorf("blob: put %s: %w", key, err)
		}
	}
	// Rename within the root: a key path cannot leave it even through a
	// symlink someone planted in the folder.
	rel, err := filepath.Rel(l.dir, tmp)
	if err != nil {
		return 0, "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := l.root.Rename(rel, filepath.FromSlash(key)); err != nil {
		return 0, "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	ok = true
	syncDir(filepath.Join(l.dir, parent))
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// syncDir makes a rename in dir durable; failures (some file systems
// refuse to sync a directory) are not fatal.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Open implements Store.
func (l *Local) Open(ctx context.Context, key string, wantSHA256 string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	f, err := l.root.Open(filepath.FromSlash(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, kiln.Errorf(kiln.ENotFound, "blob %s not found", key)
	} else if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, kiln.Errorf(kiln.ENotFound, "blob %s not found", key)
	}
	if wantSHA256 == "" {
		return f, nil
	}
	return NewVerifyingReader(f, wantSHA256), nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (int64, error) {
	if err := ValidKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	fi, err := l.root.Stat(filepath.FromSlash(key))
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
		return 0, kiln.Errorf(kiln.ENotFound, "blob %s not found", key)
	} else if err != nil {
		return 0, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	return fi.Size(), nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	fi, err := l.root.Lstat(filepath.FromSlash(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	if fi.IsDir() {
		return kiln.Errorf(kiln.EInvalid, "blob key %q names a folder of blobs", key)
	}
	if err := l.root.Remove(filepath.FromSlash(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}
