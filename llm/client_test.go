package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/llm"
	"github.com/kiln-build/kiln/llm/llmtest"
)

const testKey = "sk-test-0123456789abcdefSECRET"

// sleeps records the waits a client asked for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

// MustClient returns a client of srv with key testKey and model "gpt-test",
// logging into logs; cfg adjusts the config.
func MustClient(tb testing.TB, srv *llmtest.Server, logs *bytes.Buffer, sl *sleeps, cfg func(*llm.Config)) *llm.Client {
	tb.Helper()
	c := llm.Config{
		BaseURL: srv.BaseURL(), APIKey: testKey, Model: "gpt-test", MaxRetries: 3,
		Prices: llm.Prices{"gpt-test": {Input: 2, Output: 8}},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:  sl.sleep,
	}
	if cfg != nil {
		cfg(&c)
	}
	client, err := llm.New(c)
	require.NoError(tb, err)
	return client
}

func ask(content string) llm.Request {
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "be brief"}, {Role: llm.RoleUser, Content: content}}}
}

func requireKind(tb testing.TB, err error, kind llm.ErrorKind) *llm.Error {
	tb.Helper()
	var e *llm.Error
	require.ErrorAs(tb, err, &e)
	require.Equal(tb, kind, e.Kind, "error: %v", err)
	return e
}

