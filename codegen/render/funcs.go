package render

import (
	"encoding/json"
	"fmt"
	"go/token"
	"strconv"
	"strings"
	"text/template"
	"unicode"

	"github.com/kiln-build/kiln"
)

// Funcs returns the helper functions every template of a set can call.
// docs/TEMPLATES.md documents each one.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"pascal":   Pascal,
		"camel":    Camel,
		"snake":    Snake,
		"plural":   Plural,
		"label":    label,
		"title":    title,
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"join":     strings.Join,
		"quote":    strconv.Quote,
		"oneLine":  oneLine,
		"article":  Article,
		"sqlIdent": sqlIdent,
		"json":     toJSON,
		"jsonName": func(f *Field) string { return f.Name },
		"goType":   goType,
		"sqlType":  sqlType,
		"sample":   sample,
		"badValue": badValue,
		"add":      func(a, b int) int { return a + b },
		"last":     func(i, n int) bool { return i == n-1 },
	}
}

// initialisms are the words Go spells in capitals.
var initialisms = map[string]bool{
	"api": true, "css": true, "csv": true, "dns": true, "html": true, "http": true,
	"https": true, "id": true, "ip": true, "json": true, "pdf": true, "sku": true,
	"sql": true, "ssh": true, "tcp": true, "ttl": true, "ui": true, "uri": true,
	"url": true, "uuid": true, "vat": true, "xml": true,
}

func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == ' ' })
}

// Pascal turns a snake_case identifier into an exported Go name, spelling
// common initialisms in capitals: "customer_id" → "CustomerID".
func Pascal(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		if initialisms[w] {
			b.WriteString(strings.ToUpper(w))
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	if b.Len() == 0 || !unicode.IsLetter([]rune(b.String())[0]) {
		return "X" + b.String()
	}
	return b.String()
}

// Camel turns a snake_case identifier into an unexported Go name:
// "customer_id" → "customerID". A result that is a Go keyword or predeclared
// identifier gets a trailing underscore ("type" → "type_").
func Camel(s string) string {
	p := Pascal(s)
	ws := words(s)
	if len(ws) > 0 && initialisms[ws[0]] {
		p = ws[0] + p[len(ws[0]):]
	} else {
		r := []rune(p)
		r[0] = unicode.ToLower(r[0])
		p = string(r)
	}
	if token.IsKeyword(p) || predeclared[p] {
		p += "_"
	}
	return p
}

var predeclared = map[string]bool{
	"any": true, "append": true, "bool": true, "byte": true, "cap": true, "clear": true,
	"close": true, "complex": true, "copy": true, "delete": true, "error": true,
	"false": true, "float32": true, "float64": true, "imag": true, "int": true,
	"int64": true, "iota": true, "len": true, "make": true, "max": true, "min": true,
	"new": true, "nil": true, "panic": true, "print": true, "println": true,
	"real": true, "recover": true, "rune": true, "string": true, "true": true,
	"uint": true,
}

// Snake turns "CustomerID", "customer id" or "customer-id" into
// "customer_id".
func Snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		switch {
		case c == ' ' || c == '-' || c == '_':
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		case unicode.IsUpper(c):
			prevLower := i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]))
			nextLower := i > 0 && i+1 < len(r) && unicode.IsUpper(r[i-1]) && unicode.IsLower(r[i+1])
			if (prevLower || nextLower) && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
		default:
			b.WriteRune(c)
		}
	}
	return strings.Trim(b.String(), "_")
}

// Plural returns the English plural of a singular word: "category" →
// "categories", "box" → "boxes", "person" → "people". Specs carry their
// plurals; this is for templates that need one of something else.
func Plural(s string) string {
	irregular := map[string]string{
		"person": "people", "child": "children", "man": "men", "woman": "women",
		"mouse": "mice", "goose": "geese", "foot": "feet", "tooth": "teeth",
	}
	head, last := "", s
	if i := strings.LastIndexByte(s, '_'); i >= 0 {
		head, last = s[:i+1], s[i+1:]
	}
	if p, ok := irregular[last]; ok {
		return head + p
	}
	switch {
	case strings.HasSuffix(last, "y") && len(last) > 1 && !strings.ContainsRune("aeiou", rune(last[len(last)-2])):
		return head + last[:len(last)-1] + "ies"
	case strings.HasSuffix(last, "s"), strings.HasSuffix(last, "x"), strings.HasSuffix(last, "z"),
		strings.HasSuffix(last, "ch"), strings.HasSuffix(last, "sh"):
		return head + last + "es"
	}
	return head + last + "s"
}

