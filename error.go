package kiln

import (
	"errors"
	"fmt"
	"time"
)

// Application error codes. Service methods document which of these they
// return; the api package maps them to HTTP statuses in one table.
const (
	EConflict     = "conflict"     // the thing exists already, or the state forbids the change
	EInternal     = "internal"     // anything unexpected; details are logged, never shown
	EInvalid      = "invalid"      // the input is wrong; Fields says where
	ENotFound     = "not_found"    // absent, or not the caller's to see
	EUnauthorized = "unauthorized" // no or bad credentials
	EForbidden    = "forbidden"    // authenticated but not allowed (e.g. unverified email)
	ERateLimited  = "rate_limited" // too many attempts; RetryAfter says when to come back
	ETooLarge     = "too_large"    // a body or value over its size limit
	EUnavailable  = "unavailable"  // a dependency is down; retrying later may work
	EBuildFailed  = "build_failed" // the generated app failed its checks (not retried)
	ECanceled     = "canceled"     // the operation was canceled by a user
)

// Error is Kiln's one application error: a machine code and a message safe
// to show to the user. Internal errors are plain Go errors wrapped with %w.
type Error struct {
	Code    string
	Message string
	// Fields lists per-field problems for EInvalid, each naming a path such
	// as "entities[2].fields[0].name".
	Fields []FieldError
	// RetryAfter is set with ERateLimited.
	RetryAfter time.Duration
}

// FieldError is one problem with one input field.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	if len(e.Fields) > 0 && e.Message == "" {
		return fmt.Sprintf("kiln error: code=%s %s: %s", e.Code, e.Fields[0].Path, e.Fields[0].Message)
	}
	return fmt.Sprintf("kiln error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EInvalid *Error about one field.
func FieldErrorf(path, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: EInvalid, Message: path + ": " + msg, Fields: []FieldError{{Path: path, Message: msg}}}
}

// ErrorCode returns the code of the *Error in err's chain, "" for nil and
// EInternal for any other error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-safe message of the *Error in err's chain,
// or "internal error" for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
