package llmplan_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/llmplan"
	"github.com/kiln-build/kiln/llm"
	"github.com/kiln-build/kiln/llm/llmtest"
)

var _ codegen.Planner = (*llmplan.Planner)(nil)

const librarySpec = `{
  "kiln_spec": 1,
  "name": "library",
  "summary": "Books and who borrowed them.",
  "entities": [
    {"name": "book", "plural": "books", "fields": [
      {"name": "title", "type": "string", "required": true},
      {"name": "isbn", "type": "string", "unique": true}
    ]},
    {"name": "loan", "plural": "loans", "fields": [
      {"name": "borrower", "type": "string", "required": true},
      {"name": "due_on", "type": "date"}
    ]}
  ],
  "relations": [{"from": "loan", "to": "book", "kind": "belongs_to", "field": "book_id", "required": true}]
}`

// MustPlanner returns a planner over a client of srv.
func MustPlanner(tb testing.TB, srv *llmtest.Server) *llmplan.Planner {
	tb.Helper()
	c, err := llm.New(llm.Config{
		BaseURL: srv.BaseURL(), APIKey: "sk-test", Model: "gpt-test", MaxRetries: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sleep:  func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
	require.NoError(tb, err)
	return &llmplan.Planner{Client: c}
}

func requireCode(tb testing.TB, err error, code string) {
	tb.Helper()
	require.Error(tb, err)
	require.Equal(tb, code, kiln.ErrorCode(err), "error: %v", err)
}

func TestPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text(librarySpec))
		spec, err := MustPlanner(t, srv).Plan(ctx, "a library with books and loans")
		require.NoError(t, err)
		require.NoError(t, spec.Validate())
		want, err := kiln.ParseSpec([]byte(librarySpec))
		require.NoError(t, err)
		want.Features = []string{kiln.FeatureUI}
		require.Equal(t, want, spec)

		reqs := srv.Requests()
		require.Len(t, reqs, 1)
		require.Equal(t, "json_schema", reqs[0].Format())
		js := reqs[0].ResponseFormat["json_schema"].(map[string]any)
		require.Equal(t, "app_spec", js["name"])
		schema := js["schema"].(map[string]any)
		require.Len(t, schema["anyOf"], 2, "an AppSpec or an error")
		require.Contains(t, schema["$defs"], "entity")
		prompt := reqs[0].Last()
		require.Contains(t, prompt, "a library with books and loans")
		require.Contains(t, prompt, "string, text, integer, decimal, boolean, timestamp, date, email, url")
	})
	t.Run("InvalidJSONThenFix", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text(`Sure! Here is the spec: {"kiln_spec": 1,`), llmtest.Text(librarySpec))
		spec, err := MustPlanner(t, srv).Plan(ctx, "a library")
		require.NoError(t, err)
		require.Equal(t, "library", spec.Name)
		reqs := srv.Requests()
		require.Len(t, reqs, 2)
		msgs := reqs[1].Messages
		require.Len(t, msgs, 3)
		require.Equal(t, "assistant", msgs[1].Role)
		require.Contains(t, msgs[1].Content, "Sure! Here is the spec")
		require.Contains(t, msgs[2].Content, "not valid JSON")
		require.Contains(t, msgs[2].Content, "Answer again with one AppSpec JSON object")
	})
	t.Run("InvalidSpecThenFix", func(t *testing.T) {
		t.Parallel()
		bad := strings.Replace(librarySpec, `"name": "book"`, `"name": "Book Item"`, 1)
		bad = strings.Replace(bad, `"type": "date"`, `"type": "datetime"`, 1)
		srv := llmtest.New(t, llmtest.Text(bad), llmtest.Text(librarySpec))
		_, err := MustPlanner(t, srv).Plan(ctx, "a library")
		require.NoError(t, err)
		fix := srv.Requests()[1].Last()
		require.Contains(t, fix, "The AppSpec is not valid:")
		require.Contains(t, fix, "- entities[0].name:")
		require.Contains(t, fix, "- entities[1].fields[1].type:")
	})
	t.Run("ErrGivesUp", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text("{}"), llmtest.Text("[]"), llmtest.Text(`{"kiln_spec": 2}`), llmtest.Text(librarySpec))
		_, err := MustPlanner(t, srv).Plan(ctx, "a library")
		requireCode(t, err, kiln.EBuildFailed)
		require.Contains(t, kiln.ErrorMessage(err), "the model gave no valid app spec in 3 answers")
		require.Contains(t, kiln.ErrorMessage(err), "kiln_spec")
		require.Len(t, srv.Requests(), 3, "two re-asks, then stop")
		require.Equal(t, 1, srv.Remaining())
	})
	t.Run("ReasksConfigurable", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text("{}"), llmtest.Text(librarySpec))
		p := MustPlanner(t, srv)
		p.Reasks = -1
		_, err := p.Plan(ctx, "a library")
		require.ErrorContains(t, err, "in 1 answers")
	})
	t.Run("ErrNothingToStore", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text(`{"error": "The description names no kind of record."}`))
		_, err := MustPlanner(t, srv).Plan(ctx, "make me rich")
		requireCode(t, err, kiln.EInvalid)
		require.Contains(t, kiln.ErrorMessage(err), "The description names no kind of record.")
		require.Len(t, srv.Requests(), 1)
	})
	t.Run("ErrDescription", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		_, err := MustPlanner(t, srv).Plan(ctx, "  ")
		requireCode(t, err, kiln.EInvalid)
		_, err = MustPlanner(t, srv).Plan(ctx, strings.Repeat("x", 17<<10))
		requireCode(t, err, kiln.EInvalid)
		require.Empty(t, srv.Requests())
	})
	t.Run("FormatFallback", func(t *testing.T) {
		t.Parallel()
		unsupported := llmtest.Reply{Status: 400, Error: &llmtest.APIError{Message: "response_format of type json_schema is not supported", Param: "response_format"}}
		srv := llmtest.New(t, unsupported, unsupported, llmtest.Text("```json\n"+librarySpec+"\n```"), llmtest.Text(librarySpec))
		p := MustPlanner(t, srv)
		_, err := p.Plan(ctx, "a library")
		require.NoError(t, err)
		_, err = p.Plan(ctx, "a library")
		require.NoError(t, err)
		var formats []string
		for _, r := range srv.Requests() {
			formats = append(formats, r.Format())
		}
		require.Equal(t, []string{"json_schema", "json_object", "", ""}, formats, "falls back once and remembers")
	})
	t.Run("CutOffThenFix", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Content: librarySpec[:100], FinishReason: "length"}, llmtest.Text(librarySpec))
		_, err := MustPlanner(t, srv).Plan(ctx, "a library")
		require.NoError(t, err)
		require.Contains(t, srv.Requests()[1].Last(), "cut off")
	})
	t.Run("ErrBadKey", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		srv.RequireKey("sk-other")
		_, err := MustPlanner(t, srv).Plan(ctx, "a library")
		requireCode(t, err, kiln.EBuildFailed)
		require.Contains(t, kiln.ErrorMessage(err), "refused the API key")
	})
	t.Run("ErrBudget", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Content: "{}", Usage: &llmtest.Usage{PromptTokens: 900, CompletionTokens: 200}}, llmtest.Text(librarySpec))
		bctx := llm.WithMeter(ctx, &llm.Budget{BuildLimit: 1000})
		_, err := MustPlanner(t, srv).Plan(bctx, "a library")
		requireCode(t, err, kiln.EBuildFailed)
		require.Contains(t, kiln.ErrorMessage(err), "token budget exceeded")
		require.Len(t, srv.Requests(), 1)
	})
	t.Run("HugeAnswer", func(t *testing.T) {
		t.Parallel()
		huge := `{"kiln_spec": 1, "name": "x", "summary": "` + strings.Repeat("a", 2<<20) + `"}`
		srv := llmtest.New(t, llmtest.Text(huge), llmtest.Text(librarySpec))
		_, err := MustPlanner(t, srv).Plan(ctx, "a library")
		require.NoError(t, err)
		fix := srv.Requests()[1]
		require.Contains(t, fix.Last(), "larger than")
		require.Less(t, len(fix.Messages[1].Content), 20<<10, "a huge answer is not sent back whole")
	})
}

func TestResponseSchema(t *testing.T) {
	t.Parallel()
	var s map[string]any
	require.NoError(t, json.Unmarshal(llmplan.ResponseSchema(), &s))
	require.NotContains(t, s, "$id")
	spec := s["anyOf"].([]any)[0].(map[string]any)
	require.Equal(t, false, spec["additionalProperties"])
	require.Contains(t, spec["properties"], "entities")
}

var _ codegen.SetPlanner = (*llmplan.Planner)(nil)
