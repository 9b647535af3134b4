package edit_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln/codegen/edit"
)

const goMod = "module example.com/library\n\ngo 1.26.0\n\nrequire modernc.org/sqlite v1.60.1\n"

const bookAPI = `package api

func validate(b *Book) error {
	if b.Title == "" {
		return errRequired("title")
	}
	return nil
}
`

// MustApp writes a small app to a fresh folder and returns it with its files.
func MustApp(tb testing.TB) (string, map[string][]byte) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "app")
	files := map[string][]byte{
		"go.mod":                  []byte(goMod),
		"kiln.json":               []byte("{}\n"),
		"main.go":                 []byte("package main\n\nfunc main() {}\n"),
		"internal/api/book.go":    []byte(bookAPI),
		"internal/web/index.html": []byte("<h1>Library</h1>\n"),
	}
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		require.NoError(tb, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(tb, os.WriteFile(full, b, 0o644))
	}
	return dir, files
}

// snapshot reads every file under dir.
func snapshot(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			out[filepath.ToSlash(rel)] = "symlink"
			return nil
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	require.NoError(tb, err)
	return out
}

func mustParse(tb testing.TB, s string) *edit.Answer {
	tb.Helper()
	a, err := edit.Parse(s, edit.Limits{})
	require.NoError(tb, err)
	return a
}

