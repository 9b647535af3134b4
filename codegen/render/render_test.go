package render_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"go/format"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// librarySpec is the 3-entity spec of the golden files: books belong to an
// author (required) and loans belong to a book (required).
func librarySpec() *kiln.AppSpec {
	return &kiln.AppSpec{
		KilnSpec: kiln.SpecVersion,
		Name:     "library",
		Summary:  "A library API with authors, books and loans.",
		Entities: []kiln.Entity{
			{Name: "author", Plural: "authors", Fields: []kiln.Field{
				{Name: "name", Type: kiln.FieldString, Required: true},
				{Name: "email", Type: kiln.FieldEmail, Unique: true},
			}},
			{Name: "book", Plural: "books", Fields: []kiln.Field{
				{Name: "title", Type: kiln.FieldString, Required: true},
				{Name: "year", Type: kiln.FieldInteger},
				{Name: "price", Type: kiln.FieldDecimal},
			}},
			{Name: "loan", Plural: "loans", Fields: []kiln.Field{
				{Name: "borrower", Type: kiln.FieldString, Required: true},
				{Name: "due_on", Type: kiln.FieldDate, Required: true},
				{Name: "returned", Type: kiln.FieldBoolean, Required: true, Default: false},
			}},
		},
		Relations: []kiln.Relation{
			{From: "book", To: "author", Kind: kiln.RelationBelongsTo, Field: "author_id", Required: true},
			{From: "loan", To: "book", Kind: kiln.RelationBelongsTo, Field: "book_id", Required: true},
		},
	}
}

// richSpec uses every field type, unique fields, defaults, a required and
// an optional relation, a self-reference, and an entity named after a SQL
// keyword.
func richSpec() *kiln.AppSpec {
	return &kiln.AppSpec{
		KilnSpec: kiln.SpecVersion,
		Name:     "shop_admin",
		Summary:  "Customers, their orders and product categories.",
		Features: []string{kiln.FeatureUI, kiln.FeatureSearch},
		Entities: []kiln.Entity{
			{Name: "customer", Plural: "customers", Fields: []kiln.Field{
				{Name: "name", Type: kiln.FieldString, Required: true},
				{Name: "email", Type: kiln.FieldEmail, Required: true, Unique: true},
				{Name: "website", Type: kiln.FieldURL},
				{Name: "notes", Type: kiln.FieldText},
				{Name: "active", Type: kiln.FieldBoolean, Required: true, Default: true},
				{Name: "born_on", Type: kiln.FieldDate},
			}},
			{Name: "order", Plural: "orders", Fields: []kiln.Field{
				{Name: "total", Type: kiln.FieldDecimal, Required: true},
				{Name: "quantity", Type: kiln.FieldInteger, Required: true, Default: 1},
				{Name: "placed_at", Type: kiln.FieldTimestamp, Required: true},
				{Name: "kind", Type: kiln.FieldString},
			}},
			{Name: "category", Plural: "categories", Fields: []kiln.Field{
				{Name: "title", Type: kiln.FieldString, Required: true, Unique: true},
				{Name: "rank", Type: kiln.FieldInteger, Unique: true},
			}},
		},
		Relations: []kiln.Relation{
			{From: "order", To: "customer", Kind: kiln.RelationBelongsTo, Field: "customer_id", Required: true},
			{From: "order", To: "category", Kind: kiln.RelationBelongsTo, Field: "category_id"},
			{From: "category", To: "category", Kind: kiln.RelationBelongsTo, Field: "parent_id"},
		},
	}
}

// MustRender renders spec with the embedded go-api set.
func MustRender(tb testing.TB, spec *kiln.AppSpec) render.Files {
	tb.Helper()
	set, err := templates.Embedded("go-api")
	if err != nil {
		tb.Fatal(err)
	}
	files, err := render.Render(set, spec)
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	files := MustRender(t, librarySpec())
	dir := filepath.Join("testdata", "library")
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := render.WriteDir(files, dir); err != nil {
			t.Fatal(err)
		}
	}
	golden := render.Files{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		golden[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("read golden files (run go test ./codegen/render -run Golden -update): %v", err)
	}
	if diff := cmp.Diff(golden.Paths(), files.Paths()); diff != "" {
		t.Fatalf("rendered file list differs from testdata/library (-golden +rendered):\n%s", diff)
	}
	for _, p := range files.Paths() {
		if diff := cmp.Diff(strings.Split(string(golden[p]), "\n"), strings.Split(string(files[p]), "\n")); diff != "" {
			t.Errorf("%s differs from its golden file (-golden +rendered):\n%s", p, diff)
		}
	}
}