func TestComplete(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Content: "hello", Usage: &llmtest.Usage{PromptTokens: 1000, CompletionTokens: 500}})
		srv.RequireKey(testKey)
		srv.Models = []string{"gpt-test"}
		var logs bytes.Buffer
		c := MustClient(t, srv, &logs, &sleeps{}, nil)
		resp, err := c.Complete(llm.WithStep(context.Background(), "plan"), ask("hi"))
		require.NoError(t, err)
		require.Equal(t, "hello", resp.Content)
		require.Equal(t, llm.Usage{PromptTokens: 1000, CompletionTokens: 500}, resp.Usage)
		require.InDelta(t, (1000*2.0+500*8.0)/1e6, resp.CostUSD, 1e-12)
		require.Equal(t, 1, resp.Attempts)

		reqs := srv.Requests()
		require.Len(t, reqs, 1)
		require.Equal(t, "gpt-test", reqs[0].Model)
		require.Equal(t, []llmtest.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}}, reqs[0].Messages)
		require.Equal(t, int64(llm.DefaultMaxOutputTokens), reqs[0].MaxCompletionTokens)
		require.Empty(t, reqs[0].Format())
		require.Contains(t, logs.String(), "step=plan")
		require.Contains(t, logs.String(), "prompt_tokens=1000")
		require.NotContains(t, logs.String(), testKey)
	})
	t.Run("JSONSchema", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text(`{"a":1}`), llmtest.Text(`{"a":2}`))
		c := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil)
		schema := json.RawMessage(`{"type":"object","properties":{"a":{"type":"integer"}}}`)
		_, err := c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Content: "x"}}, Format: llm.FormatJSONSchema, Schema: schema, SchemaName: "thing"})
		require.NoError(t, err)
		_, err = c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Content: "x"}}, Format: llm.FormatJSONObject})
		require.NoError(t, err)
		reqs := srv.Requests()
		require.Equal(t, "json_schema", reqs[0].Format())
		js := reqs[0].ResponseFormat["json_schema"].(map[string]any)
		require.Equal(t, "thing", js["name"])
		require.Equal(t, false, js["strict"])
		require.Equal(t, map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "integer"}}}, js["schema"])
		require.Equal(t, "json_object", reqs[1].Format())
	})
	t.Run("RetryAfter", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.RateLimited(7), llmtest.Text("ok"))
		sl := &sleeps{}
		c := MustClient(t, srv, &bytes.Buffer{}, sl, nil)
		resp, err := c.Complete(context.Background(), ask("hi"))
		require.NoError(t, err)
		require.Equal(t, "ok", resp.Content)
		require.Equal(t, 2, resp.Attempts)
		require.Equal(t, []time.Duration{7 * time.Second}, sl.d)
	})
	t.Run("RetryAfterMs", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Status: 503, Header: map[string]string{"Retry-After-Ms": "250"}}, llmtest.Text("ok"))
		sl := &sleeps{}
		_, err := MustClient(t, srv, &bytes.Buffer{}, sl, nil).Complete(context.Background(), ask("hi"))
		require.NoError(t, err)
		require.Equal(t, []time.Duration{250 * time.Millisecond}, sl.d)
	})
	t.Run("ServerErrorsBackoff", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Status: 500}, llmtest.Reply{Status: 502, Body: []byte("<html>bad gateway</html>"), ContentType: "text/html"}, llmtest.Text("ok"))
		sl := &sleeps{}
		resp, err := MustClient(t, srv, &bytes.Buffer{}, sl, nil).Complete(context.Background(), ask("hi"))
		require.NoError(t, err)
		require.Equal(t, 3, resp.Attempts)
		require.Len(t, sl.d, 2)
		require.InDelta(t, float64(time.Second), float64(sl.d[0]), float64(time.Second)/4)
		require.InDelta(t, float64(2*time.Second), float64(sl.d[1]), float64(time.Second)/2)
	})
	t.Run("ErrRateLimitedGaveUp", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.RateLimited(1), llmtest.RateLimited(1), llmtest.RateLimited(1))
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, func(c *llm.Config) { c.MaxRetries = 2 }).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindRateLimited)
		require.Contains(t, e.Message, "gave up after 3 tries")
		require.Len(t, srv.Requests(), 3)
	})
	t.Run("ErrRetryAfterTooLong", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.RateLimited(3600))
		sl := &sleeps{}
		_, err := MustClient(t, srv, &bytes.Buffer{}, sl, nil).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindRateLimited)
		require.Contains(t, e.Message, "asked to wait 1h0m0s")
		require.Empty(t, sl.d)
	})
	t.Run("ErrBadKey", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		srv.RequireKey("sk-the-right-one")
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindAuth)
		require.Equal(t, 401, e.Status)
		require.True(t, e.Fatal())
		require.Contains(t, e.Message, "refused the API key")
		require.Contains(t, e.Message, "llm.api_key")
		require.Len(t, srv.Requests(), 1, "a refused key is not retried")
	})
	t.Run("ErrUnknownModel", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		srv.Models = []string{"gpt-other"}
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindModel)
		require.Contains(t, e.Message, `model "gpt-test" is not available`)
		require.Contains(t, e.Message, "llm.model")
		require.Len(t, srv.Requests(), 1)
	})
	t.Run("ErrWrongBaseURL", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, func(c *llm.Config) { c.BaseURL = srv.URL }).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindEndpoint)
		require.Contains(t, e.Message, "llm.base_url")
	})
	t.Run("ErrContextLength", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.ContextLengthExceeded())
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindContextLength)
		require.Contains(t, e.Message, "context window")
		require.Contains(t, e.Message, "maximum context length is 8192 tokens")
	})
	t.Run("ErrQuota", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Status: 429, Error: &llmtest.APIError{Message: "You exceeded your current quota.", Type: "insufficient_quota", Code: "insufficient_quota"}})
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil).Complete(context.Background(), ask("hi"))
		requireKind(t, err, llm.KindQuota)
		require.Len(t, srv.Requests(), 1, "no quota is not retried")
	})
	t.Run("ErrFormatUnsupported", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Status: 400, Error: &llmtest.APIError{Message: "response_format json_schema is not supported by this model", Type: "invalid_request_error", Param: "response_format"}})
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil).Complete(context.Background(), ask("hi"))
		requireKind(t, err, llm.KindFormat)
	})
	t.Run("ErrHugeResponse", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Text(strings.Repeat("x", 64<<10)))
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, func(c *llm.Config) { c.MaxResponseBytes = 16 << 10 }).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindResponse)
		require.Contains(t, e.Message, "larger than 16384 bytes")
	})
	t.Run("ErrCutOff", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Content: "{\"a\":", FinishReason: "length"})
		meter := &llm.Budget{}
		ctx := llm.WithMeter(context.Background(), meter)
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil).Complete(ctx, ask("hi"))
		e := requireKind(t, err, llm.KindResponse)
		require.Contains(t, e.Message, "cut off")
		require.Equal(t, 1, meter.Total().Calls, "a cut-off answer still costs tokens")
	})
	t.Run("ErrRefusal", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Refusal: "I can't help with that."})
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindResponse)
		require.Contains(t, e.Message, "refused: I can't help with that.")
	})
	t.Run("ErrUnreachable", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		srv.Close()
		sl := &sleeps{}
		_, err := MustClient(t, srv, &bytes.Buffer{}, sl, func(c *llm.Config) { c.MaxRetries = 1 }).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindNetwork)
		require.Contains(t, e.Message, "cannot reach")
		require.Len(t, sl.d, 1)
	})
	t.Run("ErrTimeout", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		_, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, func(c *llm.Config) { c.Timeout = 50 * time.Millisecond; c.MaxRetries = 0 }).Complete(context.Background(), ask("hi"))
		e := requireKind(t, err, llm.KindNetwork)
		require.Contains(t, e.Message, "did not answer within 50ms")
	})
	t.Run("EstimatedUsage", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Content: strings.Repeat("y", 400), NoUsage: true})
		resp, err := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil).Complete(context.Background(), ask("hi"))
		require.NoError(t, err)
		require.True(t, resp.Usage.Estimated)
		require.Equal(t, int64(101), resp.Usage.CompletionTokens)
	})
	t.Run("Canceled", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.RateLimited(1))
		ctx, cancel := context.WithCancel(context.Background())
		sl := &sleeps{}
		c := MustClient(t, srv, &bytes.Buffer{}, sl, func(c *llm.Config) {
			c.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
		})
		_, err := c.Complete(ctx, ask("hi"))
		require.ErrorIs(t, err, context.Canceled)
	})
}

