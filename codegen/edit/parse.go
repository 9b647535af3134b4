// Package edit is the one format in which a language model may change a
// generated app, and the only way such changes reach the app's files.
//
// An answer is a sequence of blocks, optionally after one SUMMARY line:
//
//	SUMMARY: reject loans longer than 30 days
//
//	<<<FILE internal/api/loan_rules.go
//	package api
//	…the complete new content of the file…
//	FILE>>>
//
//	<<<EDIT internal/api/loan_api.go
//	<<<<<<< SEARCH
//	…lines that occur exactly once in the current file…
//	=======
//	…the lines that replace them…
//	>>>>>>> REPLACE
//	EDIT>>>
//
// or the single line NO CHANGES. Nothing else may appear outside blocks
// except blank lines; an answer wrapped in one Markdown fence is unwrapped
// first. Parse checks the syntax; Apply checks every path and change
// against a Policy and applies the whole answer or nothing.
package edit

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Markers of the format.
const (
	fileOpen    = "<<<FILE "
	fileClose   = "FILE>>>"
	editOpen    = "<<<EDIT "
	editClose   = "EDIT>>>"
	searchLine  = "<<<<<<< SEARCH"
	dividerLine = "======="
	replaceLine = ">>>>>>> REPLACE"
	summaryPfx  = "SUMMARY:"
	noChanges   = "NO CHANGES"
)

// Limits on one answer. Zero values take the defaults.
type Limits struct {
	// MaxAnswerBytes bounds the whole answer (default 1 MiB).
	MaxAnswerBytes int
	// MaxBlocks bounds the number of FILE and EDIT blocks (default 40).
	MaxBlocks int
	// MaxFileBytes bounds a FILE block's content and a file after edits
	// (default 256 KiB).
	MaxFileBytes int
	// MaxHunks bounds the SEARCH/REPLACE pairs of one EDIT block (default 40).
	MaxHunks int
}

func (l Limits) withDefaults() Limits {
	if l.MaxAnswerBytes <= 0 {
		l.MaxAnswerBytes = 1 << 20
	}
	if l.MaxBlocks <= 0 {
		l.MaxBlocks = 40
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 256 << 10
	}
	if l.MaxHunks <= 0 {
		l.MaxHunks = 40
	}
	return l
}

// Kind is what an Edit does.
type Kind string

// Edit kinds.
const (
	// Whole sets a file's complete content (a FILE block): it creates the
	// file or replaces it.
	Whole Kind = "file"
	// Replace changes parts of an existing file (an EDIT block).
	Replace Kind = "edit"
)

// Hunk is one SEARCH/REPLACE pair.
type Hunk struct {
	Search  string
	Replace string
}

// Edit is one block of an answer.
type Edit struct {
	Path    string
	Kind    Kind
	Content string // Whole: the new content, ending in a newline
	Hunks   []Hunk // Replace
	Line    int    // where the block starts in the answer, for messages
}

// Answer is a parsed answer.
type Answer struct {
	Summary string
	// NoChanges is true when the model answered NO CHANGES.
	NoChanges bool
	Edits     []Edit
}

// ParseError is a malformed answer: where and what.
type ParseError struct {
	Line int // 1-based; 0 when it concerns the whole answer
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return "malformed edit answer: " + e.Msg
	}
	return fmt.Sprintf("malformed edit answer: line %d: %s", e.Line, e.Msg)
}

// Parse reads an answer in the edit format. It returns a *ParseError for
// anything that is not exactly the format, never a partial Answer. It
// checks syntax only: paths and changes are checked by Apply.
func Parse(answer string, lim Limits) (*Answer, error) {
	lim = lim.withDefaults()
	if len(answer) > lim.MaxAnswerBytes {
		return nil, &ParseError{Msg: fmt.Sprintf("the answer is larger than %d bytes", lim.MaxAnswerBytes)}
	}
	if !utf8.ValidString(answer) {
		return nil, &ParseError{Msg: "the answer is not valid UTF-8"}
	}
	if strings.IndexByte(answer, 0) >= 0 {
		return nil, &ParseError{Msg: "the answer contains a NUL byte"}
	}
	lines := strings.Split(strings.ReplaceAll(answer, "\r\n", "\n"), "\n")
	lines, offset := unfence(lines)
	p := &parser{lines: lines, offset: offset, lim: lim}
	return p.parse()
}

