package llm_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/llmplan"
	"github.com/kiln-build/kiln/llm"
)

const wireKey = "sk-wire-0123456789"

// completion is an OpenAI chat completion answer with content.
func completion(content string, prompt, compl int) string {
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-wire", "object": "chat.completion", "created": 1700000000, "model": "gpt-wire",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": content}}},
		"usage":   map[string]any{"prompt_tokens": prompt, "completion_tokens": compl, "total_tokens": prompt + compl},
	})
	return string(b)
}

// rule is one mock-llm rule; the JSON encoding is valid YAML.
type rule struct {
	Path     string       `json:"path"`
	Method   string       `json:"method"`
	Match    string       `json:"match"`
	Response ruleResponse `json:"response"`
}

type ruleResponse struct {
	Status  int    `json:"status"`
	Content string `json:"content"`
}

// MustMockLLM starts @dwmkerr/mock-llm, a third-party OpenAI-compatible
// mock server from the npm registry, with rules, and returns its API root.
// KILN_TEST_MOCK_LLM names its dist/main.js (.ci/run installs it); the
// test is skipped without it.
func MustMockLLM(tb testing.TB, rules []rule) string {
	tb.Helper()
	main := os.Getenv("KILN_TEST_MOCK_LLM")
	if main == "" {
		tb.Skip("KILN_TEST_MOCK_LLM is not set (the path of @dwmkerr/mock-llm's dist/main.js; .ci/run installs it)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		tb.Skip("node is not installed")
	}
	cfg, err := json.Marshal(map[string]any{"rules": rules})
	require.NoError(tb, err)
	dir := tb.TempDir()
	cfgPath := filepath.Join(dir, "mock-llm.yaml")
	require.NoError(tb, os.WriteFile(cfgPath, cfg, 0o600))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, main, "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "HOST=127.0.0.1")
	out, err := cmd.StdoutPipe()
	require.NoError(tb, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(tb, cmd.Start())
	tb.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	// The server prints "… server running on HOST:PORT" once it listens.
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "server running on") {
				close(ready)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		tb.Fatalf("mock-llm did not start: %s", stderr.String())
	}
	return fmt.Sprintf("http://127.0.0.1:%d/v1", port)
}

// TestWireMockLLM proves that what the openai-go SDK sends through
// llm.Client is what a third-party OpenAI-compatible server expects: the
// server answers only requests whose headers and body have the shape its
// rules describe (bearer key, model, messages, max_completion_tokens,
// response_format json_schema with the AppSpec schema) and a 400 to
// anything else.
func TestWireMockLLM(t *testing.T) {
	t.Parallel()
	auth := fmt.Sprintf("headers.authorization == 'Bearer %s'", wireKey)
	base := auth + " && body.model == 'gpt-wire' && body.max_completion_tokens == `4096`"
	spec := `{"kiln_spec":1,"name":"library","entities":[{"name":"book","plural":"books","fields":[{"name":"title","type":"string","required":true}]}]}`
	rules := []rule{
		{Path: "/v1/chat/completions", Method: "POST", Match: "@", Response: ruleResponse{Status: 400,
			Content: `{"error":{"message":"the request does not have the expected shape","type":"invalid_request_error","param":null,"code":null}}`}},
		{Path: "/v1/chat/completions", Method: "POST", Match: base + " && body.messages[0].role == 'system' && body.messages[1].role == 'user' && body.messages[1].content == 'ping' && body.response_format == null",
			Response: ruleResponse{Status: 200, Content: completion("pong", 12, 3)}},
		{Path: "/v1/chat/completions", Method: "POST", Match: base + " && body.response_format.type == 'json_schema' && body.response_format.json_schema.name == 'app_spec'" +
			" && body.response_format.json_schema.strict == `false` && body.response_format.json_schema.schema.anyOf[0].properties.entities.type == 'array'" +
			" && contains(body.messages[0].content, 'a library with books')",
			Response: ruleResponse{Status: 200, Content: completion(spec, 900, 60)}},
		{Path: "/v1/chat/completions", Method: "POST", Match: "!(" + auth + ")", Response: ruleResponse{Status: 401,
			Content: `{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`}},
	}
	baseURL := MustMockLLM(t, rules)
	var logs bytes.Buffer
	client := func(key string) *llm.Client {
		c, err := llm.New(llm.Config{BaseURL: baseURL, APIKey: key, Model: "gpt-wire", MaxOutputTokens: 4096,
			Logger: slog.New(slog.NewTextHandler(&logs, nil)), Prices: llm.Prices{"gpt-wire": {Input: 1, Output: 2}}})
		require.NoError(t, err)
		return c
	}
	ctx := context.Background()

	t.Run("Text", func(t *testing.T) {
		resp, err := client(wireKey).Complete(ctx, ask("ping"))
		require.NoError(t, err)
		require.Equal(t, "pong", resp.Content)
		require.Equal(t, llm.Usage{PromptTokens: 12, CompletionTokens: 3}, resp.Usage)
	})
	t.Run("PlanJSONSchema", func(t *testing.T) {
		budget := &llm.Budget{}
		got, err := (&llmplan.Planner{Client: client(wireKey)}).Plan(llm.WithMeter(ctx, budget), "a library with books")
		require.NoError(t, err)
		require.Equal(t, "library", got.Name)
		require.Equal(t, kiln.TokenUsage{Calls: 1, PromptTokens: 900, CompletionTokens: 60, TotalTokens: 960, CostUSD: (900 + 120) / 1e6}, budget.Total())
	})
	t.Run("ErrBadKey", func(t *testing.T) {
		_, err := client("sk-wrong").Complete(ctx, ask("ping"))
		requireKind(t, err, llm.KindAuth)
	})
	t.Run("ErrShape", func(t *testing.T) {
		_, err := client(wireKey).Complete(ctx, ask("something else"))
		e := requireKind(t, err, llm.KindBadRequest)
		require.Contains(t, e.Message, "the request does not have the expected shape")
	})
	require.NotContains(t, logs.String(), wireKey)
}