// TestKeyNeverLeaks has a hostile server echo the key back in every place
// it can: error messages, answers and headers. None of it may reach an
// error, a log line or the answer's content.
func TestKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reply func(r llmtest.Request) llmtest.Reply
	}{
		{"Unauthorized", func(r llmtest.Request) llmtest.Reply {
			return llmtest.Reply{Status: 401, Error: &llmtest.APIError{Message: "Incorrect API key provided: " + r.Header.Get("Authorization"), Code: "invalid_api_key"}}
		}},
		{"ServerError", func(r llmtest.Request) llmtest.Reply {
			return llmtest.Reply{Status: 500, Error: &llmtest.APIError{Message: "crash while handling " + r.Header.Get("Authorization")}}
		}},
		{"BadRequest", func(r llmtest.Request) llmtest.Reply {
			return llmtest.Reply{Status: 400, Error: &llmtest.APIError{Message: "bad " + r.Header.Get("Authorization"), Param: r.Header.Get("Authorization")}}
		}},
		{"Content", func(r llmtest.Request) llmtest.Reply {
			return llmtest.Text("your key is " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		}},
		{"Refusal", func(r llmtest.Request) llmtest.Reply {
			return llmtest.Reply{Refusal: "no, " + r.Header.Get("Authorization")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := llmtest.New(t)
			srv.Respond = tc.reply
			var logs bytes.Buffer
			resp, err := MustClient(t, srv, &logs, &sleeps{}, func(c *llm.Config) { c.MaxRetries = 1 }).Complete(context.Background(), ask("hi"))
			require.Equal(t, "Bearer "+testKey, srv.Requests()[0].Header.Get("Authorization"), "the key is sent")
			if err != nil {
				require.NotContains(t, err.Error(), testKey)
			}
			if resp != nil {
				require.NotContains(t, resp.Content, testKey)
				require.Contains(t, resp.Content, "[redacted]")
			}
			require.NotContains(t, logs.String(), testKey)
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  llm.Config
		want string
	}{
		{"ErrNoModel", llm.Config{BaseURL: "http://localhost:1/v1"}, "no model"},
		{"ErrScheme", llm.Config{BaseURL: "ftp://x/v1", Model: "m"}, "http(s) URL"},
		{"ErrCredentialsInURL", llm.Config{BaseURL: "https://user:" + testKey + "@x/v1", Model: "m"}, "must not hold credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := llm.New(tc.cfg)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), testKey)
		})
	}
	t.Run("DefaultBaseURL", func(t *testing.T) {
		c, err := llm.New(llm.Config{Model: "gpt-4o"})
		require.NoError(t, err)
		require.Equal(t, "api.openai.com", c.Host())
	})
}

// usageStore is an in-memory kiln.UsageStore.
type usageStore struct {
	mu    sync.Mutex
	calls []*kiln.LLMCall
	fail  error
}

var _ kiln.UsageStore = (*usageStore)(nil)

func (s *usageStore) RecordLLMCall(_ context.Context, c *kiln.LLMCall) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	return nil
}

func (s *usageStore) SumUserTokens(_ context.Context, owner int64, since time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	var n int64
	for _, c := range s.calls {
		if c.OwnerID == owner && !c.CreatedAt.Before(since) {
			n += c.PromptTokens + c.CompletionTokens
		}
	}
	return n, nil
}

func TestBudget(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	t.Run("BuildLimit", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Content: "a", Usage: &llmtest.Usage{PromptTokens: 600, CompletionTokens: 300}}, llmtest.Reply{Content: "b", Usage: &llmtest.Usage{PromptTokens: 200, CompletionTokens: 100}})
		store := &usageStore{}
		var lines []string
		b := &llm.Budget{BuildID: 7, OwnerID: 3, BuildLimit: 1000, Store: store, Now: func() time.Time { return now },
			Logf: func(f string, a ...any) { lines = append(lines, f) }}
		ctx := llm.WithStep(llm.WithMeter(context.Background(), b), "repair 1")
		c := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil)
		_, err := c.Complete(ctx, ask("one"))
		require.NoError(t, err)
		_, err = c.Complete(ctx, ask("two"))
		require.NoError(t, err)
		// 100 tokens are left; the prompt ("be brief", "two") is estimated at 5.
		require.Equal(t, int64(95), srv.Requests()[1].MaxCompletionTokens, "the second call may use only what is left after its prompt")
		_, err = c.Complete(ctx, ask("three"))
		e := requireKind(t, err, llm.KindBudget)
		require.Contains(t, e.Message, "this build has used 1200 of the 1000 tokens")
		require.Contains(t, e.Message, "llm.max_tokens_per_build")
		require.Len(t, srv.Requests(), 2, "a refused call is not sent")
		require.Equal(t, kiln.TokenUsage{Calls: 2, PromptTokens: 800, CompletionTokens: 400, TotalTokens: 1200, CostUSD: (800*2.0 + 400*8.0) / 1e6}, b.Total())
		require.Len(t, store.calls, 2)
		require.Equal(t, kiln.LLMCall{BuildID: 7, OwnerID: 3, Step: "repair 1", Model: "gpt-test", PromptTokens: 600, CompletionTokens: 300, CostUSD: (600*2.0 + 300*8.0) / 1e6, CreatedAt: now}, *store.calls[0])
		require.Len(t, lines, 2)
	})
	t.Run("PromptOverBudget", func(t *testing.T) {
		t.Parallel()
		srv := llmtest.New(t, llmtest.Reply{Content: "a", Usage: &llmtest.Usage{PromptTokens: 10, CompletionTokens: 10}})
		b := &llm.Budget{BuildLimit: 50}
		ctx := llm.WithMeter(context.Background(), b)
		c := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, nil)
		_, err := c.Complete(ctx, ask(strings.Repeat("x", 400))) // ~105 tokens of prompt
		e := requireKind(t, err, llm.KindBudget)
		require.Contains(t, e.Message, "this call's prompt (~105 tokens) needs more than the 50 tokens left")
		require.Empty(t, srv.Requests(), "a prompt the budget cannot pay for is not sent")
		_, err = c.Complete(ctx, ask("short"))
		require.NoError(t, err)
		require.Equal(t, int64(44), srv.Requests()[0].MaxCompletionTokens, "50 left minus the ~6 tokens of prompt")
	})
	t.Run("MonthLimit", func(t *testing.T) {
		t.Parallel()
		store := &usageStore{calls: []*kiln.LLMCall{
			{OwnerID: 3, PromptTokens: 4000, CompletionTokens: 1000, CreatedAt: now.AddDate(0, 0, -2)},
			{OwnerID: 3, PromptTokens: 90000, CreatedAt: now.AddDate(0, -1, 0)}, // last month
			{OwnerID: 4, PromptTokens: 90000, CreatedAt: now},                   // someone else
		}}
		b := &llm.Budget{OwnerID: 3, MonthLimit: 5500, Store: store, Now: func() time.Time { return now }}
		left, err := b.Allow(context.Background())
		require.NoError(t, err)
		require.Equal(t, int64(500), left)
		store.calls = append(store.calls, &kiln.LLMCall{OwnerID: 3, PromptTokens: 500, CreatedAt: now})
		_, err = b.Allow(context.Background())
		e := requireKind(t, err, llm.KindBudget)
		require.Contains(t, e.Message, "you have used 5500 of your 5500 tokens this month")
		require.Contains(t, e.Message, "resets on 2026-04-01")
	})
	t.Run("ErrStore", func(t *testing.T) {
		t.Parallel()
		b := &llm.Budget{MonthLimit: 10, Store: &usageStore{fail: errors.New("db down")}}
		_, err := b.Allow(context.Background())
		require.ErrorContains(t, err, "db down")
	})
	t.Run("MonthStart", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), kiln.MonthStart(time.Date(2026, 12, 31, 22, 59, 0, 0, time.FixedZone("x", -3600))))
		require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), kiln.MonthStart(time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("x", -3600))))
	})
}

