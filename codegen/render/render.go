// Package render turns an AppSpec into the files of a generated app by
// executing a template set (package templates). Rendering is a pure
// function of (spec, set): the same inputs give byte-identical files, and
// every Go file comes out gofmt-formatted.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/templates"
)

// Path placeholders: a template file whose path holds EntityPlaceholder is
// rendered once per entity, with the placeholder replaced by the entity's
// snake_case name.
const (
	EntityPlaceholder = "__entity__"
	NamePlaceholder   = "__name__"
)

// Limits that keep a hostile spec or set from producing unbounded output.
const (
	maxOutputFile  = 8 << 20
	maxOutputTotal = 64 << 20
)

// Files is a rendered app: file contents keyed by slash-separated relative
// path.
type Files map[string][]byte

// Paths returns the file paths, sorted.
func (f Files) Paths() []string {
	out := make([]string, 0, len(f))
	for p := range f {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Render executes the set's app templates for spec. It returns an EInvalid
// *kiln.Error when the spec is invalid or cannot be rendered (for example
// two names that become the same Go identifier), and a plain error when the
// set is broken: a template that fails to parse or execute, or Go output
// that does not parse.
func Render(set *templates.Set, spec *kiln.AppSpec) (Files, error) {
	if set == nil || spec == nil {
		return nil, errors.New("render: nil set or spec")
	}
	data, err := newData(set, spec)
	if err != nil {
		return nil, err
	}
	app := set.App()
	var srcs []string
	err = fs.WalkDir(app, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			srcs = append(srcs, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("render: list %s templates: %w", set.Name, err)
	}
	out := Files{}
	total := 0
	for _, src := range srcs { // WalkDir visits in lexical order
		raw, err := fs.ReadFile(app, src)
		if err != nil {
			return nil, fmt.Errorf("render: read %s: %w", src, err)
		}
		dst, isTmpl := strings.CutSuffix(src, ".tmpl")
		dst = strings.ReplaceAll(dst, NamePlaceholder, spec.Name)
		var tmpl *template.Template
		where := set.Where(path.Join(templates.AppDir, src))
		if isTmpl {
			tmpl, err = parseAppTemplate(where, raw)
			if err != nil {
				return nil, err
			}
		}
		targets := []*Entity{nil}
		if strings.Contains(dst, EntityPlaceholder) {
			targets = data.Entities
		}
		for _, e := range targets {
			name := dst
			content := raw
			if e != nil {
				name = strings.ReplaceAll(dst, EntityPlaceholder, e.Name)
			}
			if tmpl != nil {
				d := *data
				d.Entity = e
				var b bytes.Buffer
				if err := tmpl.Execute(&limitWriter{w: &b, n: maxOutputFile}, &d); err != nil {
					return nil, fmt.Errorf("render: execute template for %s: %w", name, templateError(err))
				}
				content = b.Bytes()
				if len(bytes.TrimSpace(content)) == 0 {
					continue // a template may decide its file is not needed
				}
			}
			if strings.HasSuffix(name, ".go") {
				formatted, err := format.Source(content)
				if err != nil {
					return nil, fmt.Errorf("render: template %s produced invalid Go in %s: %w", where, name, err)
				}
				content = formatted
			}
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("render: template %s produces %s twice", where, name)
			}
			if err := checkPath(name); err != nil {
				return nil, fmt.Errorf("render: template %s: %w", where, err)
			}
			if total += len(content); total > maxOutputTotal {
				return nil, fmt.Errorf("render: output larger than %d bytes", maxOutputTotal)
			}
			out[name] = content
		}
	}
	if err := checkDecls(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkDecls fails when two top-level declarations of one Go package share
// a name, which go/format cannot see: two spec names that map to one Go
// identifier would otherwise surface only as a compile error in the build.
func checkDecls(files Files) error {
	fset := token.NewFileSet()
	type pkgKey struct{ dir, name string }
	decls := map[pkgKey]map[string]string{} // declared name → file
	for _, p := range files.Paths() {
		if !strings.HasSuffix(p, ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, files[p], parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("render: parse %s: %w", p, err)
		}
		k := pkgKey{path.Dir(p), f.Name.Name}
		seen := decls[k]
		if seen == nil {
			seen = map[string]string{}
			decls[k] = seen
		}
		add := func(name string) error {
			if name == "_" || name == "init" {
				return nil
			}
			if prev, dup := seen[name]; dup {
				return kiln.Errorf(kiln.EInvalid, "the app cannot be generated: %s is declared twice in package %s (%s and %s); two names in the spec probably become the same Go name, so rename one", name, k.dir, prev, p)
			}
			seen[name] = p
			return nil
		}
		for _, d := range f.Decls {
			var err error
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil && len(d.Recv.List) > 0 {
					err = add(recvName(d.Recv.List[0].Type) + "." + d.Name.Name)
				} else {
					err = add(d.Name.Name)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						err = errors.Join(err, add(spec.Name.Name))
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							err = errors.Join(err, add(n.Name))
						}
					}
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// recvName returns the type name of a method receiver: T for T, *T, T[X].
func recvName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return "?"
		}
	}
}

// limitWriter fails once more than n bytes were written, so a template loop
// cannot fill memory.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("output larger than %d bytes", l.n)
	}
	return l.w.Write(p)
}

// checkPath accepts only clean, relative, slash-separated paths that stay
// inside their root.
func checkPath(p string) error {
	switch {
	case p == "" || strings.ContainsRune(p, 0):
		return fmt.Errorf("invalid file path %q", p)
	case strings.Contains(p, `\`):
		return fmt.Errorf("file path %q holds a backslash", p)
	case path.IsAbs(p) || filepath.IsAbs(p):
		return fmt.Errorf("file path %q is absolute", p)
	case path.Clean(p) != p || !filepath.IsLocal(filepath.FromSlash(p)):
		return fmt.Errorf("file path %q is not clean or leaves its folder", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." || el == "." {
			return fmt.Errorf("file path %q leaves its folder", p)
		}
	}
	return nil
}

// WriteDir writes files under dir, creating dir and sub-folders with mode
// 0755 and files with mode 0644. It refuses (before writing anything) any
// path that is absolute, holds "..", or is otherwise not local, and it
// cannot be led outside dir by symbolic links already there.
func WriteDir(files Files, dir string) error {
	paths := files.Paths()
	for _, p := range paths {
		if err := checkPath(p); err != nil {
			return fmt.Errorf("write app: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write app: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("write app: %w", err)
	}
	defer root.Close()
	for _, p := range paths {
		name := filepath.FromSlash(p)
		if d := filepath.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("write app: %w", err)
			}
		}
		if err := root.WriteFile(name, files[p], 0o644); err != nil {
			return fmt.Errorf("write app: %w", err)
		}
	}
	return nil
}
