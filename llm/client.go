// Package llm talks to any OpenAI-compatible Chat Completions endpoint
// (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp, LiteLLM …) through the
// official openai-go SDK. It adds what Kiln's build steps need on top:
// retries that honor Retry-After, errors that say what to fix, token
// accounting with an estimated cost, per-build and per-user token budgets
// (a Meter carried in the context), and a hard rule that the API key never
// leaves the HTTP Authorization header.
package llm

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// DefaultBaseURL is OpenAI's API root, used when Config.BaseURL is empty.
const DefaultBaseURL = "https://api.openai.com/v1"

// Defaults for the zero values of Config.
const (
	DefaultTimeout          = 2 * time.Minute
	DefaultMaxOutputTokens  = 16384
	DefaultMaxResponseBytes = 8 << 20
	DefaultMaxRetryWait     = 2 * time.Minute
	DefaultMaxRetries       = 4
)

// Config configures a Client. Zero values take the defaults above, except
// MaxRetries, which is taken as given (0: no retries).
type Config struct {
	// BaseURL is the API root, e.g. https://api.openai.com/v1 or
	// http://localhost:11434/v1 (Ollama).
	BaseURL string
	// APIKey is sent as a bearer token; it may be empty for local servers.
	APIKey string
	// Model is the model every call uses.
	Model string
	// Timeout bounds one HTTP request, retries not counted.
	Timeout time.Duration
	// MaxRetries is how many times a call is retried after a 429, a 5xx,
	// a timeout or a network error.
	MaxRetries int
	// MaxRetryWait is the longest Retry-After the client waits for; a
	// server asking for longer fails the call.
	MaxRetryWait time.Duration
	// MaxOutputTokens caps each answer (max_completion_tokens).
	MaxOutputTokens int64
	// MaxResponseBytes caps the size of an HTTP answer; a larger one fails
	// the call with KindResponse.
	MaxResponseBytes int64
	// Prices estimates the cost of calls; models it lacks cost 0.
	Prices Prices
	// Logger gets one line per call (never the key nor the prompt).
	Logger *slog.Logger
	// Transport is the HTTP transport (default http.DefaultTransport).
	Transport http.RoundTripper
	// Sleep waits between retries; tests replace it. It returns ctx's
	// error when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// Cache, when set, answers a request seen before without calling the
	// model (see WithoutCache).
	Cache *Cache
}

// Client calls one model on one OpenAI-compatible server. It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	host string
	svc  openai.ChatCompletionService
}

// New returns a Client. It fails when the base URL is not an http(s) URL or
// no model is named.
func New(cfg Config) (*Client, error) {
	cfg.BaseURL = cmp.Or(strings.TrimRight(cfg.BaseURL, "/"), DefaultBaseURL)
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llm: base URL must be an http(s) URL, got %q", cfg.BaseURL)
	}
	if u.User != nil {
		return nil, errors.New("llm: the base URL must not hold credentials; use the API key setting")
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("llm: no model configured (llm.model)")
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.MaxRetryWait = cmp.Or(cfg.MaxRetryWait, DefaultMaxRetryWait)
	cfg.MaxOutputTokens = cmp.Or(cfg.MaxOutputTokens, DefaultMaxOutputTokens)
	cfg.MaxResponseBytes = cmp.Or(cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	cfg.MaxRetries = max(cfg.MaxRetries, 0)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	hc := &http.Client{Transport: &limitTransport{next: cfg.Transport, max: cfg.MaxResponseBytes}}
	// The service is built from explicit options only: unlike
	// openai.NewClient it reads no OPENAI_* variables, so what Kiln's
	// settings say is what is sent. Retries are ours (MaxRetries(0)) so
	// that budgets, logging and Retry-After limits apply to each try.
	svc := openai.NewChatCompletionService(
		option.WithBaseURL(cfg.BaseURL+"/"),
		option.WithAPIKey(cfg.APIKey),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(cfg.Timeout),
	)
	return &Client{cfg: cfg, host: u.Host, svc: svc}, nil
}

// Model returns the model the client calls.
func (c *Client) Model() string { return c.cfg.Model }

// Host returns the server's host[:port], for messages.
func (c *Client) Host() string { return c.host }

// Role of a chat message.
type Role string

// Roles.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one chat message.
type Message struct {
	Role    Role
	Content string
}

// Format is the answer format a Request asks for.
type Format int

// Answer formats.
const (
	// FormatText asks for free text.
	FormatText Format = iota
	// FormatJSONObject asks for a JSON object (JSON mode).
	FormatJSONObject
	// FormatJSONSchema asks for JSON matching Request.Schema (structured
	// outputs, non-strict, so any JSON Schema works).
	FormatJSONSchema
)

func (f Format) String() string {
	switch f {
	case FormatJSONObject:
		return "json_object"
	case FormatJSONSchema:
		return "json_schema"
	}
	return "text"
}

// Request is one chat completion request.
type Request struct {
	Messages []Message
	Format   Format
	// Schema is the JSON Schema of the answer with FormatJSONSchema, and
	// SchemaName its name (letters, digits, _ and -).
	Schema     json.RawMessage
	SchemaName string
}

// Usage counts the tokens of one call.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	// Estimated is true when the server reported no usage and the counts
	// were estimated from the text (about four bytes a token).
	Estimated bool
}

