package assist_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/assist"
	"github.com/kiln-build/kiln/codegen/edit"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/llm"
	"github.com/kiln-build/kiln/llm/llmtest"
	"github.com/kiln-build/kiln/templates"
)

// recorder is a kiln.Recorder that keeps log lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

var _ kiln.Recorder = (*recorder)(nil)

func (r *recorder) Step(ctx context.Context, name string, _ kiln.BuildStatus, fn func(ctx context.Context) error) error {
	return fn(ctx)
}
func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}
func (r *recorder) Writer(string) io.WriteCloser                 { return nopCloser{io.Discard} }
func (r *recorder) SetSpec(context.Context, *kiln.AppSpec) error { return nil }
func (r *recorder) AddArtifact(context.Context, string, string, io.Reader) (*kiln.Artifact, error) {
	return &kiln.Artifact{}, nil
}
func (r *recorder) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

var spec = &kiln.AppSpec{KilnSpec: 1, Name: "library", Entities: []kiln.Entity{
	{Name: "book", Plural: "books", Fields: []kiln.Field{{Name: "title", Type: kiln.FieldString, Required: true}}},
	{Name: "loan", Plural: "loans", Fields: []kiln.Field{{Name: "days", Type: kiln.FieldInteger}}},
}, Features: []string{kiln.FeatureUI}}

// MustInput renders the spec into a fresh folder and returns the input of
// an assistant step over it.
func MustInput(tb testing.TB, step string) (codegen.AssistInput, *recorder) {
	tb.Helper()
	set, err := templates.Open("")
	require.NoError(tb, err)
	files, err := render.Render(set, spec)
	require.NoError(tb, err)
	dir := filepath.Join(tb.TempDir(), "app")
	require.NoError(tb, render.WriteDir(files, dir))
	rec := &recorder{}
	return codegen.AssistInput{
		Step: step, Description: "a library with books and loans; a loan lasts at most 30 days",
		Spec: spec, Set: set, Dir: dir, Files: files, Rec: rec, MaxAttempts: 3,
	}, rec
}

// MustAssistant returns an assistant over a client of srv.
func MustAssistant(tb testing.TB, srv *llmtest.Server) *assist.Assistant {
	tb.Helper()
	c, err := llm.New(llm.Config{
		BaseURL: srv.BaseURL(), APIKey: "sk-test", Model: "gpt-test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sleep:  func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
	require.NoError(tb, err)
	return &assist.Assistant{Client: c}
}

const rulesFile = `SUMMARY: loans last at most 30 days

<<<FILE internal/api/loan_rules.go
package api

// maxLoanDays is the longest a loan may last.
const maxLoanDays   =   30
FILE>>>
`

func TestCustomize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("Applied", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text(rulesFile))
		in, _ := MustInput(t, "customize")
		att, err := MustAssistant(t, srv).Customize(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "applied", att.Outcome)
		require.Equal(t, "loans last at most 30 days", att.Summary)
		require.Equal(t, []edit.Change{{Path: "internal/api/loan_rules.go", Action: "created", Added: 4}}, att.Changes)
		require.Equal(t, 1, att.Answers)
		require.Positive(t, att.Tokens)
		b, err := os.ReadFile(filepath.Join(in.Dir, "internal/api/loan_rules.go"))
		require.NoError(t, err)
		require.Contains(t, string(b), "const maxLoanDays = 30", "Go the model writes is gofmt-formatted")
		require.Equal(t, string(b), string(in.Files["internal/api/loan_rules.go"]), "the files packaged are the files on disk")

		prompt := srv.Requests()[0].Last()
		for _, want := range []string{
			"a loan lasts at most 30 days", `"name": "library"`, "<<<FILE path/of/file.go", "NO CHANGES",
			"Current content of internal/api/book_api.go", "- internal/api/book_api_test.go (",
		} {
			require.Contains(t, prompt, want)
		}
		require.NotContains(t, prompt, "Current content of internal/api/book_api_test.go", "tests are listed, not sent")
		require.Empty(t, srv.Requests()[0].Format(), "edits are plain text")
	})
	t.Run("NoChanges", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text("SUMMARY: the templates already do all of it\nNO CHANGES\n"))
		in, _ := MustInput(t, "customize")
		before := len(in.Files)
		att, err := MustAssistant(t, srv).Customize(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "no changes", att.Outcome)
		require.Empty(t, att.Changes)
		require.Len(t, in.Files, before)
	})
	t.Run("MalformedThenFixed", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text("Sure! Here you go:\n"+rulesFile), llmtest.Text(rulesFile))
		in, rec := MustInput(t, "customize")
		att, err := MustAssistant(t, srv).Customize(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "applied", att.Outcome)
		require.Equal(t, 2, att.Answers)
		second := srv.Requests()[1]
		require.Len(t, second.Messages, 3)
		require.Contains(t, second.Messages[1].Content, "Sure! Here you go:")
		require.Contains(t, second.Last(), `line 1: text outside a block: "Sure! Here you go:"`)
		require.Contains(t, rec.log(), "customize: answer 1 is malformed")
	})
	t.Run("EscapeRejected", func(t *testing.T) {
		t.Parallel()
		evil := "<<<FILE ../../evil.go\npackage evil\nFILE>>>\n<<<FILE internal/api/ok.go\npackage api\nFILE>>>\n<<<FILE /etc/cron.d/x.go\npackage x\nFILE>>>\n"
		srv := llmtest.New(t, llmtest.Text(evil), llmtest.Text(rulesFile))
		in, rec := MustInput(t, "customize")
		att, err := MustAssistant(t, srv).Customize(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "applied", att.Outcome)
		require.Len(t, att.Rejected, 2)
		require.Equal(t, "../../evil.go", att.Rejected[0].Path)
		require.Contains(t, rec.log(), "customize: edit rejected: ../../evil.go: the path leaves the app")
		require.Contains(t, rec.log(), "customize: edit rejected: /etc/cron.d/x.go: the path is absolute")
		require.NotContains(t, in.Files, "internal/api/ok.go", "all or nothing: the good block of a refused answer is not applied")
		_, err = os.Stat(filepath.Join(in.Dir, "..", "..", "evil.go"))
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Contains(t, srv.Requests()[1].Last(), "No edit was applied, because:\n- ../../evil.go: the path leaves the app")
	})
	t.Run("GivesUp", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text("I changed the file."), llmtest.Text("Done!"), llmtest.Text("```go\npackage api\n```"), llmtest.Text(rulesFile))
		in, rec := MustInput(t, "customize")
		att, err := MustAssistant(t, srv).Customize(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "gave up after 3 unusable answers", att.Outcome)
		require.Empty(t, att.Changes)
		require.Equal(t, 1, srv.Remaining())
		require.Contains(t, rec.log(), "customize: gave up after 3 unusable answers; the app stays as it was")
	})
	t.Run("HugeAnswer", func(t *testing.T) {
		t.Parallel()
		huge := "<<<FILE internal/api/big.go\n" + strings.Repeat("// x\n", 300<<10) + "FILE>>>\n"
		srv := llmtest.New(t, llmtest.Text(huge), llmtest.Text(rulesFile))
		in, _ := MustInput(t, "customize")
		att, err := MustAssistant(t, srv).Customize(ctx, in)
		require.NoError(t, err)
		require.Equal(t, "applied", att.Outcome)
		require.Contains(t, srv.Requests()[1].Last(), "larger than 1048576 bytes")
		require.Less(t, len(srv.Requests()[1].Messages[1].Content), 40<<10, "the huge answer is not echoed whole")
	})
	t.Run("ErrBudget", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text(rulesFile))
		in, _ := MustInput(t, "customize")
		b := &llm.Budget{BuildLimit: 10}
		require.NoError(t, b.Record(ctx, llm.Call{Usage: llm.Usage{PromptTokens: 20}}))
		_, err := MustAssistant(t, srv).Customize(llm.WithMeter(ctx, b), in)
		var le *llm.Error
		require.ErrorAs(t, err, &le)
		require.Equal(t, llm.KindBudget, le.Kind)
		require.Empty(t, srv.Requests())
	})
}