func TestParse(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		a := mustParse(t, `SUMMARY: titles may not be blank

<<<FILE internal/api/rules.go
package api

const maxTitle = 200
FILE>>>

<<<EDIT internal/api/book.go
<<<<<<< SEARCH
	if b.Title == "" {
=======
	if strings.TrimSpace(b.Title) == "" {
>>>>>>> REPLACE

<<<<<<< SEARCH
	return nil
=======
>>>>>>> REPLACE
EDIT>>>
`)
		require.Equal(t, "titles may not be blank", a.Summary)
		require.Equal(t, []edit.Edit{
			{Path: "internal/api/rules.go", Kind: edit.Whole, Content: "package api\n\nconst maxTitle = 200\n", Line: 3},
			{Path: "internal/api/book.go", Kind: edit.Replace, Line: 9, Hunks: []edit.Hunk{
				{Search: "\tif b.Title == \"\" {", Replace: "\tif strings.TrimSpace(b.Title) == \"\" {"},
				{Search: "\treturn nil", Replace: ""},
			}},
		}, a.Edits)
	})
	t.Run("NoChanges", func(t *testing.T) {
		t.Parallel()
		a := mustParse(t, "SUMMARY: the template already does it\nNO CHANGES\n")
		require.True(t, a.NoChanges)
		require.Empty(t, a.Edits)
	})
	t.Run("Fenced", func(t *testing.T) {
		t.Parallel()
		a := mustParse(t, "```text\n<<<FILE a.go\npackage a\nFILE>>>\n```\n")
		require.Len(t, a.Edits, 1)
		require.Equal(t, "package a\n", a.Edits[0].Content)
	})
	t.Run("CRLF", func(t *testing.T) {
		t.Parallel()
		a := mustParse(t, "<<<FILE a.go\r\npackage a\r\nFILE>>>\r\n")
		require.Equal(t, "package a\n", a.Edits[0].Content)
	})
	for _, tc := range []struct {
		name, in, want string
	}{
		{"ErrEmpty", "  \n\n", "no <<<FILE or <<<EDIT block"},
		{"ErrProse", "Here is the fix:\n<<<FILE a.go\npackage a\nFILE>>>\n", `line 1: text outside a block: "Here is the fix:"`},
		{"ErrProseAfter", "<<<FILE a.go\npackage a\nFILE>>>\nHope this helps!\n", "line 4: text outside a block"},
		{"ErrUnclosedFile", "<<<FILE a.go\npackage a\n", "line 1: the FILE block of a.go is not closed"},
		{"ErrNestedBlock", "<<<FILE a.go\npackage a\n<<<FILE b.go\nFILE>>>\n", "line 3: a new block starts before FILE>>>"},
		{"ErrNoPath", "<<<FILE \nx\nFILE>>>\n", "<<<FILE needs a path"},
		{"ErrUnclosedEdit", "<<<EDIT a.go\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "not closed with an EDIT>>> line"},
		{"ErrEmptyEdit", "<<<EDIT a.go\nEDIT>>>\n", "has no SEARCH/REPLACE pair"},
		{"ErrNoDivider", "<<<EDIT a.go\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\nEDIT>>>\n", "REPLACE before ======="},
		{"ErrTwoDividers", "<<<EDIT a.go\n<<<<<<< SEARCH\nx\n=======\ny\n=======\n>>>>>>> REPLACE\nEDIT>>>\n", "a second ======="},
		{"ErrUnclosedHunk", "<<<EDIT a.go\n<<<<<<< SEARCH\nx\n=======\ny\nEDIT>>>\n", "is not closed with \">>>>>>> REPLACE\""},
		{"ErrEmptySearch", "<<<EDIT a.go\n<<<<<<< SEARCH\n\n=======\ny\n>>>>>>> REPLACE\nEDIT>>>\n", "SEARCH text for a.go is empty"},
		{"ErrJunkInEdit", "<<<EDIT a.go\nsome text\nEDIT>>>\n", "expected \"<<<<<<< SEARCH\""},
		{"ErrDuplicate", "<<<FILE a.go\nx\nFILE>>>\n<<<EDIT a.go\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\nEDIT>>>\n", "a.go already has a block at line 1"},
		{"ErrNoChangesAndBlock", "NO CHANGES\n<<<FILE a.go\nx\nFILE>>>\n", "NO CHANGES cannot come with blocks"},
		{"ErrLateSummary", "<<<FILE a.go\nx\nFILE>>>\nSUMMARY: x\n", "SUMMARY must be the first line"},
		{"ErrNUL", "<<<FILE a.go\nx\x00\nFILE>>>\n", "NUL byte"},
		{"ErrUTF8", "<<<FILE a.go\n\xff\nFILE>>>\n", "not valid UTF-8"},
		{"ErrHugeFile", "<<<FILE a.go\n" + strings.Repeat("x\n", 200<<10) + "FILE>>>\n", "larger than 262144 bytes"},
		{"ErrHugeAnswer", strings.Repeat("x", 2<<20), "larger than 1048576 bytes"},
		{"ErrTooManyBlocks", manyBlocks(41), "more than 40 blocks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := edit.Parse(tc.in, edit.Limits{})
			require.Nil(t, a)
			var pe *edit.ParseError
			require.ErrorAs(t, err, &pe)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func manyBlocks(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("<<<FILE f" + strings.Repeat("x", i) + ".go\nx\nFILE>>>\n")
	}
	return b.String()
}

func TestCheckPath(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]string{
		"main.go":                          "",
		"internal/api/book_rules.go":       "",
		"internal/web/static/app.js":       "",
		"internal/store/migrations/x.sql":  "",
		"go.mod":                           "",
		"README.md":                        "",
		"":                                 "empty",
		"../etc/passwd.go":                 "leaves the app",
		"internal/../../x.go":              "leaves the app",
		"/etc/x.go":                        "absolute",
		"C:/x.go":                          "absolute",
		`internal\api\x.go`:                "backslash",
		"./main.go":                        "not clean",
		"internal//x.go":                   "not clean",
		".git/config.go":                   "hidden",
		"internal/.env.go":                 "hidden",
		"vendor/x/y.go":                    "vendored",
		"go.sum":                           "go.sum is written by Kiln",
		"kiln.json":                        "the app's spec",
		"Dockerfile":                       "only source files",
		"run.sh":                           "only source files",
		"internal/a\x00.go":                "control characters",
		"internal/a\nb.go":                 "control characters",
		strings.Repeat("a/", 101) + "x.go": "longer than 200",
	} {
		got := edit.CheckPath(p)
		if want == "" {
			require.Empty(t, got, p)
		} else {
			require.Contains(t, got, want, p)
		}
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		dir, files := MustApp(t)
		a := mustParse(t, `<<<FILE internal/api/rules.go
package api

const maxTitle = 200
FILE>>>
<<<EDIT internal/api/book.go
<<<<<<< SEARCH
	if b.Title == "" {
		return errRequired("title")
	}
=======
	if b.Title == "" {
		return errRequired("title")
	}
	if len(b.Title) > maxTitle {
		return errTooLong("title")
	}
>>>>>>> REPLACE
EDIT>>>
<<<FILE main.go
package main

func main() { run() }
FILE>>>
`)
		changes, err := edit.Apply(dir, files, a, edit.Policy{})
		require.NoError(t, err)
		require.Equal(t, []edit.Change{
			{Path: "internal/api/rules.go", Action: "created", Added: 3},
			{Path: "internal/api/book.go", Action: "edited", Added: 3},
			{Path: "main.go", Action: "replaced", Added: 1, Removed: 1},
		}, changes)
		snap := snapshot(t, dir)
		require.Equal(t, "package api\n\nconst maxTitle = 200\n", snap["internal/api/rules.go"])
		require.Contains(t, snap["internal/api/book.go"], "errTooLong")
		require.Equal(t, snap["internal/api/book.go"], string(files["internal/api/book.go"]), "files mirrors the disk")
		require.Equal(t, snap["internal/api/rules.go"], string(files["internal/api/rules.go"]))
		for p := range snap {
			require.NotContains(t, p, ".kiln-edit", "no temporary file is left")
		}
	})
	t.Run("Unchanged", func(t *testing.T) {
		t.Parallel()
		dir, files := MustApp(t)
		changes, err := edit.Apply(dir, files, mustParse(t, "<<<FILE main.go\npackage main\n\nfunc main() {}\nFILE>>>\n"), edit.Policy{})
		require.NoError(t, err)
		require.Empty(t, changes)
	})
	for _, tc := range []struct {
		name, answer string
		want         []string
		setup        func(t *testing.T, dir string)
	}{
		{name: "ErrEscape", answer: "<<<FILE ../evil.go\npackage evil\nFILE>>>\n", want: []string{"../evil.go: the path leaves the app"}},
		{name: "ErrAbsolute", answer: "<<<FILE /tmp/evil.go\npackage evil\nFILE>>>\n", want: []string{"/tmp/evil.go: the path is absolute"}},
		{name: "ErrSpec", answer: "<<<FILE kiln.json\n{}\nFILE>>>\n", want: []string{"kiln.json: kiln.json is the app's spec"}},
		{name: "ErrEditMissing", answer: "<<<EDIT internal/api/nope.go\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\nEDIT>>>\n", want: []string{"no such file to EDIT"}},
		{name: "ErrSearchNotFound", answer: "<<<EDIT internal/api/book.go\n<<<<<<< SEARCH\n    if b.Title == \"\" {\n=======\ny\n>>>>>>> REPLACE\nEDIT>>>\n", want: []string{"the SEARCH text of pair 1 was not found"}},
		{name: "ErrSearchTwice", answer: "<<<EDIT internal/api/book.go\n<<<<<<< SEARCH\n\treturn\n=======\ny\n>>>>>>> REPLACE\nEDIT>>>\n", want: []string{"occurs 2 times"}},
		{name: "ErrEmptyFile", answer: "<<<FILE main.go\n\nFILE>>>\n", want: []string{"the new content is empty"}},
		{name: "ErrOversize", answer: "<<<EDIT internal/api/book.go\n<<<<<<< SEARCH\npackage api\n=======\npackage api\n" + strings.Repeat("// padding padding padding\n", 5200) +
			">>>>>>> REPLACE\n<<<<<<< SEARCH\n\treturn nil\n=======\n" + strings.Repeat("// padding padding padding\n", 5200) + ">>>>>>> REPLACE\nEDIT>>>\n", want: []string{"larger than 262144 bytes"}},
		{name: "ErrSymlinkFile", answer: "<<<FILE internal/api/link.go\npackage api\nFILE>>>\n", want: []string{"internal/api/link.go is a symbolic link"},
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.Symlink(filepath.Join(dir, "..", "outside.go"), filepath.Join(dir, "internal/api/link.go")))
			}},
		{name: "ErrSymlinkDir", answer: "<<<FILE internal/out/x.go\npackage out\nFILE>>>\n", want: []string{"internal/out is a symbolic link"},
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.Symlink(filepath.Dir(dir), filepath.Join(dir, "internal/out")))
			}},
		{name: "ErrNotSource", answer: "<<<FILE internal/api/data.go\npackage api\nFILE>>>\n", want: []string{"is not one of the app's source files"},
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "internal/api/data.go"), []byte("written by a test"), 0o644))
			}},
		{name: "ErrGoModNewModule", answer: "<<<FILE go.mod\nmodule example.com/library\n\ngo 1.26.0\n\nrequire (\n\tmodernc.org/sqlite v1.60.1\n\tgithub.com/evil/backdoor v1.0.0\n)\nFILE>>>\n",
			want: []string{"requires github.com/evil/backdoor@v1.0.0, which is not in the module cache"}},
		{name: "ErrGoModReplace", answer: "<<<EDIT go.mod\n<<<<<<< SEARCH\nrequire modernc.org/sqlite v1.60.1\n=======\nrequire modernc.org/sqlite v1.60.1\n\nreplace modernc.org/sqlite => ../../../../etc\n>>>>>>> REPLACE\nEDIT>>>\n",
			want: []string{"replace directives may not be added"}},
		{name: "ErrGoModModulePath", answer: "<<<EDIT go.mod\n<<<<<<< SEARCH\nmodule example.com/library\n=======\nmodule example.com/other\n>>>>>>> REPLACE\nEDIT>>>\n",
			want: []string{`the module path must stay "example.com/library"`}},
		{name: "ErrGoModGoLine", answer: "<<<EDIT go.mod\n<<<<<<< SEARCH\ngo 1.26.0\n=======\ngo 1.99.0\ntoolchain go1.99.0\n>>>>>>> REPLACE\nEDIT>>>\n",
			want: []string{`the go line must stay "1.26.0"`, "the toolchain line may not change"}},
		{name: "ErrGoModSyntax", answer: "<<<FILE go.mod\nmodule\nrequire (\nFILE>>>\n", want: []string{"the new go.mod does not parse"}},
		{name: "ErrAllOrNothing", answer: "<<<FILE internal/api/ok.go\npackage api\nFILE>>>\n<<<FILE main.go\npackage main\nFILE>>>\n<<<FILE ../x.go\npackage x\nFILE>>>\n<<<FILE Makefile\nall:\nFILE>>>\n",
			want: []string{"../x.go: the path leaves the app", "Makefile: only source files"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, files := MustApp(t)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			before := snapshot(t, filepath.Dir(dir))
			filesBefore := len(files)
			changes, err := edit.Apply(dir, files, mustParse(t, tc.answer), edit.Policy{})
			require.Nil(t, changes)
			var re *edit.RejectedError
			require.ErrorAs(t, err, &re)
			require.Len(t, re.Rejections, len(tc.want), "%v", err)
			for i, w := range tc.want {
				require.Contains(t, re.Rejections[i].Path+": "+re.Rejections[i].Reason, w)
			}
			require.Equal(t, before, snapshot(t, filepath.Dir(dir)), "nothing changed on disk")
			require.Len(t, files, filesBefore, "nothing changed in memory")
		})
	}
	t.Run("GoModCachedModule", func(t *testing.T) {
		t.Parallel()
		dir, files := MustApp(t)
		cache := t.TempDir()
		dl := filepath.Join(cache, "cache", "download", "github.com", "!burnt!sushi", "toml", "@v")
		require.NoError(t, os.MkdirAll(dl, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dl, "v1.4.0.mod"), []byte("module github.com/BurntSushi/toml\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dl, "v1.4.0.zip"), []byte("zip"), 0o644))
		a := mustParse(t, "<<<EDIT go.mod\n<<<<<<< SEARCH\nrequire modernc.org/sqlite v1.60.1\n=======\nrequire (\n\tgithub.com/BurntSushi/toml v1.4.0\n\tmodernc.org/sqlite v1.60.1\n)\n>>>>>>> REPLACE\nEDIT>>>\n")
		changes, err := edit.Apply(dir, files, a, edit.Policy{ModCache: cache})
		require.NoError(t, err)
		require.Equal(t, "go.mod", changes[0].Path)
		_, err = edit.Apply(dir, files, mustParse(t, "<<<EDIT go.mod\n<<<<<<< SEARCH\ngithub.com/BurntSushi/toml v1.4.0\n=======\ngithub.com/BurntSushi/toml v1.5.0\n>>>>>>> REPLACE\nEDIT>>>\n"), edit.Policy{ModCache: cache})
		require.ErrorContains(t, err, "toml@v1.5.0, which is not in the module cache")
	})
}

func TestFormatRoundTrip(t *testing.T) {
	t.Parallel()
	a := &edit.Answer{Summary: "two changes", Edits: []edit.Edit{
		{Path: "a.go", Kind: edit.Whole, Content: "package a\n\n// x\n"},
		{Path: "b.go", Kind: edit.Replace, Hunks: []edit.Hunk{{Search: "x\n", Replace: ""}, {Search: "y", Replace: "z\nw"}}},
	}}
	b := mustParse(t, edit.Format(a))
	for i := range b.Edits {
		b.Edits[i].Line = 0
	}
	require.Equal(t, a, b)
}

// FuzzParse checks that Parse never panics, that what it accepts survives
// a round trip through Format, and that Apply either refuses an answer
// without changing anything or writes only inside the app.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"SUMMARY: x\n<<<FILE a.go\npackage a\nFILE>>>\n",
		"NO CHANGES\n",
		"<<<EDIT internal/api/book.go\n<<<<<<< SEARCH\n\treturn nil\n=======\n\treturn errX\n>>>>>>> REPLACE\nEDIT>>>\n",
		"```\n<<<FILE ../x.go\nx\nFILE>>>\n```\n",
		"<<<FILE go.mod\nmodule example.com/library\nreplace a => ../b\nFILE>>>\n",
		"<<<EDIT a.go\n<<<<<<< SEARCH\n=======\n>>>>>>> REPLACE\n",
		"<<<FILE internal/api/x.go\n<<<EDIT y\nFILE>>>\n",
		"<<<FILE /etc/passwd\nroot\nFILE>>>\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		a, err := edit.Parse(in, edit.Limits{})
		if err != nil {
			var pe *edit.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("not a *ParseError: %v", err)
			}
			if a != nil {
				t.Fatal("a partial answer with an error")
			}
			return
		}
		for _, e := range a.Edits {
			if e.Path == "" || (e.Kind != edit.Whole && e.Kind != edit.Replace) || (e.Kind == edit.Replace && len(e.Hunks) == 0) {
				t.Fatalf("bad edit %+v", e)
			}
		}
		b, err := edit.Parse(edit.Format(a), edit.Limits{})
		if err != nil {
			t.Fatalf("Format output does not parse: %v\n%s", err, edit.Format(a))
		}
		if len(b.Edits) != len(a.Edits) || b.Summary != a.Summary || b.NoChanges != a.NoChanges {
			t.Fatalf("round trip changed the answer: %+v → %+v", a, b)
		}
		for i := range a.Edits {
			x, y := a.Edits[i], b.Edits[i]
			x.Line, y.Line = 0, 0
			if x.Path != y.Path || x.Kind != y.Kind || x.Content != y.Content || len(x.Hunks) != len(y.Hunks) {
				t.Fatalf("round trip changed edit %d: %+v → %+v", i, x, y)
			}
			for j := range x.Hunks {
				if x.Hunks[j] != y.Hunks[j] {
					t.Fatalf("round trip changed edit %d pair %d: %q → %q", i, j, x.Hunks[j], y.Hunks[j])
				}
			}
		}

		dir, files := MustApp(t)
		parent := filepath.Dir(dir)
		before := snapshot(t, parent)
		_, err = edit.Apply(dir, files, a, edit.Policy{})
		after := snapshot(t, parent)
		if err != nil {
			var re *edit.RejectedError
			if errors.As(err, &re) && len(after) != len(before) {
				t.Fatalf("a refused answer changed files: %v", err)
			}
			for p, c := range before {
				if after[p] != c {
					t.Fatalf("a refused answer changed %s", p)
				}
			}
			return
		}
		for p := range after {
			if !strings.HasPrefix(p, "app/") {
				t.Fatalf("an applied answer wrote %s outside the app", p)
			}
			if after[p] != string(files[strings.TrimPrefix(p, "app/")]) {
				t.Fatalf("files does not mirror the disk for %s", p)
			}
		}
	})
}

// TestInstructions checks that the example the prompts show models is an
// answer Parse accepts.
func TestInstructions(t *testing.T) {
	t.Parallel()
	example, _, ok := strings.Cut(edit.Instructions, "\nRules:")
	require.True(t, ok)
	_, example, _ = strings.Cut(example, "\n\n")
	a := mustParse(t, example)
	require.Len(t, a.Edits, 2)
	require.Equal(t, edit.Whole, a.Edits[0].Kind)
	require.Equal(t, edit.Replace, a.Edits[1].Kind)
}
