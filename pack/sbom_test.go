package pack_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/pack"
)

func TestParseGoList(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/golist.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	main, deps, err := pack.ParseGoList(f)
	if err != nil {
		t.Fatal(err)
	}
	if main.Path != "example.com/library" || !main.Main {
		t.Errorf("main = %+v", main)
	}
	want := []pack.Module{
		{Path: "github.com/Masterminds/semver/v3", Version: "v3.2.1", Sum: "h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="},
		{Path: "github.com/fork/thing", Version: "v1.0.1-fix", Sum: "h1:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC="},
		{Path: "github.com/legacy/pkg", Version: "v2.0.0+incompatible"},
		{Path: "github.com/local/thing"},
		{Path: "modernc.org/sqlite", Version: "v1.60.1", Sum: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
	}
	if diff := cmp.Diff(want, deps); diff != "" {
		t.Errorf("deps (-want +got):\n%s", diff)
	}

	for name, in := range map[string]string{
		"NoMain":   `{"Path":"a","Version":"v1.0.0"}`,
		"TwoMains": `{"Path":"a","Main":true}{"Path":"b","Main":true}`,
		"NoPath":   `{"Main":true}{"Version":"v1.0.0"}`,
		"Garbage":  `{"Path":`,
	} {
		if _, _, err := pack.ParseGoList(strings.NewReader(in)); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Errorf("%s: err = %v, want EInvalid", name, err)
		}
	}
}

func TestParseGoSum(t *testing.T) {
	t.Parallel()
	sum := "github.com/b/x v1.0.0 h1:bbb=\ngithub.com/b/x v1.0.0/go.mod h1:ccc=\ngithub.com/a/only-mod v0.1.0/go.mod h1:ddd=\ngithub.com/a/y v0.2.0 h1:eee=\n\n"
	got, err := pack.ParseGoSum([]byte(sum))
	if err != nil {
		t.Fatal(err)
	}
	want := []pack.Module{{Path: "github.com/a/y", Version: "v0.2.0", Sum: "h1:eee="}, {Path: "github.com/b/x", Version: "v1.0.0", Sum: "h1:bbb="}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := pack.ParseGoSum([]byte("github.com/a v1 sha256:xyz\n")); kiln.ErrorCode(err) != kiln.EInvalid {
		t.Errorf("bad line: %v", err)
	}
}

func TestModule_PURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m    pack.Module
		want string
	}{
		{pack.Module{Path: "modernc.org/sqlite", Version: "v1.60.1"}, "pkg:golang/modernc.org/sqlite@v1.60.1"},
		{pack.Module{Path: "github.com/Masterminds/semver/v3", Version: "v3.2.1"}, "pkg:golang/github.com/Masterminds/semver/v3@v3.2.1"},
		{pack.Module{Path: "github.com/legacy/pkg", Version: "v2.0.0+incompatible"}, "pkg:golang/github.com/legacy/pkg@v2.0.0%2Bincompatible"},
		{pack.Module{Path: "golang.org/x/sys", Version: "v0.0.0-20240101000000-abcdef123456"}, "pkg:golang/golang.org/x/sys@v0.0.0-20240101000000-abcdef123456"},
		{pack.Module{Path: "example.com/app"}, "pkg:golang/example.com/app"},
		{pack.Module{Path: "example.com/we ird@x"}, "pkg:golang/example.com/we%20ird%40x"},
	} {
		if got := tc.m.PURL(); got != tc.want {
			t.Errorf("PURL(%+v) = %s, want %s", tc.m, got, tc.want)
		}
	}
}

// cdx is the part of a CycloneDX document the tests read.
type cdx struct {
	BOMFormat    string `json:"bomFormat"`
	SpecVersion  string `json:"specVersion"`
	SerialNumber string `json:"serialNumber"`
	Version      int    `json:"version"`
	Metadata     struct {
		Timestamp string `json:"timestamp"`
		Tools     struct {
			Components []cdxComp `json:"components"`
		} `json:"tools"`
		Component cdxComp `json:"component"`
	} `json:"metadata"`
	Components   []cdxComp `json:"components"`
	Dependencies []struct {
		Ref       string   `json:"ref"`
		DependsOn []string `json:"dependsOn"`
	} `json:"dependencies"`
}

