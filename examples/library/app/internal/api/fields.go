package api

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Length limits, in characters.
const (
	maxString = 500
	maxText   = 100_000
	maxEmail  = 254
)

// form reads the fields of one JSON object and collects what is wrong with
// them, keyed by field name.
type form struct {
	raw  map[string]json.RawMessage
	errs map[string]string
}

func newForm(raw map[string]json.RawMessage) *form {
	return &form{raw: raw, errs: map[string]string{}}
}

// rejectUnknown flags every key that is not a known field. The read-only
// keys id, created_at and updated_at are ignored, so that a record read
// from the API can be sent back as it is.
func (f *form) rejectUnknown(known ...string) {
	for k := range f.raw {
		if !slices.Contains(known, k) && k != "id" && k != "created_at" && k != "updated_at" {
			f.errs[k] = "is not a field"
		}
	}
}

// field reads one field with parse. An absent or null field takes its
// default (a JSON literal, "" for none); without one it is nil, which is an
// error when the field is required.
func field[T any](f *form, name string, required bool, def string, parse func(json.RawMessage) (T, string)) *T {
	raw, ok := f.raw[name]
	if !ok || isNull(raw) {
		if def == "" {
			if required {
				f.errs[name] = "is required"
			}
			return nil
		}
		raw = json.RawMessage(def)
	}
	v, problem := parse(raw)
	if problem != "" {
		f.errs[name] = problem
		return nil
	}
	return &v
}

// value dereferences p, or returns the zero value for nil (which only
// happens when the form has errors).
func value[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}
func parseText(max int, required bool) func(json.RawMessage) (string, string) {
	return func(raw json.RawMessage) (string, string) {
		s, ok := jsonString(raw)
		switch {
		case !ok:
			return "", "must be a string"
		case required && strings.TrimSpace(s) == "":
			return "", "must not be empty"
		case utf8.RuneCountInString(s) > max:
			return "", "must be at most " + strconv.Itoa(max) + " characters"
		}
		return s, ""
	}
}
func parseInteger(raw json.RawMessage) (int64, string) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		return 0, "must be a whole number"
	}
	return n, ""
}
func parseRef(raw json.RawMessage) (int64, string) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil || n <= 0 {
		return 0, "must be the id of a record (a positive whole number)"
	}
	return n, ""
}
func parseBoolean(raw json.RawMessage) (bool, string) {
	switch string(bytes.TrimSpace(raw)) {
	case "true":
		return true, ""
	case "false":
		return false, ""
	}
	return false, "must be true or false"
}

var decimalRE = regexp.MustCompile(`^([+-]?)([0-9]{1,18})(\.[0-9]{1,8})?$`)

// parseDecimal accepts a JSON number or string such as 12.50 and returns it
// exactly, as text: up to 18 digits before the point and 8 after. Leading
// zeros and a "+" are dropped; the digits after the point are kept.
func parseDecimal(raw json.RawMessage) (string, string) {
	s, ok := jsonString(raw)
	if !ok {
		s = string(bytes.TrimSpace(raw))
	}
	m := decimalRE.FindStringSubmatch(s)
	if m == nil {
		return "", "must be a decimal number such as 12.50"
	}
	sign, whole, frac := m[1], strings.TrimLeft(m[2], "0"), m[3]
	if whole == "" {
		whole = "0"
	}
	if sign == "+" || strings.Trim(whole+frac, "0.") == "" {
		sign = ""
	}
	return sign + whole + frac, ""
}

// parseDate accepts a calendar date YYYY-MM-DD.
func parseDate(raw json.RawMessage) (string, string) {
	s, ok := jsonString(raw)
	if !ok {
		return "", "must be a date such as 2026-01-02"
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Format(time.DateOnly) != s {
		return "", "must be a date such as 2026-01-02"
	}
	return s, ""
}

// parseEmail accepts a bare address such as ada@example.com.
func parseEmail(raw json.RawMessage) (string, string) {
	s, ok := jsonString(raw)
	if !ok {
		return "", "must be an email address"
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > maxEmail || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return "", "must be an email address such as ada@example.com"
	}
	return s, ""
}
