package edit

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// checkGoMod returns why a new go.mod may not replace old: it must parse,
// keep the module path, the go and toolchain lines and the replace
// directives, and require only module versions already in modCache (the
// checks run without network, so nothing else could be fetched).
func checkGoMod(old, next []byte, modCache string) []string {
	nf, err := modfile.Parse("go.mod", next, nil)
	if err != nil {
		return []string{"the new go.mod does not parse: " + err.Error()}
	}
	of, err := modfile.Parse("go.mod", old, nil)
	if err != nil {
		of = &modfile.File{}
	}
	var whys []string
	modPath := func(f *modfile.File) string {
		if f.Module == nil {
			return ""
		}
		return f.Module.Mod.Path
	}
	if modPath(nf) != modPath(of) {
		whys = append(whys, fmt.Sprintf("the module path must stay %q", modPath(of)))
	}
	goVer := func(f *modfile.File) string {
		if f.Go == nil {
			return ""
		}
		return f.Go.Version
	}
	if goVer(nf) != goVer(of) {
		whys = append(whys, fmt.Sprintf("the go line must stay %q", goVer(of)))
	}
	toolchain := func(f *modfile.File) string {
		if f.Toolchain == nil {
			return ""
		}
		return f.Toolchain.Name
	}
	if toolchain(nf) != toolchain(of) {
		whys = append(whys, "the toolchain line may not change")
	}
	oldReplace := map[string]bool{}
	for _, r := range of.Replace {
		oldReplace[r.Old.String()+"=>"+r.New.String()] = true
	}
	for _, r := range nf.Replace {
		if !oldReplace[r.Old.String()+"=>"+r.New.String()] {
			whys = append(whys, fmt.Sprintf("replace directives may not be added (%s => %s)", r.Old, r.New))
		}
	}
	had := map[module.Version]bool{}
	for _, r := range of.Require {
		had[r.Mod] = true
	}
	for _, r := range nf.Require {
		if had[r.Mod] {
			continue
		}
		if !inModCache(modCache, r.Mod) {
			whys = append(whys, fmt.Sprintf("requires %s, which is not in the module cache (builds run without network; use the standard library or modules the app already requires)", r.Mod))
		}
	}
	return whys
}

// inModCache reports whether m's go.mod and source are downloaded.
func inModCache(modCache string, m module.Version) bool {
	if modCache == "" {
		return false
	}
	ep, err := module.EscapePath(m.Path)
	if err != nil {
		return false
	}
	ev, err := module.EscapeVersion(m.Version)
	if err != nil {
		return false
	}
	dl := filepath.Join(modCache, "cache", "download", filepath.FromSlash(ep), "@v")
	if _, err := os.Stat(filepath.Join(dl, ev+".mod")); err != nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(dl, ev+".zip")); err == nil {
		return true
	}
	st, err := os.Stat(filepath.Join(modCache, filepath.FromSlash(ep)+"@"+ev))
	return err == nil && st.IsDir()
}
