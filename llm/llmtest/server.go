// Package llmtest is an in-process OpenAI-compatible Chat Completions
// server for tests. It answers POST /v1/chat/completions from a script of
// replies (or a function), checks the bearer key and the model the way
// OpenAI does, reports token usage, and records every request it got.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Reply is one scripted answer.
type Reply struct {
	// Status is the HTTP status (default 200).
	Status int
	// Content is the assistant message of a 200 answer.
	Content string
	// FinishReason defaults to "stop".
	FinishReason string
	// Refusal is the assistant's refusal text, if any.
	Refusal string
	// Usage is reported as is; nil computes it from the text (about four
	// bytes a token). NoUsage leaves usage out of the answer.
	Usage   *Usage
	NoUsage bool
	// Error is the OpenAI-style error object of a non-200 answer.
	Error *APIError
	// Header adds response headers (Retry-After …).
	Header map[string]string
	// Body, when set, is sent verbatim instead of a JSON answer.
	Body []byte
	// ContentType goes with Body (default application/json).
	ContentType string
}

// Usage is what a reply reports as token usage.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// APIError is OpenAI's error object.
type APIError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   string `json:"param,omitempty"`
	Code    string `json:"code,omitempty"`
}

// Message is one chat message of a request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is what the server received.
type Request struct {
	Header              http.Header
	Model               string
	Messages            []Message
	ResponseFormat      map[string]any
	MaxCompletionTokens int64
	Raw                 []byte
}

// Format returns the response_format type asked for ("" when none).
func (r Request) Format() string {
	t, _ := r.ResponseFormat["type"].(string)
	return t
}

// Last returns the content of the last message.
func (r Request) Last() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[len(r.Messages)-1].Content
}

// Server is the fake. Set its fields before the first request.
type Server struct {
	*httptest.Server
	// Models, when set, lists the models that exist (404 otherwise).
	Models []string
	// Respond, when set, answers every request; the script is not used.
	Respond func(r Request) Reply

	mu       sync.Mutex
	apiKey   string
	script   []Reply
	requests []Request
}

// New starts a server that answers with the script's replies in order; a
// request past the end of the script gets a 500 that says so. It is closed
// when the test ends.
func New(tb testing.TB, script ...Reply) *Server {
	tb.Helper()
	s := &Server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// BaseURL is the API root to configure (…/v1).
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// RequireKey makes key the only bearer key accepted (401 otherwise); ""
// accepts any. It may be called while requests are served.
func (s *Server) RequireKey(key string) {
	s.mu.Lock()
	s.apiKey = key
	s.mu.Unlock()
}

// Push appends replies to the script.
func (s *Server) Push(replies ...Reply) {
	s.mu.Lock()
	s.script = append(s.script, replies...)
	s.mu.Unlock()
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Remaining returns how many scripted replies are unused.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		writeError(w, http.StatusNotFound, nil, APIError{Message: "Invalid URL (" + r.Method + " " + r.URL.Path + ")", Type: "invalid_request_error"})
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, nil, APIError{Message: "cannot read body", Type: "invalid_request_error"})
		return
	}
	var body struct {
		Model               string         `json:"model"`
		Messages            []Message      `json:"messages"`
		ResponseFormat      map[string]any `json:"response_format"`
		MaxCompletionTokens int64          `json:"max_completion_tokens"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeError(w, http.StatusBadRequest, nil, APIError{Message: "We could not parse the JSON body of your request.", Type: "invalid_request_error"})
		return
	}
	req := Request{Header: r.Header.Clone(), Model: body.Model, Messages: body.Messages, ResponseFormat: body.ResponseFormat, MaxCompletionTokens: body.MaxCompletionTokens, Raw: raw}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	key := s.apiKey
	s.mu.Unlock()

	if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		writeError(w, http.StatusUnauthorized, nil, APIError{Message: "Incorrect API key provided.", Type: "invalid_request_error", Code: "invalid_api_key"})
		return
	}
	if len(s.Models) > 0 && !slices.Contains(s.Models, body.Model) {
		writeError(w, http.StatusNotFound, nil, APIError{
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", body.Model),
			Type:    "invalid_request_error", Code: "model_not_found",
		})
		return
	}
	var rep Reply
	if s.Respond != nil {
		rep = s.Respond(req)
	} else {
		s.mu.Lock()
		if len(s.script) == 0 {
			s.mu.Unlock()
			writeError(w, http.StatusInternalServerError, nil, APIError{Message: "llmtest: the script has no more replies", Type: "server_error"})
			return
		}
		rep = s.script[0]
		s.script = s.script[1:]
		s.mu.Unlock()
	}
	s.write(w, req, rep)
}

func (s *Server) write(w http.ResponseWriter, req Request, rep Reply) {
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	if rep.Body != nil {
		ct := rep.ContentType
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write(rep.Body)
		return
	}
	if status != http.StatusOK {
		e := APIError{Message: http.StatusText(status), Type: "server_error"}
		if rep.Error != nil {
			e = *rep.Error
		}
		writeError(w, status, nil, e)
		return
	}
	finish := rep.FinishReason
	if finish == "" {
		finish = "stop"
	}
	msg := map[string]any{"role": "assistant", "content": rep.Content, "refusal": nil}
	if rep.Refusal != "" {
		msg["refusal"] = rep.Refusal
		msg["content"] = nil
	}
	out := map[string]any{
		"id":      "chatcmpl-llmtest",
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   req.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish, "logprobs": nil}},
	}
	if !rep.NoUsage {
		u := rep.Usage
		if u == nil {
			n := 0
			for _, m := range req.Messages {
				n += len(m.Content)
			}
			u = &Usage{PromptTokens: int64(n/4 + 1), CompletionTokens: int64(len(rep.Content)/4 + 1)}
		}
		out["usage"] = map[string]any{
			"prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens,
			"total_tokens": u.PromptTokens + u.CompletionTokens,
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, status int, header map[string]string, e APIError) {
	for k, v := range header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// Text returns a 200 reply with content.
func Text(content string) Reply { return Reply{Content: content} }

// RateLimited returns a 429 reply asking to retry after the given seconds.
func RateLimited(seconds int) Reply {
	return Reply{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": fmt.Sprint(seconds)},
		Error: &APIError{Message: "Rate limit reached for requests", Type: "requests", Code: "rate_limit_exceeded"}}
}

// ContextLengthExceeded returns OpenAI's context overflow error.
func ContextLengthExceeded() Reply {
	return Reply{Status: http.StatusBadRequest, Error: &APIError{
		Message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.",
		Type:    "invalid_request_error", Param: "messages", Code: "context_length_exceeded",
	}}
}

// Lines joins lines with newlines and a final newline.
func Lines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