type cdxComp struct {
	Type       string `json:"type"`
	BOMRef     string `json:"bom-ref"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	PURL       string `json:"purl"`
	Properties []struct {
		Name, Value string
	} `json:"properties"`
}

// serialRE is the pattern CycloneDX 1.5's schema gives serialNumber.
var serialRE = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSBOM(t *testing.T) {
	t.Parallel()
	f, err := os.ReadFile("testdata/golist.json")
	if err != nil {
		t.Fatal(err)
	}
	main, deps, err := pack.ParseGoList(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	main.Version = "v3"
	in := pack.SBOMInput{Main: main, Deps: deps, Created: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC), ToolVersion: "1.2.3"}
	b, err := pack.SBOM(in)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := pack.SBOM(in)
	if !bytes.Equal(b, again) {
		t.Fatal("same input, different SBOM")
	}
	var doc cdx
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.BOMFormat != "CycloneDX" || doc.SpecVersion != "1.5" || doc.Version != 1 || !serialRE.MatchString(doc.SerialNumber) {
		t.Errorf("header: %s %s %d %s", doc.BOMFormat, doc.SpecVersion, doc.Version, doc.SerialNumber)
	}
	if doc.Metadata.Timestamp != "2026-11-22T05:00:00Z" || doc.Metadata.Tools.Components[0].Version != "1.2.3" {
		t.Errorf("metadata: %+v", doc.Metadata)
	}
	if c := doc.Metadata.Component; c.Type != "application" || c.PURL != "pkg:golang/example.com/library@v3" {
		t.Errorf("main component: %+v", c)
	}
	var purls []string
	for _, c := range doc.Components {
		if c.Type != "library" || c.BOMRef != c.PURL {
			t.Errorf("component %+v", c)
		}
		purls = append(purls, c.PURL)
	}
	wantPURLs := []string{
		"pkg:golang/github.com/Masterminds/semver/v3@v3.2.1",
		"pkg:golang/github.com/fork/thing@v1.0.1-fix",
		"pkg:golang/github.com/legacy/pkg@v2.0.0%2Bincompatible",
		"pkg:golang/github.com/local/thing",
		"pkg:golang/modernc.org/sqlite@v1.60.1",
	}
	if diff := cmp.Diff(wantPURLs, purls); diff != "" {
		t.Errorf("purls (-want +got):\n%s", diff)
	}
	if p := doc.Components[4].Properties; len(p) != 1 || p[0].Name != pack.PropertyGoSum || !strings.HasPrefix(p[0].Value, "h1:") {
		t.Errorf("sqlite's go.sum property: %+v", p)
	}
	if len(doc.Dependencies) != 1 || doc.Dependencies[0].Ref != doc.Metadata.Component.BOMRef || len(doc.Dependencies[0].DependsOn) != 5 {
		t.Errorf("dependencies: %+v", doc.Dependencies)
	}

	// Another content, another serial number.
	in.Deps = in.Deps[1:]
	other, _ := pack.SBOM(in)
	var doc2 cdx
	json.Unmarshal(other, &doc2)
	if doc2.SerialNumber == doc.SerialNumber {
		t.Error("different content, same serial number")
	}
	if _, err := pack.SBOM(pack.SBOMInput{}); kiln.ErrorCode(err) != kiln.EInvalid {
		t.Errorf("no main module: %v", err)
	}
}

// The SBOM of a real module, from the real `go list -m -json all`.
func TestSBOM_GoList(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not installed")
	}
	sum, _ := os.ReadFile("../go.sum")
	var lines []string
	for _, l := range strings.Split(string(sum), "\n") {
		if strings.HasPrefix(l, "github.com/google/go-cmp v0.7.0") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Skip("go-cmp v0.7.0 is not in go.sum")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/tiny\n\ngo 1.22\n\nrequire github.com/google/go-cmp v0.7.0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.sum"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	cmd := exec.Command(gobin, "list", "-m", "-json", "all")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list -m (is go-cmp in the module cache?): %v", err)
	}
	main, deps, err := pack.ParseGoList(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	b, err := pack.SBOM(pack.SBOMInput{Main: main, Deps: deps})
	if err != nil {
		t.Fatal(err)
	}
	var doc cdx
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Components) != 1 || doc.Components[0].PURL != "pkg:golang/github.com/google/go-cmp@v0.7.0" ||
		len(doc.Components[0].Properties) != 1 || doc.Components[0].Properties[0].Value != strings.Fields(lines[0])[2] {
		t.Fatalf("components: %+v", doc.Components)
	}
}

func TestChecksums(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{
		"source.tar.gz":   []byte("tar"),
		"image.tar":       []byte("oci"),
		"sbom.cdx.json":   []byte("{}"),
		"with space.txt":  nil,
		"back\\slash":     []byte("b"),
		"new\nline":       []byte("n"),
		"provenance.json": []byte(`{"kiln_provenance":1}`),
	}
	hexes := map[string]string{}
	for name, content := range files {
		hexes[name] = hexSHA256(string(content))
	}
	sums := pack.Checksums(hexes)
	lines := strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n")
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d files:\n%s", len(lines), len(files), sums)
	}
	// Sorted by name; plain names as "<hex>  <name>", odd ones escaped.
	want := []string{
		`\` + hexSHA256("b") + `  back\\slash`,
		hexSHA256("oci") + "  image.tar",
		`\` + hexSHA256("n") + `  new\nline`,
	}
	if diff := cmp.Diff(want, lines[:3]); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	// The outside check: GNU sha256sum verifies every file.
	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("sha256sum is not installed")
	}
	dir := t.TempDir()
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums, 0o644)
	if out, err := checkCmd(sha256sum, dir).CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	// And it catches a changed file, so the check above means something.
	os.WriteFile(filepath.Join(dir, "image.tar"), []byte("tampered"), 0o644)
	if err := checkCmd(sha256sum, dir).Run(); err == nil {
		t.Fatal("sha256sum -c passed a tampered file")
	}
}

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// checkCmd is `sha256sum --strict -c SHA256SUMS` in dir.
func checkCmd(sha256sum, dir string) *exec.Cmd {
	c := exec.Command(sha256sum, "--strict", "-c", "SHA256SUMS")
	c.Dir = dir
	return c
}

func TestProvenance_JSON(t *testing.T) {
	t.Parallel()
	p := pack.Provenance{
		App: "library", BuildNumber: 3, SpecSHA256: "ab12", TemplateSet: "go-api", TemplateVersion: "1.0.0",
		Planner: "rules", GoVersion: "go1.26.8", KilnVersion: "dev", Sandboxed: true, ReportSHA256: "cd34",
		Subjects: []pack.Subject{{Name: "source.zip", SHA256: "2"}, {Name: "image.tar", SHA256: "1"}},
		Created:  time.Date(2026, 11, 22, 6, 0, 0, 0, time.FixedZone("CET", 3600)),
	}
	b, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := p.JSON()
	if !bytes.Equal(b, again) {
		t.Fatal("not deterministic")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"kiln_provenance": 1.0, "app": "library", "build_number": 3.0, "spec_sha256": "ab12",
		"template_set": "go-api", "template_version": "1.0.0", "planner": "rules", "go_version": "go1.26.8",
		"kiln_version": "dev", "sandboxed": true, "validation_report_sha256": "cd34", "created": "2026-11-22T05:00:00Z",
		"subjects": []any{
			map[string]any{"name": "image.tar", "sha256": "1"},
			map[string]any{"name": "source.zip", "sha256": "2"},
		},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("provenance JSON (-want +got):\n%s", diff)
	}
	if p.Subjects[0].Name != "source.zip" {
		t.Error("JSON reordered the caller's subjects")
	}
}

func TestModulesFromBuildInfo(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "example.com/app", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "modernc.org/sqlite", Version: "v1.60.1", Sum: "h1:aaa="},
			{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/new", Version: "v1.2.0", Sum: "h1:bbb="}},
			{Path: "example.com/local", Version: "v0.1.0", Replace: &debug.Module{Path: "../local"}},
		},
	}
	main, deps := pack.ModulesFromBuildInfo(bi)
	if main != (pack.Module{Path: "example.com/app", Main: true}) {
		t.Errorf("main %+v", main)
	}
	want := []pack.Module{
		{Path: "example.com/local"},
		{Path: "example.com/new", Version: "v1.2.0", Sum: "h1:bbb="},
		{Path: "modernc.org/sqlite", Version: "v1.60.1", Sum: "h1:aaa="},
	}
	if !slices.Equal(deps, want) {
		t.Errorf("deps %+v, want %+v", deps, want)
	}
}