func TestPrices(t *testing.T) {
	t.Parallel()
	p, err := llm.ParsePrices([]string{"gpt-4o=2.5/10", " gpt-4o-mini* = 0.15 / 0.6 ", ""})
	require.NoError(t, err)
	cost, ok := p.Cost("gpt-4o-mini-2024-07-18", llm.Usage{PromptTokens: 1e6, CompletionTokens: 1e6})
	require.True(t, ok)
	require.InDelta(t, 0.75, cost, 1e-9)
	cost, ok = p.Cost("gpt-4o", llm.Usage{PromptTokens: 2e6})
	require.True(t, ok)
	require.InDelta(t, 5.0, cost, 1e-9)
	_, ok = p.Cost("llama3", llm.Usage{PromptTokens: 1})
	require.False(t, ok)
	for _, bad := range []string{"gpt", "=1/2", "m=1", "m=a/2", "m=-1/2", "m=NaN/1", "m=Inf/1"} {
		_, err := llm.ParsePrices([]string{bad})
		require.Error(t, err, bad)
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	srv.Respond = func(r llmtest.Request) llmtest.Reply {
		return llmtest.Text("answer to " + r.Last() + " with " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}
	dir := t.TempDir()
	c := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, func(c *llm.Config) { c.Cache = &llm.Cache{Dir: dir} })
	var lines []string
	b := &llm.Budget{Logf: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }}
	ctx := llm.WithStep(llm.WithMeter(context.Background(), b), "plan")

	first, err := c.Complete(ctx, ask("one"))
	require.NoError(t, err)
	require.False(t, first.Cached)
	again, err := c.Complete(ctx, ask("one"))
	require.NoError(t, err)
	require.True(t, again.Cached)
	require.Equal(t, first.Content, again.Content)
	require.Len(t, srv.Requests(), 1, "a request seen before is not sent")
	require.Equal(t, 1, b.Total().Calls, "a cached answer costs nothing")
	require.Contains(t, lines[1], "llm plan: answered from the cache (no tokens used)")

	_, err = c.Complete(ctx, ask("two"))
	require.NoError(t, err)
	_, err = c.Complete(llm.WithoutCache(ctx), ask("one"))
	require.NoError(t, err)
	schema := llm.Request{Messages: ask("one").Messages, Format: llm.FormatJSONObject}
	_, err = c.Complete(ctx, schema)
	require.NoError(t, err)
	require.Len(t, srv.Requests(), 4, "another prompt, no_cache and another format ask again")

	other := MustClient(t, srv, &bytes.Buffer{}, &sleeps{}, func(c *llm.Config) { c.Cache = &llm.Cache{Dir: dir}; c.Model = "gpt-other" })
	_, err = other.Complete(ctx, ask("one"))
	require.NoError(t, err)
	require.Len(t, srv.Requests(), 5, "another model asks again")

	// The answers echoed the key; the cache holds them redacted.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		require.NotContains(t, string(data), testKey)
		return err
	})
	require.NoError(t, err)
}
