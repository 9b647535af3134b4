// Package srcdiff compares the generated source of two builds: it reads
// each build's source archive from the blob store (checksum verified,
// extracted with pack's hostile-archive rules) and produces a unified diff
// of the files, as `kiln builds diff` and GET /v1/builds/{id}/diff show.
package srcdiff

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kiln-build/kiln"
)

// Tree is a set of files: content by slash-separated relative path.
type Tree map[string][]byte

// Defaults for Options.
const (
	DefaultContext  = 3
	DefaultMaxBytes = 4 << 20
	// maxEditDistance bounds the work (and memory, quadratic in it) of the
	// line diff of one file; beyond it the file is shown as replaced.
	maxEditDistance = 1000
)

// Options tune Compare. Zero fields take the defaults.
type Options struct {
	Context  int // lines of context around each change
	MaxBytes int // size limit of the diff text; the rest is cut and Truncated set
}

// Compare returns the changes that turn from into to: the changed files
// and a git-style unified diff ("diff --git a/P b/P", "--- a/P", "+++ b/P",
// hunks). Binary files (NUL bytes or invalid UTF-8) are only named. The
// BuildID and Against fields of the result are left zero.
func Compare(from, to Tree, o Options) *kiln.BuildDiff {
	if o.Context <= 0 {
		o.Context = DefaultContext
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	paths := make([]string, 0, len(from)+len(to))
	for p := range from {
		paths = append(paths, p)
	}
	for p := range to {
		if _, ok := from[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)

	out := &kiln.BuildDiff{Files: []kiln.FileDiff{}}
	var text strings.Builder
	for _, p := range paths {
		a, inA := from[p]
		b, inB := to[p]
		if inA && inB && bytes.Equal(a, b) {
			continue
		}
		fd := kiln.FileDiff{Path: p, Change: kiln.FileModified}
		oldName, newName := quotePath("a/"+p), quotePath("b/"+p)
		switch {
		case !inA:
			fd.Change, oldName = kiln.FileAdded, "/dev/null"
		case !inB:
			fd.Change, newName = kiln.FileRemoved, "/dev/null"
		}
		var chunk strings.Builder
		fmt.Fprintf(&chunk, "diff --git %s %s\n", quotePath("a/"+p), quotePath("b/"+p))
		if isBinary(a) || isBinary(b) {
			fd.Binary = true
			fmt.Fprintf(&chunk, "Binary files %s and %s differ\n", oldName, newName)
		} else {
			fmt.Fprintf(&chunk, "--- %s\n+++ %s\n", oldName, newName)
			la, lb := splitLines(a), splitLines(b)
			fd.Added, fd.Removed = writeHunks(&chunk, la, lb, lineEdits(la, lb), o.Context)
		}
		out.Files = append(out.Files, fd)
		if out.Truncated || text.Len()+chunk.Len() > o.MaxBytes {
			out.Truncated = true
			continue
		}
		text.WriteString(chunk.String())
	}
	out.Diff = text.String()
	return out
}

// isBinary reports whether b is not text a diff can show.
func isBinary(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b)
}

// quotePath quotes a path the way git does when it holds characters that
// would make the header ambiguous or unsafe on a terminal.
func quotePath(p string) string {
	for _, c := range p {
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == ' ' || (c >= 0x80 && c < 0xa0) {
			return strconv.Quote(p)
		}
	}
	return p
}

// splitLines splits s into lines that keep their "\n"; the last line may
// lack one.
func splitLines(s []byte) []string {
	if len(s) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(s), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

type opKind byte

const (
	opEqual opKind = iota
	opDelete
	opInsert
)

// edit is one step of an edit script: a line kept (a and b index it), a
// line of a deleted (a indexes it; b is the position in b), or a line of b
// inserted (b indexes it; a is the position in a).
type edit struct {
	kind opKind
	a, b int
}

// lineEdits returns a shortest edit script from a to b (Myers' O(ND)
// algorithm after stripping the common prefix and suffix). A file with
// more than maxEditDistance changed lines is scripted as replaced.
func lineEdits(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	out := make([]edit, 0, len(a)+len(b))
	for i := range pre {
		out = append(out, edit{opEqual, i, i})
	}
	for _, e := range myers(a[pre:len(a)-suf], b[pre:len(b)-suf]) {
		out = append(out, edit{e.kind, e.a + pre, e.b + pre})
	}
	for i := range suf {
		out = append(out, edit{opEqual, len(a) - suf + i, len(b) - suf + i})
	}
	return out
}

// myers returns the edit script from a to b, or a delete-all then
// insert-all script when they differ in more than maxEditDistance lines.
func myers(a, b []string) []edit {
	n, m := len(a), len(b)
	if n == 0 && m == 0 {
		return nil
	}
	limit := min(n+m, maxEditDistance)
	off := limit + 1
	v := make([]int32, 2*limit+3)
	var trace [][]int32 // trace[d]: v over k ∈ [-d, d] before round d
	for d := 0; d <= limit; d++ {
		snap := make([]int32, 2*d+1)
		copy(snap, v[off-d:off+d+1])
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = int(v[off+k+1]) // down: insert b[y]
			} else {
				x = int(v[off+k-1]) + 1 // right: delete a[x]
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[off+k] = int32(x)
			if x >= n && y >= m {
				return backtrack(trace, n, m)
			}
		}
	}
	// Too different: delete everything, insert everything.
	out := make([]edit, 0, n+m)
	for i := range n {
		out = append(out, edit{opDelete, i, 0})
	}
	for j := range m {
		out = append(out, edit{opInsert, n, j})
	}
	return out
}

// backtrack walks the trace from (n, m) back to (0, 0).
func backtrack(trace [][]int32, n, m int) []edit {
	var rev []edit
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		if d == 0 {
			for x > 0 && y > 0 {
				x, y = x-1, y-1
				rev = append(rev, edit{opEqual, x, y})
			}
			break
		}
		v := trace[d]
		at := func(k int) int { return int(v[k+d]) }
		k := x - y
		var prevK int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := at(prevK)
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x, y = x-1, y-1
			rev = append(rev, edit{opEqual, x, y})
		}
		if x == prevX {
			y--
			rev = append(rev, edit{opInsert, x, y})
		} else {
			x--
			rev = append(rev, edit{opDelete, x, y})
		}
	}
	slices.Reverse(rev)
	return rev
}

