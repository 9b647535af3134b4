// Package analytics receives the events generated apps send: it reads and
// validates ingest requests, rate-limits them per key, and stores the good
// events through a group-commit writer that answers each request only once
// its events are committed. It also runs the background jobs that fold
// events into rollups and enforce retention.
package analytics

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
)

// MalformedError is a request body that is not JSON or NDJSON at all; the
// API answers it with 400.
type MalformedError struct{ Msg string }

func (e *MalformedError) Error() string { return e.Msg }

func malformedf(format string, args ...any) error {
	return &MalformedError{Msg: fmt.Sprintf(format, args...)}
}

// errTooLarge is the answer to a body past MaxIngestBytes.
var errTooLarge = kiln.Errorf(kiln.ETooLarge, "the request body is larger than %d bytes (after decompression)", kiln.MaxIngestBytes)

// ReadBody returns the body decoded per its Content-Encoding ("" or
// "identity", or "gzip"). The decompressed size is capped at
// MaxIngestBytes, so a small gzip bomb costs at most that much memory.
// ETooLarge past the cap; a MalformedError for an unknown encoding or a
// broken gzip stream.
func ReadBody(body []byte, encoding string) ([]byte, error) {
	if len(body) > kiln.MaxIngestBytes {
		return nil, errTooLarge
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
	default:
		return nil, malformedf("unsupported Content-Encoding %q: send gzip or nothing", encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, malformedf("the body is not gzip data: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, kiln.MaxIngestBytes+1))
	if err != nil {
		return nil, malformedf("the gzip data is corrupt: %v", err)
	}
	if len(out) > kiln.MaxIngestBytes {
		return nil, errTooLarge
	}
	return out, nil
}

// Parse reads a batch of events: a JSON array of event objects or NDJSON
// (one object per line; blank lines are skipped). It returns the valid
// events and, by index, why each other one was refused. now is when the
// request arrived; events more than MaxEventFuture after it or maxAge
// before it are refused. Whole-request problems are errors: ETooLarge past
// MaxIngestEvents, EInvalid for an empty batch, a MalformedError when the
// array itself is broken. A broken NDJSON line only refuses that line.
func Parse(body []byte, now time.Time, maxAge time.Duration) ([]kiln.Event, []kiln.EventRejection, error) {
	raws, array, err := split(body)
	if err != nil {
		return nil, nil, err
	}
	if len(raws) == 0 {
		return nil, nil, kiln.Errorf(kiln.EInvalid, "the request holds no events")
	}
	events := make([]kiln.Event, 0, len(raws))
	var rejected []kiln.EventRejection
	for i, raw := range raws {
		e, errs, malformed := validate(raw, now, maxAge)
		if malformed && array {
			return nil, nil, malformedf("malformed JSON array at event %d", i)
		}
		if len(errs) > 0 {
			rejected = append(rejected, kiln.EventRejection{Index: i, Errors: errs})
			continue
		}
		events = append(events, e)
	}
	return events, rejected, nil
}

var errTooManyEvents = kiln.Errorf(kiln.ETooLarge, "a request carries at most %d events", kiln.MaxIngestEvents)

// split cuts the body into one raw value per event: the elements of a JSON
// array, or the non-blank lines of NDJSON. It checks only the array's
// structure; validate checks each event.
func split(body []byte) (raws [][]byte, array bool, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		raws, err := splitArray(trimmed)
		return raws, true, err
	}
	for line := range bytes.Lines(body) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(raws) == kiln.MaxIngestEvents {
			return nil, false, errTooManyEvents
		}
		raws = append(raws, line)
	}
	return raws, false, nil
}

// splitArray returns the elements of a JSON array, found by tracking
// strings and nesting; b starts with '[' and has no surrounding space.
func splitArray(b []byte) ([][]byte, error) {
	var raws [][]byte
	var open []byte // the brackets not closed yet
	start, inString := 1, false
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if inString {
			switch ch {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch ch {
		case '"':
			inString = true
		case '[', '{':
			open = append(open, ch)
		case ']', '}':
			if len(open) == 0 || open[len(open)-1] != ch-2 { // '[' is ']'-2, '{' is '}'-2
				return nil, malformedf("malformed JSON array: unbalanced %q", ch)
			}
			open = open[:len(open)-1]
			if len(open) == 0 {
				if i != len(b)-1 {
					return nil, malformedf("unexpected data after the JSON array")
				}
				if elem := bytes.TrimSpace(b[start:i]); len(elem) > 0 || len(raws) > 0 {
					raws = append(raws, elem)
				}
				if len(raws) > kiln.MaxIngestEvents {
					return nil, errTooManyEvents
				}
				return raws, nil
			}
		case ',':
			if len(open) == 1 {
				raws = append(raws, bytes.TrimSpace(b[start:i]))
				start = i + 1
				if len(raws) > kiln.MaxIngestEvents {
					return nil, errTooManyEvents
				}
			}
		}
	}
	return nil, malformedf("malformed JSON array: it does not end")
}

// kindOf names a JSON value's type for messages.
func kindOf(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// validate checks one event and returns it, or every problem found.
// malformed reports that raw is not JSON at all.
func validate(raw json.RawMessage, now time.Time, maxAge time.Duration) (e kiln.Event, errs []string, malformed bool) {
	if !utf8.Valid(raw) {
		return kiln.Event{}, []string{"invalid UTF-8"}, false
	}
	if e, ok := validateFast(raw, now, maxAge); ok {
		// raw may live in a buffer the server reuses after answering.
		e.PropertiesJSON = bytes.Clone(e.PropertiesJSON)
		return e, nil, false
	}
	if !json.Valid(raw) {
		return kiln.Event{}, []string{"malformed JSON"}, true
	}
	e, errs = validateSlow(raw, now, maxAge)
	return e, errs, false
}

// validateSlow checks every field on its own and names every problem.
func validateSlow(raw json.RawMessage, now time.Time, maxAge time.Duration) (kiln.Event, []string) {
	var e kiln.Event
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return e, []string{fmt.Sprintf("must be a JSON object, got %s", kindOf(raw))}
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	str := func(field string, raw json.RawMessage, maxLen int) (string, bool) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			bad("%s: must be a string, got %s", field, kindOf(raw))
			return "", false
		}
		if n := utf8.RuneCountInString(s); n > maxLen {
			bad("%s: longer than %d characters (%d)", field, maxLen, n)
			return "", false
		}
		if strings.ContainsFunc(s, unicode.IsControl) {
			bad("%s: must not contain control characters", field)
			return "", false
		}
		return s, true
	}
	for k, v := range fields {
		if string(v) == "null" && k != "name" && k != "timestamp" {
			continue // an optional field sent as null is absent
		}
		switch k {
		case "name":
			if s, ok := str("name", v, kiln.MaxEventNameLen); ok {
				if strings.TrimSpace(s) == "" || strings.TrimSpace(s) != s {
					bad("name: must not be empty or start or end with spaces")
				} else {
					e.Name = s
				}
			}
		case "timestamp":
			s, ok := str("timestamp", v, 64)
			if !ok {
				break
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			switch {
			case err != nil:
				bad("timestamp: must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", s)
			case t.After(now.Add(kiln.MaxEventFuture)):
				bad("timestamp: more than %s in the future", fmtDuration(kiln.MaxEventFuture))
			case t.Before(now.Add(-maxAge)):
				bad("timestamp: more than %s in the past", fmtDuration(maxAge))
			default:
				e.Time = t.UTC().Truncate(time.Microsecond)
			}
		case "user_id":
			e.UserID, _ = str("user_id", v, kiln.MaxEventIDLen)
		case "session_id":
			e.SessionID, _ = str("session_id", v, kiln.MaxEventIDLen)
		case "value":
			var f float64
			if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
				bad("value: must be a number, got %s", kindOf(v))
			} else if err := json.Unmarshal(v, &f); err != nil || math.IsInf(f, 0) {
				bad("value: must be a finite number")
			} else {
				e.Value = &f
			}
		case "properties":
			if props := properties(v, bad); len(props) > 0 {
				e.Properties = props
			}
		default:
			bad("%s: unknown field (fields are name, timestamp, user_id, session_id, value, properties)", quoteField(k))
		}
	}
	if _, ok := fields["name"]; !ok {
		bad("name: is required")
	}
	if _, ok := fields["timestamp"]; !ok {
		bad("timestamp: is required")
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return kiln.Event{}, errs
	}
	return e, nil
}

// properties checks a properties object: flat, at most MaxEventProperties
// keys, values strings, finite numbers or booleans.
func properties(raw json.RawMessage, bad func(string, ...any)) map[string]any {
	var fields map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		bad("properties: must be an object, got %s", kindOf(raw))
		return nil
	}
	if len(fields) > kiln.MaxEventProperties {
		bad("properties: more than %d properties (%d)", kiln.MaxEventProperties, len(fields))
		return nil
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		path := "properties." + quoteField(k)
		switch {
		case k == "" || utf8.RuneCountInString(k) > kiln.MaxPropertyKeyLen:
			bad("%s: a property name must be 1 to %d characters", path, kiln.MaxPropertyKeyLen)
			continue
		case strings.ContainsFunc(k, unicode.IsControl):
			bad("%s: a property name must not contain control characters", path)
			continue
		}
		switch v[0] {
		case '"':
			var s string
			_ = json.Unmarshal(v, &s)
			if n := utf8.RuneCountInString(s); n > kiln.MaxPropertyLen {
				bad("%s: longer than %d characters (%d)", path, kiln.MaxPropertyLen, n)
				continue
			}
			out[k] = s
		case 't', 'f':
			out[k] = v[0] == 't'
		case '{', '[', 'n':
			bad("%s: must be a string, number or boolean, got %s", path, kindOf(v))
		default:
			var f float64
			if err := json.Unmarshal(v, &f); err != nil || math.IsInf(f, 0) {
				bad("%s: must be a finite number", path)
				continue
			}
			out[k] = f
		}
	}
	return out
}

// quoteField returns a field name as messages show it: bare when simple,
// quoted otherwise, and cut to 64 bytes.
func quoteField(k string) string {
	if len(k) > 64 {
		k = k[:64] + "…"
	}
	for _, r := range k {
		if !(r == '_' || r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return fmt.Sprintf("%q", k)
		}
	}
	return k
}

func fmtDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