func TestRenderDeterministic(t *testing.T) {
	t.Parallel()
	for _, spec := range []*kiln.AppSpec{librarySpec(), richSpec()} {
		a, b := MustRender(t, spec), MustRender(t, spec)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: two renders differ:\n%s", spec.Name, diff)
		}
	}
}

func TestRenderGofmtClean(t *testing.T) {
	t.Parallel()
	for _, spec := range []*kiln.AppSpec{librarySpec(), richSpec()} {
		files := MustRender(t, spec)
		n := 0
		for _, p := range files.Paths() {
			if !strings.HasSuffix(p, ".go") {
				continue
			}
			n++
			got, err := format.Source(files[p])
			if err != nil {
				t.Errorf("%s/%s does not parse: %v", spec.Name, p, err)
			} else if !bytes.Equal(got, files[p]) {
				t.Errorf("%s/%s is not gofmt-clean", spec.Name, p)
			}
		}
		if want := 8 + 3*len(spec.Entities); n != want { // main, api (3), store, web, analytics (2)
			t.Errorf("%s: %d Go files, want %d", spec.Name, n, want)
		}
	}
}

func TestRenderContract(t *testing.T) {
	t.Parallel()
	spec := richSpec()
	files := MustRender(t, spec)
	for _, p := range []string{
		"go.mod", "go.sum", "kiln.json", "README.md", "Dockerfile", "main.go",
		"internal/store/migrations/0001_init.sql", "internal/web/static/index.html",
		"internal/web/static/app.js", "internal/api/order_api_test.go", "internal/store/category_store.go",
	} {
		if _, ok := files[p]; !ok {
			t.Errorf("no %s in the rendered app", p)
		}
	}
	var got kiln.AppSpec
	if err := jsonUnmarshal(files["kiln.json"], &got); err != nil {
		t.Fatalf("kiln.json: %v", err)
	}
	if diff := cmp.Diff(spec.Hash(), got.Hash()); diff != "" {
		t.Errorf("kiln.json is not the spec: %s", files["kiln.json"])
	}
	if !bytes.HasPrefix(files["go.mod"], []byte("module example.com/shop_admin\n\ngo 1.26")) {
		t.Errorf("go.mod starts %q", files["go.mod"][:40])
	}
	sql := string(files["internal/store/migrations/0001_init.sql"])
	for _, want := range []string{
		`"customer_id" INTEGER NOT NULL REFERENCES "customers" ("id") ON DELETE RESTRICT`,
		`"category_id" INTEGER REFERENCES "categories" ("id") ON DELETE SET NULL`,
		`"parent_id" INTEGER REFERENCES "categories" ("id") ON DELETE SET NULL`,
		`"email" TEXT NOT NULL UNIQUE`,
		`CREATE TABLE IF NOT EXISTS "orders"`,
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("migration lacks %s:\n%s", want, sql)
		}
	}
	js := string(files["internal/web/static/app.js"])
	if strings.Contains(js, "innerHTML") || strings.Contains(js, "insertAdjacentHTML") || strings.Contains(js, "document.write") {
		t.Error("app.js writes HTML; it must only use textContent")
	}
	main := string(files["main.go"])
	for _, want := range []string{"analytics.FromEnv(getenv, log)", "tracker.Middleware(handler)", "tracker.Close(flushCtx)"} {
		if !strings.Contains(main, want) {
			t.Errorf("main.go does not wire the analytics client: lacks %s", want)
		}
	}
}

func TestRenderRejects(t *testing.T) {
	t.Parallel()
	set, err := templates.Embedded("go-api")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(s *kiln.AppSpec){
		"InvalidSpec": func(s *kiln.AppSpec) { s.Entities[0].Name = "../../etc" },
		"BadDefault":  func(s *kiln.AppSpec) { s.Entities[1].Fields[1].Default = "soon" },
		"RequiredLoop": func(s *kiln.AppSpec) {
			s.Relations = append(s.Relations, kiln.Relation{From: "author", To: "loan", Kind: kiln.RelationBelongsTo, Field: "loan_id", Required: true})
		},
		"ReservedFK":   func(s *kiln.AppSpec) { s.Relations[0].Field = "i_d" },
		"SelfRequired": func(s *kiln.AppSpec) { s.Relations[0].To = "book" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := librarySpec()
			mutate(spec)
			_, err := render.Render(set, spec)
			if code := kiln.ErrorCode(err); code != kiln.EInvalid {
				t.Errorf("Render error %v (code %q), want code %q", err, code, kiln.EInvalid)
			}
		})
	}
}