// Total returns prompt plus completion tokens.
func (u Usage) Total() int64 { return u.PromptTokens + u.CompletionTokens }

// Response is a model's answer.
type Response struct {
	Content      string
	Model        string // as the server reported it
	FinishReason string
	Usage        Usage
	CostUSD      float64
	Duration     time.Duration
	Attempts     int
	// Cached is true when the answer came from the Cache: no call was
	// made and no tokens were used.
	Cached bool
}

// Complete sends the request and returns the first choice's answer. Before
// the call it asks the Meter in ctx (if any) whether tokens remain, and
// after it records the usage there. It returns an *Error for every failure
// of the model or server (ctx's error when ctx ends).
func (c *Client) Complete(ctx context.Context, req Request) (*Response, error) {
	if len(req.Messages) == 0 {
		return nil, errors.New("llm: a request needs at least one message")
	}
	step := StepFrom(ctx)
	meter := MeterFrom(ctx)
	var cacheKey string
	if c.cfg.Cache != nil {
		cacheKey = c.cfg.Cache.key(c.host, c.cfg.Model, req)
		if e, ok := c.cfg.Cache.get(cacheKey, c.cfg.MaxResponseBytes); ok && !cacheBypassed(ctx) {
			c.cfg.Logger.InfoContext(ctx, "llm call answered from the cache", slog.String("step", step), slog.String("model", c.cfg.Model))
			if meter != nil {
				if err := meter.Record(ctx, Call{Step: step, Model: c.cfg.Model, Cached: true}); err != nil {
					return nil, err
				}
			}
			return &Response{Content: redact(e.Content, c.cfg.APIKey), Model: e.Model, FinishReason: e.FinishReason, Cached: true}, nil
		}
	}
	maxOut := c.cfg.MaxOutputTokens
	if meter != nil {
		remaining, err := meter.Allow(ctx)
		if err != nil {
			return nil, err
		}
		if remaining > 0 {
			// The prompt counts against the budget too: leave the answer
			// only what the prompt (estimated at ~4 bytes a token) does not
			// take, and do not send a prompt that alone would spend it.
			prompt := estimateUsage(req.Messages, "").PromptTokens
			if prompt >= remaining {
				return nil, &Error{Kind: KindBudget, Message: fmt.Sprintf(
					"llm token budget exceeded: this call's prompt (~%d tokens) needs more than the %d tokens left in the budget", prompt, remaining)}
			}
			if left := remaining - prompt; maxOut <= 0 || left < maxOut {
				maxOut = left
			}
		}
	}
	params := c.params(req, maxOut)
	start := time.Now()
	var cc *openai.ChatCompletion
	attempt := 0
	for {
		attempt++
		var httpResp *http.Response
		var err error
		cc, err = c.svc.New(ctx, params, option.WithResponseInto(&httpResp))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("llm: %w", ctx.Err())
		}
		e := c.toError(err, httpResp)
		if !e.Retryable() || attempt > c.cfg.MaxRetries {
			if e.Retryable() && attempt > 1 {
				e.Message += fmt.Sprintf(" (gave up after %d tries)", attempt)
			}
			c.cfg.Logger.WarnContext(ctx, "llm call failed", slog.String("step", step), slog.String("model", c.cfg.Model),
				slog.String("kind", string(e.Kind)), slog.Int("status", e.Status), slog.Int("attempt", attempt))
			return nil, e
		}
		delay, fromServer := retryAfter(httpResp)
		if !fromServer {
			delay = backoff(attempt)
		} else if delay > c.cfg.MaxRetryWait {
			e.Message += fmt.Sprintf(" and asked to wait %s, longer than the %s Kiln waits", delay.Round(time.Second), c.cfg.MaxRetryWait)
			return nil, e
		}
		c.cfg.Logger.WarnContext(ctx, "llm call failed; retrying", slog.String("step", step), slog.String("model", c.cfg.Model),
			slog.String("kind", string(e.Kind)), slog.Int("status", e.Status), slog.Int("attempt", attempt), slog.Duration("wait", delay))
		if err := c.cfg.Sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("llm: %w", err)
		}
	}
	resp := &Response{Model: cc.Model, Duration: time.Since(start), Attempts: attempt}
	if len(cc.Choices) > 0 {
		ch := cc.Choices[0]
		resp.Content = redact(ch.Message.Content, c.cfg.APIKey)
		resp.FinishReason = ch.FinishReason
	}
	resp.Usage = Usage{PromptTokens: cc.Usage.PromptTokens, CompletionTokens: cc.Usage.CompletionTokens}
	if resp.Usage.Total() == 0 {
		resp.Usage = estimateUsage(req.Messages, resp.Content)
	}
	resp.CostUSD, _ = c.cfg.Prices.Cost(c.cfg.Model, resp.Usage)
	c.cfg.Logger.InfoContext(ctx, "llm call", slog.String("step", step), slog.String("model", c.cfg.Model),
		slog.Int64("prompt_tokens", resp.Usage.PromptTokens), slog.Int64("completion_tokens", resp.Usage.CompletionTokens),
		slog.Float64("cost_usd", resp.CostUSD), slog.Duration("duration", resp.Duration), slog.Int("attempts", attempt))
	if meter != nil {
		if err := meter.Record(ctx, Call{Step: step, Model: c.cfg.Model, Usage: resp.Usage, CostUSD: resp.CostUSD, Duration: resp.Duration}); err != nil {
			return nil, err
		}
	}
	switch {
	case len(cc.Choices) == 0:
		return nil, &Error{Kind: KindResponse, Message: fmt.Sprintf("llm: %s answered with no choices", c.host)}
	case cc.Choices[0].Message.Refusal != "":
		return nil, &Error{Kind: KindResponse, Message: "llm: the model refused: " + cleanServerText(cc.Choices[0].Message.Refusal, c.cfg.APIKey)}
	case resp.FinishReason == "length":
		return resp, &Error{Kind: KindResponse, Message: fmt.Sprintf("llm: the answer was cut off at the output limit of %d tokens", maxOut)}
	case strings.TrimSpace(resp.Content) == "":
		return nil, &Error{Kind: KindResponse, Message: "llm: the model gave an empty answer"}
	}
	if c.cfg.Cache != nil {
		if err := c.cfg.Cache.put(cacheKey, cacheEntry{Model: resp.Model, Content: resp.Content, FinishReason: resp.FinishReason}); err != nil {
			c.cfg.Logger.WarnContext(ctx, "llm cache: store answer", slog.Any("error", err))
		}
	}
	return resp, nil
}

