package srcdiff_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/srcdiff"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		from, to  srcdiff.Tree
		wantFiles []kiln.FileDiff
		wantDiff  string
	}{
		"Identical": {
			from:      srcdiff.Tree{"a.txt": []byte("x\n")},
			to:        srcdiff.Tree{"a.txt": []byte("x\n")},
			wantFiles: []kiln.FileDiff{},
		},
		"Modified": {
			from:      srcdiff.Tree{"m.go": []byte("1\n2\n3\n4\n5\n6\n7\n8\n9\n")},
			to:        srcdiff.Tree{"m.go": []byte("1\n2\n3\n4\nfive\n6\n7\n8\n9\n")},
			wantFiles: []kiln.FileDiff{{Path: "m.go", Change: kiln.FileModified, Added: 1, Removed: 1}},
			wantDiff:  "diff --git a/m.go b/m.go\n--- a/m.go\n+++ b/m.go\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		"AddedAndRemoved": {
			from: srcdiff.Tree{"old.txt": []byte("gone\n")},
			to:   srcdiff.Tree{"new.txt": []byte("hello\nworld\n")},
			wantFiles: []kiln.FileDiff{
				{Path: "new.txt", Change: kiln.FileAdded, Added: 2},
				{Path: "old.txt", Change: kiln.FileRemoved, Removed: 1},
			},
			wantDiff: "diff --git a/new.txt b/new.txt\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+hello\n+world\n" +
				"diff --git a/old.txt b/old.txt\n--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n",
		},
		"NoFinalNewline": {
			from:      srcdiff.Tree{"f": []byte("a\nb")},
			to:        srcdiff.Tree{"f": []byte("a\nb\n")},
			wantFiles: []kiln.FileDiff{{Path: "f", Change: kiln.FileModified, Added: 1, Removed: 1}},
			wantDiff:  "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
		},
		"TwoHunks": {
			from:      srcdiff.Tree{"f": []byte(numbered(1, 20, map[int]string{}))},
			to:        srcdiff.Tree{"f": []byte(numbered(1, 20, map[int]string{2: "two", 19: "nineteen"}))},
			wantFiles: []kiln.FileDiff{{Path: "f", Change: kiln.FileModified, Added: 2, Removed: 2}},
			wantDiff:  "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+nineteen\n 20\n",
		},
		"CloseChangesShareAHunk": {
			from:      srcdiff.Tree{"f": []byte(numbered(1, 12, map[int]string{}))},
			to:        srcdiff.Tree{"f": []byte(numbered(1, 12, map[int]string{3: "three", 9: "nine"}))},
			wantFiles: []kiln.FileDiff{{Path: "f", Change: kiln.FileModified, Added: 2, Removed: 2}},
			wantDiff:  "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,12 +1,12 @@\n 1\n 2\n-3\n+three\n 4\n 5\n 6\n 7\n 8\n-9\n+nine\n 10\n 11\n 12\n",
		},
		"Binary": {
			from:      srcdiff.Tree{"logo.png": {0x89, 'P', 'N', 'G', 0}},
			to:        srcdiff.Tree{"logo.png": {0x89, 'P', 'N', 'G', 1}},
			wantFiles: []kiln.FileDiff{{Path: "logo.png", Change: kiln.FileModified, Binary: true}},
			wantDiff:  "diff --git a/logo.png b/logo.png\nBinary files a/logo.png and b/logo.png differ\n",
		},
		"OddPath": {
			from:      srcdiff.Tree{},
			to:        srcdiff.Tree{"a b\x1b[31m": []byte("x\n")},
			wantFiles: []kiln.FileDiff{{Path: "a b\x1b[31m", Change: kiln.FileAdded, Added: 1}},
			wantDiff:  "diff --git \"a/a b\\x1b[31m\" \"b/a b\\x1b[31m\"\n--- /dev/null\n+++ \"b/a b\\x1b[31m\"\n@@ -0,0 +1 @@\n+x\n",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := srcdiff.Compare(tt.from, tt.to, srcdiff.Options{})
			if fmt.Sprint(got.Files) != fmt.Sprint(tt.wantFiles) {
				t.Errorf("Files = %+v\nwant    %+v", got.Files, tt.wantFiles)
			}
			if got.Diff != tt.wantDiff {
				t.Errorf("Diff =\n%s\nwant\n%s", got.Diff, tt.wantDiff)
			}
			if got.Truncated {
				t.Error("Truncated")
			}
		})
	}
}

// numbered returns the lines first..last, each its number unless replaced.
func numbered(first, last int, replace map[int]string) string {
	var b strings.Builder
	for i := first; i <= last; i++ {
		if r, ok := replace[i]; ok {
			b.WriteString(r + "\n")
		} else {
			b.WriteString(strconv.Itoa(i) + "\n")
		}
	}
	return b.String()
}

func TestCompareTruncates(t *testing.T) {
	t.Parallel()
	from, to := srcdiff.Tree{}, srcdiff.Tree{}
	for i := range 50 {
		to[fmt.Sprintf("f%02d.txt", i)] = []byte(strings.Repeat("some line of text\n", 20))
	}
	d := srcdiff.Compare(from, to, srcdiff.Options{MaxBytes: 2000})
	if !d.Truncated || len(d.Diff) > 2000 || len(d.Files) != 50 {
		t.Errorf("truncated %v, %d bytes, %d files", d.Truncated, len(d.Diff), len(d.Files))
	}
	if !strings.HasSuffix(d.Diff, "+some line of text\n") {
		t.Error("the diff was cut inside a file")
	}
}