// writeHunks writes the unified hunks of an edit script with context
// lines of context and returns the lines added and removed.
func writeHunks(w *strings.Builder, a, b []string, edits []edit, context int) (added, removed int) {
	for i := 0; i < len(edits); {
		for i < len(edits) && edits[i].kind == opEqual {
			i++
		}
		if i == len(edits) {
			break
		}
		start := max(i-context, 0)
		end := i
		for {
			for end < len(edits) && edits[end].kind != opEqual {
				end++
			}
			j := end
			for j < len(edits) && edits[j].kind == opEqual {
				j++
			}
			if j < len(edits) && j-end <= 2*context {
				end = j
				continue
			}
			break
		}
		stop := min(end+context, len(edits))
		hunk := edits[start:stop]
		aLen, bLen := 0, 0
		for _, e := range hunk {
			if e.kind != opInsert {
				aLen++
			}
			if e.kind != opDelete {
				bLen++
			}
		}
		fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(hunk[0].a, aLen), hunkRange(hunk[0].b, bLen))
		for _, e := range hunk {
			switch e.kind {
			case opEqual:
				writeLine(w, ' ', a[e.a])
			case opDelete:
				writeLine(w, '-', a[e.a])
				removed++
			case opInsert:
				writeLine(w, '+', b[e.b])
				added++
			}
		}
		i = stop
	}
	return added, removed
}

// hunkRange formats one side of a hunk header: "start,len", "start" for
// one line, and the line before the hunk with ",0" for none.
func hunkRange(first, n int) string {
	switch n {
	case 0:
		return strconv.Itoa(first) + ",0"
	case 1:
		return strconv.Itoa(first + 1)
	}
	return strconv.Itoa(first+1) + "," + strconv.Itoa(n)
}

func writeLine(w *strings.Builder, prefix byte, line string) {
	w.WriteByte(prefix)
	w.WriteString(line)
	if !strings.HasSuffix(line, "\n") {
		w.WriteString("\n\\ No newline at end of file\n")
	}
}