// params builds the SDK request.
func (c *Client) params(req Request, maxOut int64) openai.ChatCompletionNewParams {
	msgs := make([]openai.ChatCompletionMessageParamUnion, 0, len(req.Messages))
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			msgs = append(msgs, openai.SystemMessage(m.Content))
		case RoleAssistant:
			msgs = append(msgs, openai.AssistantMessage(m.Content))
		default:
			msgs = append(msgs, openai.UserMessage(m.Content))
		}
	}
	p := openai.ChatCompletionNewParams{Model: c.cfg.Model, Messages: msgs}
	if maxOut > 0 {
		p.MaxCompletionTokens = openai.Int(maxOut)
	}
	switch req.Format {
	case FormatJSONObject:
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
	case FormatJSONSchema:
		p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name:   cmp.Or(req.SchemaName, "answer"),
				Schema: req.Schema,
				Strict: openai.Bool(false),
			},
		}}
	}
	return p
}

// toError turns an SDK or transport error into an *Error, using the HTTP
// response when there was one.
func (c *Client) toError(err error, resp *http.Response) *Error {
	var tl *tooLargeError
	if errors.As(err, &tl) {
		return &Error{Kind: KindResponse, Message: fmt.Sprintf("llm: the answer from %s is larger than %d bytes", c.host, tl.max)}
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		return classify(apiErr.StatusCode, apiErr.Code, apiErr.Param, apiErr.Type, apiErr.Message, c.cfg.Model, c.host, c.cfg.APIKey)
	}
	if resp != nil && resp.StatusCode >= 400 {
		// An error body that is not OpenAI's JSON (a proxy's HTML page).
		return classify(resp.StatusCode, "", "", "", "", c.cfg.Model, c.host, c.cfg.APIKey)
	}
	if resp != nil {
		return &Error{Kind: KindResponse, Status: resp.StatusCode, Message: fmt.Sprintf("llm: could not read the answer from %s: %s", c.host, cleanServerText(err.Error(), c.cfg.APIKey))}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: KindNetwork, Message: fmt.Sprintf("llm: %s did not answer within %s (llm.timeout)", c.host, c.cfg.Timeout)}
	}
	return &Error{Kind: KindNetwork, Message: fmt.Sprintf("llm: cannot reach %s: %s", c.host, cleanServerText(rootCause(err), c.cfg.APIKey))}
}