// label turns an identifier into words for people: "published_on" →
// "Published on".
func label(s string) string {
	w := strings.Join(words(s), " ")
	if w == "" {
		return ""
	}
	r := []rune(w)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// title turns an identifier into a title: "book_club" → "Book Club".
func title(s string) string {
	ws := words(s)
	for i, w := range ws {
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		ws[i] = string(r)
	}
	return strings.Join(ws, " ")
}

// Article puts "a" or "an" before a noun phrase: "an author", "a book",
// "a user" (by the usual spelling rules, not by sound).
func Article(s string) string {
	if s == "" {
		return s
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "uni"), strings.HasPrefix(lower, "use"), strings.HasPrefix(lower, "usu"),
		strings.HasPrefix(lower, "one"), strings.HasPrefix(lower, "eu"):
		return "a " + s
	case strings.HasPrefix(lower, "hour"), strings.HasPrefix(lower, "honest"), strings.HasPrefix(lower, "honor"):
		return "an " + s
	case strings.ContainsRune("aeiou", rune(lower[0])):
		return "an " + s
	}
	return "a " + s
}

// oneLine makes s safe for a one-line comment: control characters and
// Unicode line or paragraph separators become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// sqlIdent quotes an identifier for SQL: "order" → `"order"`.
func sqlIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// toJSON encodes v as compact JSON; HTML-sensitive characters are escaped,
// so the result is safe inside a script.
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return string(b), nil
}

// goType is the Go type of a field in the generated store: optional fields
// are pointers so that JSON null and SQL NULL round-trip.
func goType(f *Field) string {
	var t string
	switch f.Type {
	case kiln.FieldInteger:
		t = "int64"
	case kiln.FieldBoolean:
		t = "bool"
	default: // text-like types, decimal (exact, as text), timestamp, date
		t = "string"
	}
	if !f.Required {
		return "*" + t
	}
	return t
}

// sqlType is a field's SQLite column type with its NOT NULL constraint.
func sqlType(f *Field) string {
	var t string
	switch f.Type {
	case kiln.FieldInteger, kiln.FieldBoolean:
		t = "INTEGER"
	default:
		t = "TEXT"
	}
	if f.Required {
		t += " NOT NULL"
	}
	return t
}

// sample returns a Go expression, using an int variable n, that yields a
// valid JSON-encodable value for the field; different n give different
// values, so unique fields do not collide. Foreign keys have no sample: the
// templates create a parent instead.
func sample(f *Field) string {
	switch f.Type {
	case kiln.FieldText:
		return fmt.Sprintf(`fmt.Sprintf("%s %%d: line one\nline two <b>&</b>", n)`, label(f.Name))
	case kiln.FieldInteger:
		return "n + 1"
	case kiln.FieldDecimal:
		return `fmt.Sprintf("%d.25", n)`
	case kiln.FieldBoolean:
		return "n%2 == 1"
	case kiln.FieldTimestamp:
		return `time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC).Add(time.Duration(n) * time.Hour).Format(time.RFC3339)`
	case kiln.FieldDate:
		return `time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n).Format(time.DateOnly)`
	case kiln.FieldEmail:
		return `fmt.Sprintf("user%d@example.com", n)`
	case kiln.FieldURL:
		return `fmt.Sprintf("https://example.com/items/%d", n)`
	default:
		return fmt.Sprintf(`fmt.Sprintf("%s %%d", n)`, label(f.Name))
	}
}

// badValue returns a JSON literal that the field's validation must reject.
func badValue(f *Field) string {
	switch f.Type {
	case kiln.FieldInteger:
		return `"twelve"`
	case kiln.FieldDecimal:
		return `"12.3.4"`
	case kiln.FieldBoolean:
		return `"yes"`
	case kiln.FieldTimestamp:
		return `"yesterday at noon"`
	case kiln.FieldDate:
		return `"2026-02-30"`
	case kiln.FieldEmail:
		return `"not an email"`
	case kiln.FieldURL:
		return `"javascript:alert(1)"`
	default:
		return `12`
	}
}
