// Package assist implements codegen.Assistant with a language model: it
// renders the template set's customize and repair prompts with the app's
// spec, description and most relevant files, reads the answer in the
// strict edit format of package edit, applies it all or nothing, and asks
// again — with what was wrong — when an answer is malformed or refused.
package assist

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/edit"
	"github.com/kiln-build/kiln/llm"
)

// Defaults for the zero values of Assistant.
const (
	DefaultReasks         = 2
	DefaultMaxSourceBytes = 96 << 10
)

// maxEcho bounds how much of an unusable answer is sent back.
const maxEcho = 32 << 10

// Completer is what the assistant needs of a model client; *llm.Client
// satisfies it.
type Completer interface {
	Complete(ctx context.Context, req llm.Request) (*llm.Response, error)
}

// Assistant customizes and repairs apps with a model. It is safe for
// concurrent use.
type Assistant struct {
	Client Completer
	// Reasks is how many times to ask again after an answer that is
	// malformed or refused (0: DefaultReasks; negative: never).
	Reasks int
	// Limits bound answers.
	Limits edit.Limits
	// MaxSourceBytes bounds the file contents one prompt carries
	// (default DefaultMaxSourceBytes).
	MaxSourceBytes int
}

var _ codegen.Assistant = (*Assistant)(nil)

// File is an entry of a prompt's file list.
type File struct {
	Path string
	Size int
}

// Source is a file whose content a prompt carries.
type Source struct {
	Path    string
	Content string
}

// CustomizeVars are the variables of the "customize" prompt.
type CustomizeVars struct {
	Description string
	Spec        string
	Files       []File
	Sources     []Source
	EditFormat  string
}

// RepairVars are the variables of the "repair" prompt.
type RepairVars struct {
	Description string
	Spec        string
	Check       string
	Command     string
	Output      string
	Attempt     int
	MaxAttempts int
	Previous    []string
	Files       []File
	Sources     []Source
	EditFormat  string
}

// Customize implements codegen.Assistant.
func (a *Assistant) Customize(ctx context.Context, in codegen.AssistInput) (*codegen.Attempt, error) {
	vars := CustomizeVars{
		Description: in.Description, Spec: specJSON(in), Files: fileList(in),
		Sources: a.sources(in, nil), EditFormat: edit.Instructions,
	}
	return a.run(ctx, in, "customize", vars)
}

// Repair implements codegen.Assistant.
func (a *Assistant) Repair(ctx context.Context, in codegen.AssistInput, f codegen.Failure) (*codegen.Attempt, error) {
	// What earlier attempts changed most likely broke it; then what the
	// output points at.
	var first []string
	for _, p := range in.Previous {
		for _, c := range p.Changes {
			first = append(first, c.Path)
		}
	}
	first = append(first, mentioned(f.Output, in)...)
	var prev []string
	for _, p := range in.Previous {
		prev = append(prev, describe(p))
	}
	vars := RepairVars{
		Description: in.Description, Spec: specJSON(in), Check: f.Check, Command: f.Command, Output: f.Output,
		Attempt: in.Attempt, MaxAttempts: in.MaxAttempts, Previous: prev,
		Files: fileList(in), Sources: a.sources(in, first), EditFormat: edit.Instructions,
	}
	return a.run(ctx, in, "repair", vars)
}

// run asks with the named prompt until an answer applies, the model says
// NO CHANGES, or the re-asks are spent.
func (a *Assistant) run(ctx context.Context, in codegen.AssistInput, prompt string, vars any) (*codegen.Attempt, error) {
	text, err := in.Set.RenderPrompt(prompt, vars)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Step, err)
	}
	att := &codegen.Attempt{Step: in.Step, Changes: []edit.Change{}}
	reasks := a.Reasks
	if reasks == 0 {
		reasks = DefaultReasks
	}
	reasks = max(reasks, 0)
	pol := edit.Policy{Limits: a.Limits, ModCache: in.ModCache, Format: gofmt}
	msgs := []llm.Message{{Role: llm.RoleUser, Content: text}}
	for {
		resp, err := a.Client.Complete(ctx, llm.Request{Messages: msgs})
		if resp != nil {
			att.Answers++
			att.Tokens += resp.Usage.Total()
		}
		var problem string
		var le *llm.Error
		switch {
		case err != nil && errors.As(err, &le) && le.Kind == llm.KindResponse:
			if resp == nil {
				att.Answers++
			}
			problem = le.Message + "; change fewer files or use EDIT blocks"
		case err != nil:
			return att, err
		default:
			ans, perr := edit.Parse(resp.Content, a.Limits)
			if perr != nil {
				problem = perr.Error()
				in.Rec.Logf("%s: answer %d is malformed: %s", in.Step, att.Answers, perr)
				break
			}
			att.Summary = oneLine(ans.Summary, 200)
			if ans.NoChanges {
				att.Outcome = "no changes"
				return att, nil
			}
			changes, aerr := edit.Apply(in.Dir, in.Files, ans, pol)
			var re *edit.RejectedError
			if errors.As(aerr, &re) {
				var lines []string
				for _, r := range re.Rejections {
					r.Path, r.Reason = oneLine(r.Path, 200), oneLine(r.Reason, 300)
					att.Rejected = append(att.Rejected, r)
					in.Rec.Logf("%s: edit rejected: %s: %s", in.Step, r.Path, r.Reason)
					lines = append(lines, "- "+r.Path+": "+r.Reason)
				}
				problem = "No edit was applied, because:\n" + strings.Join(lines, "\n")
				break
			} else if aerr != nil {
				return att, aerr
			}
			att.Changes = append(att.Changes, changes...)
			att.Outcome = "applied"
			if len(changes) == 0 {
				att.Outcome = "no changes"
			}
			return att, nil
		}
		if att.Answers > reasks {
			att.Outcome = fmt.Sprintf("gave up after %d unusable answers", att.Answers)
			in.Rec.Logf("%s: %s; the app stays as it was", in.Step, att.Outcome)
			return att, nil
		}
		echo := ""
		if resp != nil {
			echo = llm.Truncate(resp.Content, maxEcho)
		}
		fix, err := in.Set.RenderPrompt("fix", fixVars{Problem: problem, Expect: "edit blocks in the format of the first message, or NO CHANGES", Attempt: att.Answers + 1})
		if err != nil {
			return att, fmt.Errorf("%s: %w", in.Step, err)
		}
		msgs = append(msgs, llm.Message{Role: llm.RoleAssistant, Content: echo}, llm.Message{Role: llm.RoleUser, Content: fix})
	}
}

