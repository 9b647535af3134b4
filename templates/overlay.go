package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing/fstest"

	"github.com/kiln-build/kiln"
)

// loadOverlay builds the set an overlay folder describes: the embedded set
// it extends with the folder's files put over it.
func loadOverlay(info SetInfo, top fs.FS, dir string) (*Set, error) {
	base, err := Embedded(info.Extends)
	if err != nil {
		names := make([]string, 0)
		for _, s := range List() {
			names = append(names, s.Name)
		}
		return nil, kiln.Errorf(kiln.EInvalid, "template set %s in %s: %s: extends %q, which is not an embedded set (there are: %s)",
			info.Name, dir, Manifest, info.Extends, strings.Join(names, ", "))
	}
	merged := fstest.MapFS{}
	fromBase := map[string]bool{}
	add := func(fsys fs.FS, isBase bool) error {
		return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			merged[p] = &fstest.MapFile{Data: b, Mode: 0o644}
			fromBase[p] = isBase
			return nil
		})
	}
	if err := add(base.fsys, true); err != nil {
		return nil, fmt.Errorf("load template set %s: read base %s: %w", info.Name, base.Name, err)
	}
	baseFiles := slices.Sorted(maps.Keys(fromBase))
	if err := add(top, false); err != nil {
		return nil, fmt.Errorf("load template set %s: %w", info.Name, err)
	}
	// A file of the overlay where the base has a folder (or the reverse)
	// would make the merged tree ambiguous.
	for p, isBase := range fromBase {
		if isBase {
			continue
		}
		i, _ := slices.BinarySearch(baseFiles, p+"/")
		if i < len(baseFiles) && strings.HasPrefix(baseFiles[i], p+"/") {
			return nil, kiln.Errorf(kiln.EInvalid, "template set %s: %s is a file, but %s has a folder there", info.Name, filepath.Join(dir, p), base.Name)
		}
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if isFile, ok := fromBase[d]; ok && isFile {
				return nil, kiln.Errorf(kiln.EInvalid, "template set %s: %s needs a folder where %s has the file %s", info.Name, filepath.Join(dir, p), base.Name, d)
			}
		}
	}
	if len(merged) > maxSetFiles {
		return nil, kiln.Errorf(kiln.EInvalid, "template set %s holds more than %d files with its base %s", info.Name, maxSetFiles, base.Name)
	}
	for p, isBase := range fromBase {
		if !isBase {
			delete(fromBase, p)
		}
	}
	s, err := newSet(info, merged, dir)
	if err != nil {
		return nil, err
	}
	s.fromBase = fromBase
	return s, nil
}

// Where says where one file of the set comes from, for error messages:
// its path on disk for a set loaded from a folder, "embedded:SET/PATH" for
// an embedded one (and for an overlay's files that come from its base).
func (s *Set) Where(name string) string {
	switch {
	case s.Source == "embedded":
		return "embedded:" + s.Name + "/" + name
	case s.fromBase[name]:
		return "embedded:" + s.Extends + "/" + name
	}
	return filepath.Join(s.Source, filepath.FromSlash(name))
}

// Resolve returns the template set to render: with dir "" the embedded set
// called name (DefaultSet when name is empty). Otherwise dir overrides the
// embedded sets: when it holds a set itself (DIR/set.json), that set is
// used whatever name says; when it holds sets by name, DIR/NAME is used if
// it is there, else the embedded set. It returns an EInvalid *kiln.Error
// when dir is not a folder or the set in it is broken, and ENotFound when
// no set has the name.
func Resolve(dir, name string) (*Set, error) {
	if name == "" {
		name = DefaultSet
	}
	if dir == "" {
		return Open(name)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, kiln.Errorf(kiln.EInvalid, "templates folder %s: %v", dir, errors.Unwrap(err))
	} else if !st.IsDir() {
		return nil, kiln.Errorf(kiln.EInvalid, "templates folder %s is not a folder", dir)
	}
	if fileExists(filepath.Join(dir, Manifest)) {
		return Load(dir)
	}
	if setNameRE.MatchString(name) && fileExists(filepath.Join(dir, name, Manifest)) {
		return Load(filepath.Join(dir, name))
	}
	return Open(name)
}

// ListWith describes the embedded sets and those in dir (a set folder or a
// folder of sets, as for Resolve), sorted by name; a set in dir replaces
// the embedded set of the same name. With dir "" it is List.
func ListWith(dir string) ([]SetInfo, error) {
	sets, err := Available(dir)
	if err != nil {
		return nil, err
	}
	out := make([]SetInfo, len(sets))
	for i, s := range sets {
		out[i] = s.SetInfo
	}
	return out, nil
}

// Available returns the sets ListWith describes.
func Available(dir string) ([]*Set, error) {
	byName := map[string]*Set{}
	for _, info := range List() {
		s, err := Embedded(info.Name)
		if err != nil {
			return nil, err
		}
		byName[s.Name] = s
	}
	if dir != "" {
		if st, err := os.Stat(dir); err != nil {
			return nil, kiln.Errorf(kiln.EInvalid, "templates folder %s: %v", dir, errors.Unwrap(err))
		} else if !st.IsDir() {
			return nil, kiln.Errorf(kiln.EInvalid, "templates folder %s is not a folder", dir)
		}
		if fileExists(filepath.Join(dir, Manifest)) {
			s, err := Load(dir)
			if err != nil {
				return nil, err
			}
			byName[s.Name] = s
		} else {
			entries, err := os.ReadDir(dir)
			if err != nil {
				return nil, fmt.Errorf("list templates folder: %w", err)
			}
			for _, e := range entries {
				if !e.IsDir() || !fileExists(filepath.Join(dir, e.Name(), Manifest)) {
					continue
				}
				s, err := Load(filepath.Join(dir, e.Name()))
				if err != nil {
					return nil, err
				}
				byName[s.Name] = s
			}
		}
	}
	out := make([]*Set, 0, len(byName))
	for _, s := range byName {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Set) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Find returns the set called name among those Available(dir) lists, or
// an ENotFound *kiln.Error naming the sets there are.
func Find(dir, name string) (*Set, error) {
	sets, err := Available(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(sets))
	for i, s := range sets {
		if s.Name == name {
			return s, nil
		}
		names[i] = s.Name
	}
	return nil, kiln.Errorf(kiln.ENotFound, "no template set %q (there are: %s)", name, strings.Join(names, ", "))
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
