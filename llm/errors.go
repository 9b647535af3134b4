package llm

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	kiln "github.com/kiln-build/kiln"
)

// ErrorKind says what went wrong with a model call, so callers can decide
// whether to retry, re-ask or stop.
type ErrorKind string

// Error kinds.
const (
	// KindAuth: the server refused the API key (401, 403).
	KindAuth ErrorKind = "auth"
	// KindModel: the configured model does not exist on the server.
	KindModel ErrorKind = "model_not_found"
	// KindEndpoint: the base URL has no chat completions endpoint.
	KindEndpoint ErrorKind = "endpoint_not_found"
	// KindContextLength: the prompt does not fit the model's context window.
	KindContextLength ErrorKind = "context_length"
	// KindQuota: the account behind the key has no quota left.
	KindQuota ErrorKind = "quota"
	// KindRateLimited: 429 after every retry.
	KindRateLimited ErrorKind = "rate_limited"
	// KindServer: 5xx (or 408/409) after every retry.
	KindServer ErrorKind = "server"
	// KindNetwork: the server could not be reached after every retry.
	KindNetwork ErrorKind = "network"
	// KindFormat: the server does not support the requested response format.
	KindFormat ErrorKind = "format_unsupported"
	// KindBadRequest: any other 4xx.
	KindBadRequest ErrorKind = "bad_request"
	// KindResponse: the answer was unusable (too large, empty, cut off, not JSON).
	KindResponse ErrorKind = "bad_response"
	// KindBudget: a token limit would be exceeded; the call was not made.
	KindBudget ErrorKind = "budget"
)

// Error is a failed model call. Its message is safe to show to users: it
// never contains the API key, and text the server sent is trimmed and
// stripped of control characters.
type Error struct {
	Kind ErrorKind
	// Status is the HTTP status, 0 when there was no response.
	Status int
	// Message explains the failure and what to check.
	Message string
	// RetryAfter is what the server asked for with a 429.
	RetryAfter string
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Retryable reports whether trying the same call again later may work.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindRateLimited, KindServer, KindNetwork:
		return true
	}
	return false
}

// Fatal reports whether no later call with the same settings can succeed
// (bad key, unknown model, wrong URL, no quota, budget): a build should stop
// at once rather than re-ask.
func (e *Error) Fatal() bool {
	switch e.Kind {
	case KindAuth, KindModel, KindEndpoint, KindQuota, KindBudget:
		return true
	}
	return false
}

// maxServerText bounds how much of a server's error message an Error quotes.
const maxServerText = 300

// cleanServerText makes text from a server safe to quote: one line, no
// control characters, at most maxServerText runes, and without secret.
func cleanServerText(s, secret string) string {
	s = redact(s, secret)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxServerText {
		s = string(r[:maxServerText]) + "…"
	}
	return s
}

// redact replaces every occurrence of secret in s.
func redact(s, secret string) string {
	if secret == "" || !strings.Contains(s, secret) {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// isContextLength recognizes the context-overflow errors of OpenAI, Azure,
// vLLM, Ollama and llama.cpp, which say it in different words.
func isContextLength(code, msg string) bool {
	if code == "context_length_exceeded" || code == "string_above_max_length" {
		return true
	}
	m := strings.ToLower(msg)
	for _, s := range []string{"context length", "context_length", "context window", "maximum context", "too many tokens", "prompt is too long", "exceeds the context"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// isFormatUnsupported recognizes a server refusing response_format.
func isFormatUnsupported(code, param, msg string) bool {
	if param == "response_format" || strings.HasPrefix(param, "response_format.") {
		return true
	}
	m := strings.ToLower(msg)
	return strings.Contains(m, "response_format") || strings.Contains(m, "json_schema") || strings.Contains(m, "structured output")
}

// classify turns an HTTP error answer into an Error.
func classify(status int, code, param, typ, serverMsg, model, host, secret string) *Error {
	text := cleanServerText(serverMsg, secret)
	quote := ""
	if text != "" {
		quote = ": " + text
	}
	statusText := fmt.Sprintf("%d %s", status, http.StatusText(status))
	e := &Error{Status: status}
	lowMsg := strings.ToLower(serverMsg)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = KindAuth
		e.Message = fmt.Sprintf("llm: %s refused the API key (%s); check llm.api_key or OPENAI_API_KEY%s", host, statusText, quote)
	case code == "model_not_found" || (status == http.StatusNotFound && strings.Contains(lowMsg, "model")) ||
		(status == http.StatusBadRequest && strings.Contains(lowMsg, "model") && (strings.Contains(lowMsg, "does not exist") || strings.Contains(lowMsg, "not found"))):
		e.Kind = KindModel
		e.Message = fmt.Sprintf("llm: model %q is not available at %s (%s); check llm.model%s", model, host, statusText, quote)
	case status == http.StatusNotFound:
		e.Kind = KindEndpoint
		e.Message = fmt.Sprintf("llm: %s has no chat completions endpoint (%s); check llm.base_url, which usually ends in /v1%s", host, statusText, quote)
	case code == "insufficient_quota" || typ == "insufficient_quota":
		e.Kind = KindQuota
		e.Message = fmt.Sprintf("llm: the account behind the API key has no quota left at %s (%s)%s", host, statusText, quote)
	case isContextLength(code, serverMsg) && status < 500:
		e.Kind = KindContextLength
		e.Message = fmt.Sprintf("llm: the prompt is longer than model %q accepts (its context window); use a model with a larger context or a smaller app%s", model, quote)
	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.Message = fmt.Sprintf("llm: %s is rate limiting requests (%s)%s", host, statusText, quote)
	case status == http.StatusRequestTimeout || status == http.StatusConflict || status >= 500:
		e.Kind = KindServer
		e.Message = fmt.Sprintf("llm: %s failed (%s)%s", host, statusText, quote)
	case status == http.StatusBadRequest && isFormatUnsupported(code, param, serverMsg):
		e.Kind = KindFormat
		e.Message = fmt.Sprintf("llm: %s does not support the requested response format (%s)%s", host, statusText, quote)
	default:
		e.Kind = KindBadRequest
		e.Message = fmt.Sprintf("llm: %s rejected the request (%s)%s", host, statusText, quote)
	}
	return e
}

// BuildError returns err as a build failure: an *Error becomes an
// EBuildFailed *kiln.Error with the same message, so the build fails with
// that reason instead of being retried as an infrastructure failure. Other
// errors, and nil, are returned as they are.
func BuildError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &kiln.Error{Code: kiln.EBuildFailed, Message: e.Message}
	}
	return err
}
