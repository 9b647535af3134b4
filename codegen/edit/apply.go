package edit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Policy says what an answer may change. The zero value allows source
// edits with the default limits and no new module requirements.
type Policy struct {
	Limits
	// ModCache is the Go module cache: a go.mod change may only require
	// modules already downloaded there. Empty allows no new requirement.
	ModCache string
	// Format, when set, rewrites a file's new content before it is checked
	// and written (gofmt for Go files); it returns the content unchanged
	// when it cannot format it.
	Format func(path string, content []byte) []byte
}

// Change is one file an applied answer changed.
type Change struct {
	Path    string `json:"path"`
	Action  string `json:"action"` // created, replaced or edited
	Added   int    `json:"lines_added"`
	Removed int    `json:"lines_removed"`
}

// Rejection is one reason an answer was refused.
type Rejection struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// RejectedError is an answer Apply refused; nothing was changed.
type RejectedError struct {
	Rejections []Rejection
}

func (e *RejectedError) Error() string {
	parts := make([]string, len(e.Rejections))
	for i, r := range e.Rejections {
		parts[i] = r.Path + ": " + r.Reason
	}
	return "edits rejected: " + strings.Join(parts, "; ")
}

// maxPathLen bounds a path in an answer.
const maxPathLen = 200

// sourceExts are the file kinds an answer may write.
var sourceExts = []string{".go", ".sql", ".html", ".css", ".js", ".md"}