// fixVars are the variables of the "fix" prompt (as llmplan.FixVars).
type fixVars struct {
	Problem string
	Expect  string
	Attempt int
}

// gofmt formats Go files the model wrote, so a formatting slip does not
// cost a repair attempt; content that does not parse is left for the
// checks to report.
func gofmt(p string, content []byte) []byte {
	if path.Ext(p) != ".go" {
		return content
	}
	out, err := format.Source(content)
	if err != nil {
		return content
	}
	return out
}

func specJSON(in codegen.AssistInput) string {
	b, _ := json.MarshalIndent(in.Spec, "", "  ") // an AppSpec always encodes
	return string(b)
}

func fileList(in codegen.AssistInput) []File {
	out := make([]File, 0, len(in.Files))
	for _, p := range in.Files.Paths() {
		out = append(out, File{Path: p, Size: len(in.Files[p])})
	}
	return out
}

// sources picks the files a prompt carries: first (in order), then the
// app's non-test Go and SQL files, API handlers first, until
// MaxSourceBytes.
func (a *Assistant) sources(in codegen.AssistInput, first []string) []Source {
	budget := cmp.Or(a.MaxSourceBytes, DefaultMaxSourceBytes)
	var out []Source
	seen := map[string]bool{}
	add := func(p string) {
		b, ok := in.Files[p]
		if !ok || seen[p] || len(b) > budget || !utf8.Valid(b) {
			return
		}
		seen[p] = true
		budget -= len(b)
		out = append(out, Source{Path: p, Content: strings.TrimSuffix(string(b), "\n")})
	}
	for _, p := range first {
		add(p)
	}
	rest := slices.DeleteFunc(in.Files.Paths(), func(p string) bool {
		return strings.HasSuffix(p, "_test.go") || (path.Ext(p) != ".go" && path.Ext(p) != ".sql")
	})
	rank := func(p string) int {
		switch {
		case strings.HasPrefix(p, "internal/api/"):
			return 0
		case strings.HasPrefix(p, "internal/store/"):
			return 1
		case p == "main.go":
			return 2
		}
		return 3
	}
	sort.SliceStable(rest, func(i, j int) bool { return rank(rest[i]) < rank(rest[j]) })
	for _, p := range rest {
		add(p)
	}
	return out
}

var fileRefRE = regexp.MustCompile(`[A-Za-z0-9_./-]+\.(?:go|sql|html|js|css)\b`)

// mentioned returns the app's files a check's output names, in order:
// "internal/api/book_api.go:12:3" from vet, "book_api_test.go:45" from a
// test (relative to its package), "./main.go" from gofmt.
func mentioned(output string, in codegen.AssistInput) []string {
	var out []string
	paths := in.Files.Paths()
	for _, ref := range fileRefRE.FindAllString(output, -1) {
		ref = strings.TrimPrefix(ref, "./")
		for _, p := range paths {
			if (p == ref || strings.HasSuffix(p, "/"+ref)) && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// describe says in one line what an earlier attempt did, for the repair
// prompt.
func describe(a *codegen.Attempt) string {
	var b bytes.Buffer
	b.WriteString(a.Step + ": ")
	if len(a.Changes) == 0 {
		b.WriteString("changed nothing")
	}
	for i, c := range a.Changes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", c.Action, c.Path)
	}
	if a.Summary != "" {
		b.WriteString(" (" + a.Summary + ")")
	}
	if a.Outcome != "" {
		b.WriteString("; " + a.Outcome)
	}
	return oneLine(b.String(), 400)
}

// oneLine makes model text safe for a log line or the report: one line,
// no control characters, at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
