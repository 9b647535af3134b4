package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

// CodeMalformed is the problem code of a request Kiln could not parse (400).
const CodeMalformed = "malformed"

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	kiln.EConflict:     http.StatusConflict,
	kiln.EInternal:     http.StatusInternalServerError,
	kiln.EInvalid:      http.StatusUnprocessableEntity,
	kiln.ENotFound:     http.StatusNotFound,
	kiln.EUnauthorized: http.StatusUnauthorized,
	kiln.EForbidden:    http.StatusForbidden,
	kiln.ERateLimited:  http.StatusTooManyRequests,
	kiln.ETooLarge:     http.StatusRequestEntityTooLarge,
	kiln.EUnavailable:  http.StatusServiceUnavailable,
	kiln.EBuildFailed:  http.StatusUnprocessableEntity,
	kiln.ECanceled:     http.StatusConflict,
	CodeMalformed:      http.StatusBadRequest,
}

// codeOf maps an HTTP status Huma chose (validation, body size) back to a code.
func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeMalformed
	case http.StatusUnprocessableEntity:
		return kiln.EInvalid
	case http.StatusRequestEntityTooLarge:
		return kiln.ETooLarge
	}
	for code, s := range statusOf {
		if s == status && code != kiln.EBuildFailed && code != kiln.ECanceled {
			return code
		}
	}
	return kiln.EInternal
}

// Problem is an RFC 9457 problem document with Kiln's stable error code
// and the request id to quote when reporting a problem.
type Problem struct {
	Type      string              `json:"type,omitempty" doc:"A URI reference for the problem type."`
	Title     string              `json:"title,omitempty" doc:"Short summary of the problem type."`
	Status    int                 `json:"status,omitempty" doc:"HTTP status code."`
	Detail    string              `json:"detail,omitempty" doc:"What went wrong this time."`
	Code      string              `json:"code" doc:"Stable machine-readable error code." enum:"conflict,internal,invalid,not_found,unauthorized,forbidden,rate_limited,too_large,unavailable,build_failed,canceled,malformed"`
	Errors    []*huma.ErrorDetail `json:"errors,omitempty" doc:"Per-field problems."`
	RequestID string              `json:"request_id,omitempty" doc:"Quote it when reporting a problem."`
	headers   map[string]string
}

// Error implements error.
func (p *Problem) Error() string { return p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter: problems are problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// GetHeaders implements huma.HeadersError.
func (p *Problem) GetHeaders() http.Header {
	h := http.Header{}
	for k, v := range p.headers {
		h.Set(k, v)
	}
	return h
}

var installErrors sync.Once

// installProblemErrors makes Huma produce Problems for its own errors
// (validation, body size, bad JSON). Huma keeps its error constructor in a
// package variable, so this is done once per process.
func installProblemErrors() {
	installErrors.Do(func() {
		huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			p := newProblem(status, codeOf(status), msg, errs...)
			if hctx != nil {
				p.RequestID = RequestIDFromContext(hctx.Context())
			}
			return p
		}
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return newProblem(status, codeOf(status), msg, errs...)
		}
	})
}

func newProblem(status int, code, msg string, errs ...error) *Problem {
	p := &Problem{Status: status, Title: http.StatusText(status), Detail: msg, Code: code}
	for _, e := range errs {
		if e == nil {
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(e, &d) {
			p.Errors = append(p.Errors, d.ErrorDetail())
		} else {
			p.Errors = append(p.Errors, &huma.ErrorDetail{Message: e.Error()})
		}
	}
	if status == http.StatusUnprocessableEntity && msg == "validation failed" && len(p.Errors) > 0 {
		p.Detail = "validation failed: " + p.Errors[0].Error()
	}
	return p
}

// errorer turns service errors into Problems, logging internal ones.
type errorer struct {
	log *slog.Logger
}

// problem converts err for the client. Internal errors are logged with the
// request id and reach the client only as "internal error".
func (e errorer) problem(ctx context.Context, err error) error {
	code := kiln.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	rid := RequestIDFromContext(ctx)
	if code == kiln.EInternal {
		if errors.Is(err, context.Canceled) {
			// The client went away; nobody reads this answer.
			e.log.DebugContext(ctx, "request canceled", slog.String("request_id", rid))
		} else {
			e.log.ErrorContext(ctx, "internal error", slog.String("request_id", rid), slog.Any("error", err))
		}
		p := newProblem(status, code, "internal error")
		p.RequestID = rid
		return p
	}
	p := newProblem(status, code, kiln.ErrorMessage(err))
	p.RequestID = rid
	var ke *kiln.Error
	if errors.As(err, &ke) {
		for _, f := range ke.Fields {
			loc := f.Path
			if !strings.HasPrefix(loc, "body.") && !strings.HasPrefix(loc, "path.") && !strings.HasPrefix(loc, "query.") {
				loc = "body." + loc
			}
			p.Errors = append(p.Errors, &huma.ErrorDetail{Location: loc, Message: f.Message})
		}
		if ke.RetryAfter > 0 {
			secs := int(ke.RetryAfter.Seconds() + 0.999)
			p.headers = map[string]string{"Retry-After": strconv.Itoa(max(secs, 1))}
		}
	}
	return p
}

// writeProblem writes a Problem outside Huma (middleware).
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	p := newProblem(status, code, msg)
	p.RequestID = RequestIDFromContext(r.Context())
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p) // the client may be gone; nothing to do then
}