// unfence removes one Markdown fence around the whole answer and returns
// how many lines it removed from the top.
func unfence(lines []string) ([]string, int) {
	first, last := 0, len(lines)-1
	for first <= last && strings.TrimSpace(lines[first]) == "" {
		first++
	}
	for last >= first && strings.TrimSpace(lines[last]) == "" {
		last--
	}
	if last-first < 1 || !strings.HasPrefix(lines[first], "```") || strings.TrimSpace(lines[last]) != "```" {
		return lines, 0
	}
	info := strings.TrimSpace(strings.TrimPrefix(lines[first], "```"))
	if strings.Contains(info, "`") || strings.Contains(info, " ") {
		return lines, 0
	}
	return lines[first+1 : last], first + 1
}

type parser struct {
	lines  []string
	offset int
	i      int
	lim    Limits
}

func (p *parser) errf(i int, format string, args ...any) error {
	return &ParseError{Line: i + 1 + p.offset, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() (*Answer, error) {
	a := &Answer{}
	seen := map[string]int{}
	for ; p.i < len(p.lines); p.i++ {
		line := p.lines[p.i]
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
		case strings.HasPrefix(line, summaryPfx):
			if a.Summary != "" || len(a.Edits) > 0 || a.NoChanges {
				return nil, p.errf(p.i, "SUMMARY must be the first line and appear once")
			}
			a.Summary = strings.TrimSpace(strings.TrimPrefix(line, summaryPfx))
			if a.Summary == "" {
				a.Summary = "(no summary)"
			}
		case trimmed == noChanges:
			if len(a.Edits) > 0 || a.NoChanges {
				return nil, p.errf(p.i, "NO CHANGES cannot come with blocks")
			}
			a.NoChanges = true
		case strings.HasPrefix(line, fileOpen), strings.HasPrefix(line, editOpen):
			if a.NoChanges {
				return nil, p.errf(p.i, "NO CHANGES cannot come with blocks")
			}
			if len(a.Edits) == p.lim.MaxBlocks {
				return nil, p.errf(p.i, "more than %d blocks", p.lim.MaxBlocks)
			}
			var e Edit
			var err error
			if strings.HasPrefix(line, fileOpen) {
				e, err = p.file()
			} else {
				e, err = p.edit()
			}
			if err != nil {
				return nil, err
			}
			if prev, dup := seen[e.Path]; dup {
				return nil, p.errf(e.Line-1-p.offset, "%s already has a block at line %d; give each file one block", e.Path, prev)
			}
			seen[e.Path] = e.Line
			a.Edits = append(a.Edits, e)
		default:
			return nil, p.errf(p.i, "text outside a block: %q (only SUMMARY:, NO CHANGES, <<<FILE and <<<EDIT blocks are allowed)", clip(line, 60))
		}
	}
	if len(a.Edits) == 0 && !a.NoChanges {
		return nil, &ParseError{Msg: "no <<<FILE or <<<EDIT block and no NO CHANGES line"}
	}
	return a, nil
}

// header reads the path of a block's first line.
func (p *parser) header(prefix string) (string, error) {
	path := strings.TrimSpace(strings.TrimPrefix(p.lines[p.i], prefix))
	if path == "" {
		return "", p.errf(p.i, "%s needs a path", strings.TrimSpace(prefix))
	}
	return path, nil
}

func (p *parser) file() (Edit, error) {
	start := p.i
	path, err := p.header(fileOpen)
	if err != nil {
		return Edit{}, err
	}
	var b strings.Builder
	for p.i++; p.i < len(p.lines); p.i++ {
		line := p.lines[p.i]
		if line == fileClose {
			content := b.String()
			return Edit{Path: path, Kind: Whole, Content: content, Line: start + 1 + p.offset}, nil
		}
		if strings.HasPrefix(line, fileOpen) || strings.HasPrefix(line, editOpen) {
			return Edit{}, p.errf(p.i, "a new block starts before FILE>>> closes the block of %s (line %d)", path, start+1+p.offset)
		}
		if b.Len()+len(line)+1 > p.lim.MaxFileBytes {
			return Edit{}, p.errf(start, "the content of %s is larger than %d bytes", path, p.lim.MaxFileBytes)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return Edit{}, p.errf(start, "the FILE block of %s is not closed with a FILE>>> line", path)
}

func (p *parser) edit() (Edit, error) {
	start := p.i
	path, err := p.header(editOpen)
	if err != nil {
		return Edit{}, err
	}
	e := Edit{Path: path, Kind: Replace, Line: start + 1 + p.offset}
	for p.i++; p.i < len(p.lines); p.i++ {
		line := p.lines[p.i]
		switch {
		case line == editClose:
			if len(e.Hunks) == 0 {
				return Edit{}, p.errf(start, "the EDIT block of %s has no SEARCH/REPLACE pair", path)
			}
			return e, nil
		case strings.TrimSpace(line) == "":
		case line == searchLine:
			if len(e.Hunks) == p.lim.MaxHunks {
				return Edit{}, p.errf(p.i, "more than %d SEARCH/REPLACE pairs for %s", p.lim.MaxHunks, path)
			}
			h, err := p.hunk(path)
			if err != nil {
				return Edit{}, err
			}
			e.Hunks = append(e.Hunks, h)
		default:
			return Edit{}, p.errf(p.i, "in the EDIT block of %s, expected %q or %q, found %q", path, searchLine, editClose, clip(line, 60))
		}
	}
	return Edit{}, p.errf(start, "the EDIT block of %s is not closed with an EDIT>>> line", path)
}

// hunk reads one SEARCH/REPLACE pair; p.i is at the SEARCH line and is
// left at the REPLACE line.
func (p *parser) hunk(path string) (Hunk, error) {
	start := p.i
	var search, replace []string
	cur := &search
	size := 0
	for p.i++; p.i < len(p.lines); p.i++ {
		line := p.lines[p.i]
		switch line {
		case dividerLine:
			if cur == &replace {
				return Hunk{}, p.errf(p.i, "a second ======= in one SEARCH/REPLACE pair of %s", path)
			}
			cur = &replace
			continue
		case replaceLine:
			if cur != &replace {
				return Hunk{}, p.errf(p.i, "REPLACE before ======= in the pair of %s", path)
			}
			s := strings.Join(search, "\n")
			if strings.TrimSpace(s) == "" {
				return Hunk{}, p.errf(start, "the SEARCH text for %s is empty; use a FILE block to write a whole file", path)
			}
			return Hunk{Search: s, Replace: strings.Join(replace, "\n")}, nil
		case searchLine, editClose, fileClose:
			return Hunk{}, p.errf(p.i, "the SEARCH/REPLACE pair of %s starting at line %d is not closed with %q", path, start+1+p.offset, replaceLine)
		}
		if size += len(line) + 1; size > p.lim.MaxFileBytes {
			return Hunk{}, p.errf(start, "a SEARCH/REPLACE pair for %s is larger than %d bytes", path, p.lim.MaxFileBytes)
		}
		*cur = append(*cur, line)
	}
	return Hunk{}, p.errf(start, "the SEARCH/REPLACE pair of %s is not closed with %q", path, replaceLine)
}

// clip shortens s for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Format writes an answer in the edit format; Parse(Format(a)) gives a
// back (the prompts show models the same format).
func Format(a *Answer) string {
	var b strings.Builder
	if a.Summary != "" {
		b.WriteString(summaryPfx + " " + a.Summary + "\n\n")
	}
	if a.NoChanges {
		b.WriteString(noChanges + "\n")
	}
	for _, e := range a.Edits {
		switch e.Kind {
		case Whole:
			b.WriteString(fileOpen + e.Path + "\n")
			b.WriteString(e.Content)
			if e.Content != "" && !strings.HasSuffix(e.Content, "\n") {
				b.WriteByte('\n')
			}
			b.WriteString(fileClose + "\n\n")
		case Replace:
			b.WriteString(editOpen + e.Path + "\n")
			for _, h := range e.Hunks {
				b.WriteString(searchLine + "\n" + h.Search + "\n" + dividerLine + "\n")
				if h.Replace != "" {
					b.WriteString(h.Replace + "\n")
				}
				b.WriteString(replaceLine + "\n")
			}
			b.WriteString(editClose + "\n\n")
		}
	}
	return b.String()
}

// Instructions explains the format to a model; the customize and repair
// prompts include it as .EditFormat, so the instructions and the parser
// cannot drift apart.
const Instructions = `Answer with edit blocks and nothing else. There are two kinds of block:

<<<FILE path/of/file.go
the complete new content of the file
FILE>>>

<<<EDIT path/of/another_file.go
<<<<<<< SEARCH
lines copied exactly from the current file, white space included; they must occur exactly once
=======
the lines that replace them
>>>>>>> REPLACE
EDIT>>>

Rules:
- An EDIT block may hold several SEARCH/REPLACE pairs, applied in order. Keep each SEARCH
  short but unique: a few whole lines.
- Use FILE to create a file or to rewrite a small one, EDIT to change part of a larger one.
- Paths are relative to the app's root, with / between folders. Only Go, SQL, HTML, CSS,
  JavaScript and Markdown files and go.mod may be written; kiln.json and go.sum may not,
  and files cannot be deleted.
- Give each file at most one block.
- You may begin with one line "SUMMARY: <what the edits do>".
- If nothing needs to change, answer with the single line NO CHANGES.
- Write no other text: no explanations, no Markdown fences.`