func TestRepair(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t, llmtest.Text("<<<EDIT internal/api/loan_rules.go\n<<<<<<< SEARCH\nconst maxLoanDays = \"30\"\n=======\nconst maxLoanDays = 30\n>>>>>>> REPLACE\nEDIT>>>\n"))
	in, _ := MustInput(t, "repair 1")
	in.Files["internal/api/loan_rules.go"] = []byte("package api\n\nconst maxLoanDays = \"30\"\n")
	require.NoError(t, os.WriteFile(filepath.Join(in.Dir, "internal/api/loan_rules.go"), in.Files["internal/api/loan_rules.go"], 0o644))
	in.Attempt = 1
	in.Previous = []*codegen.Attempt{{Step: "customize", Summary: "loan limit", Outcome: "applied; vet failed",
		Changes: []edit.Change{{Path: "internal/api/loan_rules.go", Action: "created", Added: 3}}}}
	f := codegen.Failure{Check: "vet", Command: "go vet ./...", Output: "# example.com/library/internal/api\ninternal/api/loan_api.go:40:15: invalid operation: days > maxLoanDays (mismatched types int64 and untyped string)\n"}
	att, err := MustAssistant(t, srv).Repair(context.Background(), in, f)
	require.NoError(t, err)
	require.Equal(t, []edit.Change{{Path: "internal/api/loan_rules.go", Action: "edited", Added: 1, Removed: 1}}, att.Changes)
	prompt := srv.Requests()[0].Last()
	for _, want := range []string{
		"repair attempt 1 of 3", "Failed check: go vet ./...", "mismatched types int64 and untyped string",
		"- customize: created internal/api/loan_rules.go (loan limit); applied; vet failed",
	} {
		require.Contains(t, prompt, want)
	}
	// The changed file comes first, then the file the output names.
	i := strings.Index(prompt, "Current content of internal/api/loan_rules.go")
	j := strings.Index(prompt, "Current content of internal/api/loan_api.go")
	k := strings.Index(prompt, "Current content of internal/api/book_api.go")
	require.True(t, i >= 0 && j > i && k > j, "source order: %d %d %d", i, j, k)
}
