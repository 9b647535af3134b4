package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kiln-build/kiln"
)

// Error is a failed API call: the server's RFC 9457 problem details, or a
// description of a response that was not one. It unwraps to a *kiln.Error
// with the same code, so kiln.ErrorCode(err) works on anything the client
// returns.
type Error struct {
	Status     int               // HTTP status
	Code       string            // a kiln.E* code
	Title      string            // short summary, e.g. "Unprocessable Entity"
	Detail     string            // what went wrong, safe to show
	Fields     []kiln.FieldError // per-field problems the server named
	RequestID  string            // the server's request id, for support
	RetryAfter time.Duration     // from Retry-After on 429 and 503
}

// Error returns the detail (or title) followed by the named fields, on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message())
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		if f.Path != "" {
			b.WriteString(f.Path)
			b.WriteString(": ")
		}
		b.WriteString(f.Message)
		if i == len(e.Fields)-1 {
			b.WriteString(")")
		}
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter.Round(time.Second))
	}
	if e.Status >= 500 && e.RequestID != "" {
		fmt.Fprintf(&b, " [request id %s]", e.RequestID)
	}
	return b.String()
}

// Message returns the detail, else the title, else the HTTP status text.
func (e *Error) Message() string {
	switch {
	case e.Detail != "":
		return e.Detail
	case e.Title != "":
		return e.Title
	case e.Status != 0:
		return strings.ToLower(http.StatusText(e.Status))
	}
	return "request failed"
}

// Unwrap returns the equivalent *kiln.Error.
func (e *Error) Unwrap() error {
	return &kiln.Error{Code: e.Code, Message: e.Message(), Fields: e.Fields, RetryAfter: e.RetryAfter}
}

// problem is the RFC 9457 body the API sends, with Kiln's extensions.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// maxShown caps any server-provided text kept in an Error.
const maxShown = 1000

// errorFromResponse builds an *Error from a non-2xx response and its body
// (already read, capped).
func errorFromResponse(resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: clean(resp.Header.Get("X-Request-Id"))}
	var p problem
	ct := resp.Header.Get("Content-Type")
	if isJSON(ct) && json.Unmarshal(body, &p) == nil {
		e.Title = clean(p.Title)
		e.Detail = clean(p.Detail)
		e.Code = clean(p.Code)
		if p.RequestID != "" {
			e.RequestID = clean(p.RequestID)
		}
		for _, fe := range p.Errors {
			e.Fields = append(e.Fields, kiln.FieldError{Path: clean(fe.Location), Message: clean(fe.Message)})
		}
	} else {
		e.Title = http.StatusText(resp.StatusCode)
		// A proxy's HTML page or a plain-text error: keep a short first
		// line so the user sees something, never the whole page.
		e.Detail = fmt.Sprintf("server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		if line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n"); line != "" && !strings.HasPrefix(line, "<") {
			e.Detail += ": " + clean(line)
		}
	}
	if !knownCode(e.Code) {
		e.Code = codeForStatus(resp.StatusCode)
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}

func isJSON(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(strings.ToLower(ct))
	return ct == "application/json" || ct == "application/problem+json" || strings.HasSuffix(ct, "+json")
}

func knownCode(code string) bool {
	switch code {
	case kiln.EConflict, kiln.EInternal, kiln.EInvalid, kiln.ENotFound, kiln.EUnauthorized,
		kiln.EForbidden, kiln.ERateLimited, kiln.ETooLarge, kiln.EUnavailable, kiln.EBuildFailed, kiln.ECanceled:
		return true
	}
	return false
}

// codeForStatus is the fallback when a response carries no known code.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return kiln.EInvalid
	case http.StatusUnauthorized:
		return kiln.EUnauthorized
	case http.StatusForbidden:
		return kiln.EForbidden
	case http.StatusNotFound, http.StatusGone:
		return kiln.ENotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return kiln.EConflict
	case http.StatusRequestEntityTooLarge:
		return kiln.ETooLarge
	case http.StatusTooManyRequests:
		return kiln.ERateLimited
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return kiln.EUnavailable
	}
	return kiln.EInternal
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 7*24*3600 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// clean makes server-provided text safe to print on a terminal: control
// characters (escape sequences included) are dropped and the length capped.
func clean(s string) string {
	if len(s) > maxShown {
		s = strings.ToValidUTF8(s[:maxShown], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
