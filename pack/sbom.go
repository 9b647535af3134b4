package pack

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/kiln-build/kiln"
)

// Module is one Go module of an app: the main module or a dependency.
type Module struct {
	Path    string `json:"Path"`
	Version string `json:"Version,omitempty"` // "" for the main module or a folder replacement
	Sum     string `json:"Sum,omitempty"`     // go.sum's h1: hash of the module content
	Main    bool   `json:"Main,omitempty"`
}

// goListModule is what `go list -m -json` prints for a module.
type goListModule struct {
	Module
	Replace *goListModule `json:"Replace,omitempty"`
}

// ParseGoList reads the output of `go list -m -json all` (a stream of
// JSON objects) and returns the main module and its dependencies, sorted
// by path, with replacements applied. EInvalid on malformed input or
// when there is no main module.
func ParseGoList(r io.Reader) (main Module, deps []Module, err error) {
	dec := json.NewDecoder(r)
	found := false
	for {
		var m goListModule
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return Module{}, nil, kiln.Errorf(kiln.EInvalid, "go list output: %v", err)
		}
		if m.Path == "" {
			return Module{}, nil, kiln.Errorf(kiln.EInvalid, "go list output: module without a path")
		}
		if m.Main {
			if found {
				return Module{}, nil, kiln.Errorf(kiln.EInvalid, "go list output: two main modules (a workspace?)")
			}
			main, found = m.Module, true
			continue
		}
		mod := m.Module
		if r := m.Replace; r != nil {
			mod = replaced(mod, r.Path, r.Version, r.Sum)
		}
		deps = append(deps, mod)
	}
	if !found {
		return Module{}, nil, kiln.Errorf(kiln.EInvalid, "go list output: no main module")
	}
	sortModules(deps)
	return main, deps, nil
}

