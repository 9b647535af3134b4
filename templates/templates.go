// Package templates holds Kiln's template sets: the code templates the
// renderer (codegen/render) turns into a generated app, and the prompt
// templates the LLM steps use. Sets are embedded in the binary; a set can
// also be loaded from a folder to override or extend the embedded ones.
//
// A set is a folder with this layout:
//
//	set.json        manifest: {"name", "version", "description"}
//	app/            the generated app's files; "*.tmpl" files are rendered
//	                with text/template, others are copied as they are
//	prompts/        prompt templates for the LLM steps ("plan.tmpl", …)
//
// docs/TEMPLATES.md describes the template variables and helper functions.
package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/kiln-build/kiln"
)

// DefaultSet is the name of the template set used when none is chosen.
const DefaultSet = "go-api"

// Folder names inside a set.
const (
	AppDir     = "app"
	PromptsDir = "prompts"
	Manifest   = "set.json"
)

// Limits on a set loaded from a folder, which may come from a user.
const (
	maxSetFiles = 2000
	maxFileSize = 4 << 20
)

//go:embed all:go-api
var embedded embed.FS

// FS returns the embedded template sets, one folder per set.
func FS() fs.FS { return embedded }

// SetInfo describes a template set, as its set.json manifest does.
type SetInfo struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description"`
	// Extends names the embedded set an overlay set builds on; "" for a
	// complete set.
	Extends string `json:"extends,omitempty"`
	// Source is "embedded" or the folder the set was loaded from; it is not
	// part of the manifest.
	Source string `json:"-"`
}

// Set is one template set: its manifest and its files.
type Set struct {
	SetInfo
	fsys fs.FS // rooted at the set folder
	// fromBase holds the files of an overlay set that come from its base.
	fromBase map[string]bool
}

var setNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,47}$`)

// Embedded returns the embedded set with the given name, or an ENotFound
// *kiln.Error when there is none.
func Embedded(name string) (*Set, error) {
	if !setNameRE.MatchString(name) {
		return nil, kiln.Errorf(kiln.ENotFound, "no embedded template set %q", name)
	}
	sub, err := fs.Sub(embedded, name)
	if err != nil {
		return nil, fmt.Errorf("embedded set %s: %w", name, err)
	}
	if _, err := fs.Stat(sub, Manifest); errors.Is(err, fs.ErrNotExist) {
		return nil, kiln.Errorf(kiln.ENotFound, "no embedded template set %q", name)
	}
	info, err := readManifest(sub, "embedded")
	if err != nil {
		return nil, err
	}
	return newSet(info, sub, "embedded")
}

// Open returns the embedded set called name, or the default set when name
// is empty. It returns an ENotFound *kiln.Error for an unknown name.
func Open(name string) (*Set, error) {
	if name == "" {
		name = DefaultSet
	}
	return Embedded(name)
}

// Load reads a template set from a folder, for example one written by
// `kiln templates export` and then edited. A set whose set.json names an
// embedded set in "extends" is an overlay: its files replace the base
// set's files of the same path and add to them, and everything else comes
// from the base. Load returns an EInvalid *kiln.Error when the folder is
// not a valid set.
func Load(dir string) (*Set, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, kiln.Errorf(kiln.EInvalid, "template folder %s: %v", dir, errors.Unwrap(err))
	} else if !st.IsDir() {
		return nil, kiln.Errorf(kiln.EInvalid, "template folder %s is not a folder", dir)
	}
	fsys := os.DirFS(dir)
	// Check the folder now so that a broken set fails here, not mid-render.
	n := 0
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > maxSetFiles {
			return kiln.Errorf(kiln.EInvalid, "template folder %s holds more than %d files", dir, maxSetFiles)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return kiln.Errorf(kiln.EInvalid, "template folder %s: %s is a symbolic link", dir, p)
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return kiln.Errorf(kiln.EInvalid, "template folder %s: %s is not a regular file", dir, p)
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Size() > maxFileSize {
				return kiln.Errorf(kiln.EInvalid, "template folder %s: %s is larger than %d bytes", dir, p, maxFileSize)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load template set: %w", err)
	}
	info, err := readManifest(fsys, dir)
	if err != nil {
		return nil, err
	}
	if info.Extends != "" {
		return loadOverlay(info, fsys, dir)
	}
	return newSet(info, fsys, dir)
}

// readManifest reads and checks a set's set.json.
func readManifest(fsys fs.FS, source string) (SetInfo, error) {
	b, err := fs.ReadFile(fsys, Manifest)
	if err != nil {
		return SetInfo{}, kiln.Errorf(kiln.EInvalid, "template set in %s has no readable %s", source, Manifest)
	}
	var info SetInfo
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		return SetInfo{}, kiln.Errorf(kiln.EInvalid, "template set in %s: %s: %v", source, Manifest, err)
	}
	if !setNameRE.MatchString(info.Name) {
		return SetInfo{}, kiln.Errorf(kiln.EInvalid, "template set in %s: %s: name %q must be lowercase letters, digits and dashes", source, Manifest, info.Name)
	}
	if info.Version == "" {
		return SetInfo{}, kiln.Errorf(kiln.EInvalid, "template set %s in %s: %s: version is required", info.Name, source, Manifest)
	}
	return info, nil
}

func newSet(info SetInfo, fsys fs.FS, source string) (*Set, error) {
	if st, err := fs.Stat(fsys, AppDir); err != nil || !st.IsDir() {
		return nil, kiln.Errorf(kiln.EInvalid, "template set %s in %s has no %s/ folder", info.Name, source, AppDir)
	}
	info.Source = source
	return &Set{SetInfo: info, fsys: fsys}, nil
}

// List describes the embedded template sets, sorted by name.
func List() []SetInfo {
	entries, _ := fs.ReadDir(embedded, ".") // the embedded root always reads
	var out []SetInfo
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if s, err := Embedded(e.Name()); err == nil {
			out = append(out, s.SetInfo)
		}
	}
	return out
}

// FS returns the set's files, rooted at the set folder.
func (s *Set) FS() fs.FS { return s.fsys }

// App returns the set's app/ folder: the files the renderer turns into the
// generated app.
func (s *Set) App() fs.FS {
	sub, _ := fs.Sub(s.fsys, AppDir) // AppDir is a valid path
	return sub
}

// Files lists every file of the set, slash-separated and sorted.
func (s *Set) Files() ([]string, error) {
	var out []string
	err := fs.WalkDir(s.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list template set %s: %w", s.Name, err)
	}
	slices.Sort(out)
	return out, nil
}

// Prompts lists the names of the set's prompt templates ("plan",
// "customize", "repair", …), sorted.
func (s *Set) Prompts() ([]string, error) {
	entries, err := fs.ReadDir(s.fsys, PromptsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("list prompts of %s: %w", s.Name, err)
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".tmpl"); ok && e.Type().IsRegular() {
			out = append(out, name)
		}
	}
	return out, nil
}

// Prompt returns the text of the prompt template called name, or an
// ENotFound *kiln.Error.
func (s *Set) Prompt(name string) (string, error) {
	if !setNameRE.MatchString(name) {
		return "", kiln.Errorf(kiln.ENotFound, "template set %s has no prompt %q", s.Name, name)
	}
	b, err := fs.ReadFile(s.fsys, path.Join(PromptsDir, name+".tmpl"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", kiln.Errorf(kiln.ENotFound, "template set %s has no prompt %q", s.Name, name)
	} else if err != nil {
		return "", fmt.Errorf("read prompt %s: %w", name, err)
	}
	return string(b), nil
}

// ReadFile returns the content of one file of the set, named by its
// slash-separated path inside the set.
func (s *Set) ReadFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(s.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read template file: %w", err)
	}
	return b, nil
}

// All returns every file of the set keyed by its slash-separated path, for
// example to export the set to a folder that can then be edited and loaded
// with Load.
func (s *Set) All() (map[string][]byte, error) {
	names, err := s.Files()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := s.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// RenderPrompt executes the prompt template called name with vars (the
// variables each prompt documents at its top) and returns the prompt text.
// A prompt that refers to a missing variable is an error.
func (s *Set) RenderPrompt(name string, vars any) (string, error) {
	src, err := s.Prompt(name)
	if err != nil {
		return "", err
	}
	t, err := template.New(name).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("parse prompt %s: %w", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, vars); err != nil {
		return "", fmt.Errorf("render prompt %s: %w", name, err)
	}
	return b.String(), nil
}