// TestCompareApplies checks, for random edits, that the diff turns the old
// file into the new one and counts the lines it changes.
func TestCompareApplies(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		words := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "c", "d", "}", ""}), 0, 60)
		a := words.Draw(t, "a")
		b := words.Draw(t, "b")
		finalA := rapid.Bool().Draw(t, "finalNewlineA")
		finalB := rapid.Bool().Draw(t, "finalNewlineB")
		ctx := rapid.IntRange(1, 4).Draw(t, "context")
		as, bs := joinLines(a, finalA), joinLines(b, finalB)
		d := srcdiff.Compare(srcdiff.Tree{"f": []byte(as)}, srcdiff.Tree{"f": []byte(bs)}, srcdiff.Options{Context: ctx})
		if as == bs {
			if d.Diff != "" || len(d.Files) != 0 {
				t.Fatalf("identical files gave a diff: %q", d.Diff)
			}
			return
		}
		got, added, removed := apply(t, as, d.Diff)
		if got != bs {
			t.Fatalf("applying the diff gave %q, want %q\n%s", got, bs, d.Diff)
		}
		if len(d.Files) != 1 || d.Files[0].Added != added || d.Files[0].Removed != removed {
			t.Fatalf("Files = %+v, the diff adds %d and removes %d", d.Files, added, removed)
		}
	})
}

// TestCompareVeryDifferent covers files too different for the bounded
// line diff: the diff replaces them and still applies.
func TestCompareVeryDifferent(t *testing.T) {
	t.Parallel()
	var a, b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&a, "old %d\n", i)
		fmt.Fprintf(&b, "new %d\n", i)
	}
	a.WriteString("shared tail\n")
	b.WriteString("shared tail\n")
	d := srcdiff.Compare(srcdiff.Tree{"f": []byte(a.String())}, srcdiff.Tree{"f": []byte(b.String())}, srcdiff.Options{MaxBytes: 1 << 30})
	got, added, removed := apply(t, a.String(), d.Diff)
	if got != b.String() || added != 3000 || removed != 3000 {
		t.Errorf("applied: equal %v, +%d -%d", got == b.String(), added, removed)
	}
}

func joinLines(lines []string, finalNewline bool) string {
	s := strings.Join(lines, "\n")
	if finalNewline && len(lines) > 0 {
		s += "\n"
	}
	return s
}

var hunkRE = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$`)

// apply applies a one-file unified diff to old, checking every context and
// removed line, and returns the result with the lines added and removed.
func apply(t interface{ Fatalf(string, ...any) }, old, diff string) (string, int, int) {
	oldLines := strings.SplitAfter(old, "\n")
	if oldLines[len(oldLines)-1] == "" {
		oldLines = oldLines[:len(oldLines)-1]
	}
	lines := strings.SplitAfter(diff, "\n")
	var out []string
	pos, added, removed := 0, 0, 0
	var last *string // the line a "\ No newline" marker applies to
	for i := 3; i < len(lines) && lines[i] != ""; i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "@@"):
			m := hunkRE.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
			if m == nil {
				t.Fatalf("bad hunk header %q", l)
			}
			start, _ := strconv.Atoi(m[1])
			n := 1
			if m[2] != "" {
				n, _ = strconv.Atoi(m[2])
			}
			if n > 0 {
				start--
			}
			if start < pos {
				t.Fatalf("hunk %q goes back", l)
			}
			out = append(out, oldLines[pos:start]...)
			pos = start
			last = nil
		case strings.HasPrefix(l, `\ No newline at end of file`):
			if last == nil {
				t.Fatalf("stray marker")
			}
			*last = strings.TrimSuffix(*last, "\n")
		case l[0] == ' ' || l[0] == '-':
			if pos >= len(oldLines) || strings.TrimSuffix(oldLines[pos], "\n") != strings.TrimSuffix(l[1:], "\n") {
				t.Fatalf("line %d of the old file is %q, the diff says %q", pos, oldLines[min(pos, len(oldLines)-1)], l)
			}
			if l[0] == ' ' {
				out = append(out, l[1:])
				last = &out[len(out)-1]
			} else {
				removed++
				s := l[1:]
				last = &s
			}
			pos++
		case l[0] == '+':
			out = append(out, l[1:])
			last = &out[len(out)-1]
			added++
		default:
			t.Fatalf("unexpected diff line %q", l)
		}
	}
	out = append(out, oldLines[pos:]...)
	return strings.Join(out, ""), added, removed
}

// TestCompareGitApply checks the output against git: `git apply` must
// accept it and produce the new tree.
func TestCompareGitApply(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	from := srcdiff.Tree{
		"main.go":           []byte(numbered(1, 40, map[int]string{})),
		"internal/gone.go":  []byte("package internal\n"),
		"README.md":         []byte("# App\n\nno newline"),
		"internal/keep.txt": []byte("same\n"),
	}
	to := srcdiff.Tree{
		"main.go":           []byte(numbered(1, 40, map[int]string{1: "one", 20: "twenty", 21: "twenty-one", 40: "forty"})),
		"internal/new.go":   []byte("package internal\n\nvar X = 1\n"),
		"README.md":         []byte("# App\n\nnow with a newline\n"),
		"internal/keep.txt": []byte("same\n"),
	}
	d := srcdiff.Compare(from, to, srcdiff.Options{})
	dir := t.TempDir()
	for p, b := range from {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("git", "apply", "--verbose", "-")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(d.Diff)
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git apply: %v\n%s\n%s", err, out, d.Diff)
	}
	for p, want := range to {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after git apply = %q, %v; want %q", p, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "internal", "gone.go")); err == nil {
		t.Error("git apply kept the removed file")
	}
}