// rootCause returns the innermost error's text ("connection refused"),
// without the URL the HTTP client wraps around it.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// retryAfter reads Retry-After-Ms or Retry-After (seconds or an HTTP date).
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	if v := resp.Header.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && finite(ms) {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && finite(s) {
		if s > 1e6 {
			s = 1e6
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// backoff is the wait before retry n (1-based) when the server named none:
// 1s, 2s, 4s … up to 30s, with ±20% jitter.
func backoff(n int) time.Duration {
	d := time.Second << min(n-1, 5)
	d = min(d, 30*time.Second)
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Truncate cuts s to at most n bytes at a rune boundary and marks the cut,
// for sending part of an earlier answer back to the model.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "\n[… cut]"
}

// estimateUsage guesses token counts at about four bytes a token, for
// servers that report no usage.
func estimateUsage(msgs []Message, answer string) Usage {
	n := 0
	for _, m := range msgs {
		n += len(m.Content) + 4
	}
	return Usage{PromptTokens: int64(n/4 + 1), CompletionTokens: int64(len(answer)/4 + 1), Estimated: true}
}

// limitTransport caps response bodies.
type limitTransport struct {
	next http.RoundTripper
	max  int64
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, &tooLargeError{max: t.max}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

type tooLargeError struct{ max int64 }

func (e *tooLargeError) Error() string { return fmt.Sprintf("response larger than %d bytes", e.max) }

type limitedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the limit from a larger one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, &tooLargeError{max: b.max}
		}
		return b.rc.Read(p)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