// CheckPath returns why an answer may not write path, or "" when it may:
// a clean, relative, slash-separated path inside the app, without ".."
// or hidden elements, naming a source file (.go, .sql, .html, .css, .js,
// .md) or go.mod.
func CheckPath(p string) string {
	switch {
	case p == "":
		return "the path is empty"
	case len(p) > maxPathLen:
		return fmt.Sprintf("the path is longer than %d bytes", maxPathLen)
	case !utf8.ValidString(p) || strings.ContainsFunc(p, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }):
		return "the path contains control characters"
	case strings.Contains(p, `\`):
		return "the path contains a backslash; use / between folders"
	case strings.HasPrefix(p, "/") || (len(p) > 1 && p[1] == ':'):
		return "the path is absolute; give it relative to the app's root"
	case slices.Contains(strings.Split(p, "/"), ".."):
		return `the path leaves the app (it contains "..")`
	case path.Clean(p) != p:
		return fmt.Sprintf("the path is not clean (write %q)", path.Clean(p))
	}
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, ".") {
			return "the path has a hidden element (" + el + ")"
		}
		if el == "vendor" {
			return "vendored code may not be changed"
		}
	}
	switch base := path.Base(p); {
	case p == "go.mod":
		return ""
	case base == "go.sum":
		return "go.sum is written by Kiln, not by edits"
	case p == "kiln.json":
		return "kiln.json is the app's spec; it changes only through the spec"
	case !slices.Contains(sourceExts, path.Ext(p)):
		return "only source files (" + strings.Join(sourceExts, ", ") + ") and go.mod may be written"
	}
	return ""
}

// Apply checks every edit of a against pol and the app's current files
// (files, keyed by slash path, mirror what dir holds), and then writes
// every changed file to dir and into files. When any edit is refused it
// changes nothing and returns a *RejectedError listing every problem. The
// returned changes are in the answer's order.
func Apply(dir string, files map[string][]byte, a *Answer, pol Policy) ([]Change, error) {
	lim := pol.Limits.withDefaults()
	var rejected []Rejection
	reject := func(p, format string, args ...any) {
		rejected = append(rejected, Rejection{Path: clip(p, maxPathLen), Reason: fmt.Sprintf(format, args...)})
	}
	type write struct {
		path    string
		content []byte
	}
	var writes []write
	var changes []Change
	for _, e := range a.Edits {
		if why := CheckPath(e.Path); why != "" {
			reject(e.Path, "%s", why)
			continue
		}
		if why := checkOnDisk(dir, e.Path, files); why != "" {
			reject(e.Path, "%s", why)
			continue
		}
		old, exists := files[e.Path]
		var next string
		action := "replaced"
		switch e.Kind {
		case Whole:
			next = e.Content
			if !exists {
				action = "created"
			}
			if strings.TrimSpace(next) == "" {
				reject(e.Path, "the new content is empty (files cannot be deleted by edits)")
				continue
			}
		case Replace:
			if !exists {
				reject(e.Path, "no such file to EDIT; use a FILE block to create it")
				continue
			}
			action = "edited"
			var why string
			next, why = applyHunks(string(old), e.Hunks)
			if why != "" {
				reject(e.Path, "%s", why)
				continue
			}
		default:
			reject(e.Path, "unknown block kind %q", e.Kind)
			continue
		}
		if pol.Format != nil {
			next = string(pol.Format(e.Path, []byte(next)))
		}
		if len(next) > lim.MaxFileBytes {
			reject(e.Path, "the new content is larger than %d bytes", lim.MaxFileBytes)
			continue
		}
		if e.Path == "go.mod" {
			if whys := checkGoMod(old, []byte(next), pol.ModCache); len(whys) > 0 {
				for _, why := range whys {
					reject(e.Path, "%s", why)
				}
				continue
			}
		}
		if exists && string(old) == next {
			continue // nothing to do; not an error
		}
		added, removed := lineDelta(string(old), next)
		changes = append(changes, Change{Path: e.Path, Action: action, Added: added, Removed: removed})
		writes = append(writes, write{path: e.Path, content: []byte(next)})
	}
	if len(rejected) > 0 {
		return nil, &RejectedError{Rejections: rejected}
	}
	if len(writes) == 0 {
		return nil, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("apply edits: %w", err)
	}
	defer root.Close()
	// Write every file next to its target first, then rename them all:
	// a failure while writing leaves the app as it was.
	var temps []string
	cleanup := func() {
		for _, t := range temps {
			_ = root.Remove(t)
		}
	}
	for i, w := range writes {
		if d := path.Dir(w.path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				cleanup()
				return nil, fmt.Errorf("apply edits: %w", err)
			}
		}
		tmp := path.Join(path.Dir(w.path), fmt.Sprintf(".kiln-edit-%d.tmp", i))
		if err := writeFile(root, tmp, w.content); err != nil {
			cleanup()
			return nil, fmt.Errorf("apply edits: %w", err)
		}
		temps = append(temps, tmp)
	}
	for i, w := range writes {
		if err := root.Rename(temps[i], w.path); err != nil {
			cleanup()
			return nil, fmt.Errorf("apply edits: %w", err)
		}
		files[w.path] = w.content
	}
	return changes, nil
}

func writeFile(root *os.Root, name string, content []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkOnDisk refuses paths whose folders or file are symbolic links or
// not what they should be, and files on disk that are not among the app's
// files (written by its tests, say).
func checkOnDisk(dir, p string, files map[string][]byte) string {
	els := strings.Split(p, "/")
	cur := dir
	for i, el := range els {
		cur = filepath.Join(cur, el)
		st, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return ""
		} else if err != nil {
			return "cannot be checked: " + err.Error()
		}
		last := i == len(els)-1
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			return fmt.Sprintf("%s is a symbolic link", strings.Join(els[:i+1], "/"))
		case !last && !st.IsDir():
			return fmt.Sprintf("%s is not a folder", strings.Join(els[:i+1], "/"))
		case last && !st.Mode().IsRegular():
			return "is not a regular file"
		case last:
			if _, ok := files[p]; !ok {
				return "is not one of the app's source files"
			}
		}
	}
	return ""
}

// applyHunks applies SEARCH/REPLACE pairs in order; each SEARCH must occur
// exactly once in the file as it is after the pairs before it.
func applyHunks(content string, hunks []Hunk) (string, string) {
	for i, h := range hunks {
		switch n := strings.Count(content, h.Search); n {
		case 1:
			content = strings.Replace(content, h.Search, h.Replace, 1)
		case 0:
			return "", fmt.Sprintf("the SEARCH text of pair %d was not found (it must match the current file exactly, white space included): %q", i+1, clip(firstLine(h.Search), 80))
		default:
			return "", fmt.Sprintf("the SEARCH text of pair %d occurs %d times; include more lines so it occurs once", i+1, n)
		}
	}
	return content, ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// lineDelta counts the lines removed from old and added in next outside
// their common first and last lines.
func lineDelta(old, next string) (added, removed int) {
	a, b := splitLines(old), splitLines(next)
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	return len(b), len(a)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