func TestRenderReservedEntityName(t *testing.T) {
	t.Parallel()
	spec := librarySpec()
	spec.Entities[0].Name, spec.Entities[0].Plural = "open", "opens"
	spec.Relations[0].To = "open"
	files := MustRender(t, spec)
	if !bytes.Contains(files["internal/store/open_store.go"], []byte("type OpenRecord struct")) {
		t.Errorf("entity %q did not become OpenRecord; files: %v", "open", files.Paths())
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestWriteDir(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "app")
		files := render.Files{"a.txt": []byte("a"), "x/y/z.go": []byte("package y\n")}
		if err := render.WriteDir(files, dir); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "x", "y", "z.go"))
		if err != nil || string(b) != "package y\n" {
			t.Fatalf("read back %q, %v", b, err)
		}
		st, err := os.Stat(filepath.Join(dir, "a.txt"))
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("a.txt mode %v, %v; want 0644", st.Mode(), err)
		}
		st, err = os.Stat(filepath.Join(dir, "x", "y"))
		if err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("x/y mode %v, %v; want 0755", st.Mode(), err)
		}
	})
	for _, bad := range []string{"../evil", "a/../../evil", "/etc/evil", "a//b", "./a", `a\..\b`, ""} {
		t.Run("Refuses "+bad, func(t *testing.T) {
			dir := t.TempDir()
			err := render.WriteDir(render.Files{"ok.txt": []byte("ok"), bad: []byte("x")}, filepath.Join(dir, "app"))
			if err == nil {
				t.Fatalf("WriteDir accepted %q", bad)
			}
			if _, err := os.Stat(filepath.Join(dir, "app", "ok.txt")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("WriteDir wrote files before refusing %q", bad)
			}
		})
	}
	t.Run("SymlinkEscape", func(t *testing.T) {
		dir, outside := t.TempDir(), t.TempDir()
		if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
			t.Skip("no symlinks:", err)
		}
		err := render.WriteDir(render.Files{"link/evil.txt": []byte("x")}, dir)
		if err == nil {
			t.Error("WriteDir followed a symlink out of its folder")
		}
		if _, err := os.Stat(filepath.Join(outside, "evil.txt")); !errors.Is(err, fs.ErrNotExist) {
			t.Error("a file was written outside the folder")
		}
	})
}

func BenchmarkRender(b *testing.B) {
	set, err := templates.Embedded("go-api")
	if err != nil {
		b.Fatal(err)
	}
	spec := librarySpec()
	for b.Loop() {
		if _, err := render.Render(set, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRenderScriptParses checks the web UI script with Node when it is
// installed: a syntax error there breaks the UI without failing any Go test.
func TestRenderScriptParses(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; skipping the app.js syntax check")
	}
	for _, spec := range []*kiln.AppSpec{librarySpec(), richSpec()} {
		p := filepath.Join(t.TempDir(), "app.js")
		if err := os.WriteFile(p, MustRender(t, spec)["internal/web/static/app.js"], 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(node, "--check", p).CombinedOutput(); err != nil {
			t.Errorf("%s: app.js does not parse: %v\n%s", spec.Name, err, out)
		}
	}
}

// TestGoSumComplete checks that go.sum lists both hashes of every module
// go.mod requires, so that builds work with -mod=readonly.
func TestGoSumComplete(t *testing.T) {
	t.Parallel()
	files := MustRender(t, librarySpec())
	sum := string(files["go.sum"])
	n := 0
	for _, line := range strings.Split(string(files["go.mod"]), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) < 2 || !strings.Contains(f[0], ".") || !strings.HasPrefix(f[1], "v") {
			continue
		}
		n++
		for _, want := range []string{f[0] + " " + f[1] + " h1:", f[0] + " " + f[1] + "/go.mod h1:"} {
			if !strings.Contains(sum, want) {
				t.Errorf("go.sum lacks %q", want)
			}
		}
	}
	if n < 2 {
		t.Errorf("found %d requirements in go.mod:\n%s", n, files["go.mod"])
	}
}