// ParseGoSum returns the modules whose content go.sum pins (lines without
// the /go.mod suffix), sorted by path and version. Modules listed only for
// their go.mod took part in version selection but are not built in, so
// they are left out. EInvalid on a malformed line.
func ParseGoSum(data []byte) ([]Module, error) {
	var mods []Module
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || !strings.HasPrefix(f[2], "h1:") {
			return nil, kiln.Errorf(kiln.EInvalid, "go.sum line %d: want \"module version h1:hash\"", n)
		}
		if strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		mods = append(mods, Module{Path: f[0], Version: f[1], Sum: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pack: go.sum: %w", err)
	}
	sortModules(mods)
	return mods, nil
}

// ModulesFromBuildInfo returns the main module and the dependency modules
// recorded in a Go binary (debug/buildinfo): exactly what was compiled
// into it, sorted by path, with replacements applied the way ParseGoList
// applies them. The main module's "(devel)" version becomes "".
func ModulesFromBuildInfo(bi *debug.BuildInfo) (main Module, deps []Module) {
	main = Module{Path: bi.Main.Path, Version: bi.Main.Version, Sum: bi.Main.Sum, Main: true}
	if main.Version == "(devel)" {
		main.Version = ""
	}
	for _, d := range bi.Deps {
		mod := Module{Path: d.Path, Version: d.Version, Sum: d.Sum}
		if r := d.Replace; r != nil {
			mod = replaced(mod, r.Path, r.Version, r.Sum)
		}
		deps = append(deps, mod)
	}
	sortModules(deps)
	return main, deps
}

// replaced returns mod as its replacement builds it: a module replacement
// names what is really built; a folder replacement has no version or sum
// to record, so mod keeps its own path.
func replaced(mod Module, path, version, sum string) Module {
	mod.Version, mod.Sum = version, sum
	if version != "" {
		mod.Path = path
	}
	return mod
}

func sortModules(m []Module) {
	sort.Slice(m, func(i, j int) bool {
		if m[i].Path != m[j].Path {
			return m[i].Path < m[j].Path
		}
		return m[i].Version < m[j].Version
	})
}

// PURL returns the package URL of a Go module: pkg:golang/PATH@VERSION,
// each path element and the version percent-encoded.
func (m Module) PURL() string {
	parts := strings.Split(m.Path, "/")
	for i, p := range parts {
		parts[i] = purlEscape(p)
	}
	s := "pkg:golang/" + strings.Join(parts, "/")
	if m.Version != "" {
		s += "@" + purlEscape(m.Version)
	}
	return s
}

// purlEscape percent-encodes all but RFC 3986's unreserved characters.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// SBOMInput is what SBOM describes.
type SBOMInput struct {
	Main        Module    // the app; its Version is the app version, if any
	Deps        []Module  // the modules built into it
	Created     time.Time // metadata.timestamp; zero leaves it out
	ToolVersion string    // Kiln's version, recorded as the tool
}

// CycloneDX 1.5 document, the subset Kiln writes.
type cdxBOM struct {
	BOMFormat    string         `json:"bomFormat"`
	SpecVersion  string         `json:"specVersion"`
	SerialNumber string         `json:"serialNumber,omitempty"`
	Version      int            `json:"version"`
	Metadata     cdxMetadata    `json:"metadata"`
	Components   []cdxComponent `json:"components"`
	Dependencies []cdxDep       `json:"dependencies,omitempty"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp,omitempty"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type       string        `json:"type"`
	BOMRef     string        `json:"bom-ref,omitempty"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDep struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// PropertyGoSum names the component property holding go.sum's h1: hash.
// It is not a CycloneDX hash: h1 hashes a list of file hashes, not a file.
const PropertyGoSum = "kiln:go:sum"

// SBOM returns a CycloneDX 1.5 JSON document listing in's main module as
// the described component and every dependency as a library with its
// package URL. The serial number is a UUID derived from the content, so
// the same input gives the same bytes. EInvalid without a main module path.
func SBOM(in SBOMInput) ([]byte, error) {
	if in.Main.Path == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "sbom: the main module has no path")
	}
	comp := func(typ string, m Module) cdxComponent {
		c := cdxComponent{Type: typ, BOMRef: m.PURL(), Name: m.Path, Version: m.Version, PURL: m.PURL()}
		if m.Sum != "" {
			c.Properties = []cdxProperty{{Name: PropertyGoSum, Value: m.Sum}}
		}
		return c
	}
	deps := append([]Module(nil), in.Deps...)
	sortModules(deps)
	bom := cdxBOM{
		BOMFormat:   "CycloneDX",
		SpecVersion: "1.5",
		Version:     1,
		Metadata: cdxMetadata{
			Tools:     cdxTools{Components: []cdxComponent{{Type: "application", Name: "kiln", Version: in.ToolVersion}}},
			Component: comp("application", in.Main),
		},
		Components: []cdxComponent{},
	}
	if !in.Created.IsZero() {
		bom.Metadata.Timestamp = in.Created.UTC().Format(time.RFC3339)
	}
	seen := map[string]bool{bom.Metadata.Component.BOMRef: true}
	var refs []string
	for _, d := range deps {
		c := comp("library", d)
		if seen[c.BOMRef] {
			continue // bom-refs must be unique
		}
		seen[c.BOMRef] = true
		bom.Components = append(bom.Components, c)
		refs = append(refs, c.BOMRef)
	}
	// The app depends on every module built into it; go list -m does not
	// say which of them depend on which.
	bom.Dependencies = []cdxDep{{Ref: bom.Metadata.Component.BOMRef, DependsOn: append([]string{}, refs...)}}

	body, err := json.Marshal(bom)
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	bom.SerialNumber = "urn:uuid:" + uuidV5(sbomNamespace, body)
	out, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	return append(out, '\n'), nil
}

// sbomNamespace is the UUID namespace of SBOM serial numbers (a random
// UUID fixed for Kiln).
var sbomNamespace = [16]byte{0x6b, 0x69, 0x6c, 0x6e, 0x2d, 0x73, 0x4b, 0x62, 0x9d, 0x0a, 0x53, 0x42, 0x4f, 0x4d, 0x31, 0x35}

// uuidV5 returns the RFC 4122 name-based (SHA-1) UUID of name in ns.
func uuidV5(ns [16]byte, name []byte) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
