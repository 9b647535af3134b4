package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"
)

// Children returns the names directly under the key prefix dir (for
// "builds", the build folders) with their modification times. A missing
// prefix has no children.
func (l *Local) Children(ctx context.Context, dir string) (map[string]time.Time, error) {
	if err := ValidKey(dir); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := l.root.Open(filepath.FromSlash(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]time.Time{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("blob: list %s: %w", dir, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("blob: list %s: %w", dir, err)
	}
	out := make(map[string]time.Time, len(entries))
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue // removed while listing
		}
		out[e.Name()] = info.ModTime()
	}
	return out, nil
}

// DeleteAll removes every blob under the key prefix dir. Removing a
// missing prefix is not an error.
func (l *Local) DeleteAll(ctx context.Context, dir string) error {
	if err := ValidKey(dir); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.root.RemoveAll(filepath.FromSlash(dir)); err != nil {
		return fmt.Errorf("blob: delete %s: %w", dir, err)
	}
	return nil
}
