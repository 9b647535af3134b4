package analytics

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
)

// The fast path reads a well-formed, valid event in one pass over its
// bytes without reflection, which makes validation several times cheaper
// than encoding/json. It gives up (returns false) on anything unusual; the
// slow path then checks the event field by field and names each problem.
// TestValidateFastAgreesWithSlow checks that both accept the same events.

// cursor reads JSON from b.
type cursor struct {
	b []byte
	i int
}

func (c *cursor) ws() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end.
func (c *cursor) peek() byte {
	if c.i < len(c.b) {
		return c.b[c.i]
	}
	return 0
}

func (c *cursor) eat(b byte) bool {
	c.ws()
	if c.peek() != b {
		return false
	}
	c.i++
	return true
}

// lit reads a literal such as null or true.
func (c *cursor) lit(word string) bool {
	if len(c.b)-c.i < len(word) || string(c.b[c.i:c.i+len(word)]) != word {
		return false
	}
	c.i += len(word)
	return true
}

// str reads a string. Strings without escapes are sliced; escapes are
// decoded by encoding/json.
func (c *cursor) str() (string, bool) {
	c.ws()
	if c.peek() != '"' {
		return "", false
	}
	start := c.i
	c.i++
	escaped := false
	for c.i < len(c.b) {
		switch ch := c.b[c.i]; {
		case ch == '"':
			c.i++
			if !escaped {
				return string(c.b[start+1 : c.i-1]), true
			}
			var s string
			if json.Unmarshal(c.b[start:c.i], &s) != nil {
				return "", false
			}
			return s, true
		case ch == '\\':
			escaped = true
			c.i += 2
		case ch < 0x20:
			return "", false
		default:
			c.i++
		}
	}
	return "", false
}

// num reads a number in JSON's grammar.
func (c *cursor) num() (float64, bool) {
	c.ws()
	start := c.i
	if c.peek() == '-' {
		c.i++
	}
	digits := func() int {
		n := 0
		for c.i < len(c.b) && c.b[c.i] >= '0' && c.b[c.i] <= '9' {
			c.i++
			n++
		}
		return n
	}
	intStart := c.i
	if n := digits(); n == 0 || (n > 1 && c.b[intStart] == '0') {
		return 0, false
	}
	if c.peek() == '.' {
		c.i++
		if digits() == 0 {
			return 0, false
		}
	}
	if p := c.peek(); p == 'e' || p == 'E' {
		c.i++
		if p := c.peek(); p == '+' || p == '-' {
			c.i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(c.b[start:c.i]), 64)
	return f, err == nil
}

// text checks an event's string: at most max characters, no control
// characters.
func text(s string, max int) bool {
	if len(s) > max && utf8.RuneCountInString(s) > max {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// validateFast returns the event when raw is a well-formed event that
// passes every rule.
func validateFast(raw []byte, now time.Time, maxAge time.Duration) (kiln.Event, bool) {
	var e kiln.Event
	c := &cursor{b: raw}
	if !c.eat('{') {
		return e, false
	}
	var name, ts *string
	var propsRaw []byte
	if c.eat('}') {
		return e, false // no name
	}
	for {
		key, ok := c.str()
		if !ok || !c.eat(':') {
			return e, false
		}
		c.ws()
		null := c.peek() == 'n' && c.lit("null")
		switch key {
		case "name", "timestamp", "user_id", "session_id":
			var s string
			if !null {
				if s, ok = c.str(); !ok {
					return e, false
				}
			}
			switch key {
			case "name":
				name = nil
				if !null {
					name = &s
				}
			case "timestamp":
				ts = nil
				if !null {
					ts = &s
				}
			case "user_id":
				e.UserID = s
			case "session_id":
				e.SessionID = s
			}
		case "value":
			e.Value = nil
			if !null {
				f, ok := c.num()
				if !ok {
					return e, false
				}
				e.Value = &f
			}
		case "properties":
			propsRaw, e.Properties = nil, nil
			if !null {
				start := c.i
				props, ok := c.props()
				if !ok {
					return e, false
				}
				if len(props) > 0 {
					propsRaw, e.Properties = raw[start:c.i], props
				}
			}
		default:
			return e, false
		}
		if c.eat(',') {
			continue
		}
		if !c.eat('}') {
			return e, false
		}
		break
	}
	c.ws()
	if c.i != len(c.b) || name == nil || ts == nil {
		return e, false
	}
	e.Name, e.PropertiesJSON = *name, propsRaw
	if e.Name == "" || !text(e.Name, kiln.MaxEventNameLen) || strings.TrimSpace(e.Name) != e.Name ||
		!text(e.UserID, kiln.MaxEventIDLen) || !text(e.SessionID, kiln.MaxEventIDLen) {
		return e, false
	}
	t, err := time.Parse(time.RFC3339Nano, *ts)
	if err != nil || t.After(now.Add(kiln.MaxEventFuture)) || t.Before(now.Add(-maxAge)) {
		return e, false
	}
	e.Time = t.UTC().Truncate(time.Microsecond)
	return e, true
}

// props reads a flat properties object and checks its rules.
func (c *cursor) props() (map[string]any, bool) {
	if !c.eat('{') {
		return nil, false
	}
	props := map[string]any{}
	if c.eat('}') {
		return props, true
	}
	for {
		k, ok := c.str()
		if !ok || !c.eat(':') || k == "" || !text(k, kiln.MaxPropertyKeyLen) {
			return nil, false
		}
		c.ws()
		switch c.peek() {
		case '"':
			s, ok := c.str()
			if !ok || utf8.RuneCountInString(s) > kiln.MaxPropertyLen {
				return nil, false
			}
			props[k] = s
		case 't':
			if !c.lit("true") {
				return nil, false
			}
			props[k] = true
		case 'f':
			if !c.lit("false") {
				return nil, false
			}
			props[k] = false
		default:
			f, ok := c.num()
			if !ok {
				return nil, false
			}
			props[k] = f
		}
		if c.eat(',') {
			continue
		}
		if !c.eat('}') || len(props) > kiln.MaxEventProperties {
			return nil, false
		}
		return props, true
	}
}
