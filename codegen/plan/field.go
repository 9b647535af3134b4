package plan

import (
	"slices"
	"strings"

	"github.com/kiln-build/kiln"
)

// parseField reads a field phrase: "a published date", "price as a
// decimal", "title (required, unique)", "done flag", "status defaults to
// open", "duration in minutes".
func parseField(item []string) (*fieldDraft, bool) {
	f := &fieldDraft{}
	main, hints := parens(item)
	// "price as decimal", "year: int", "notes - long text", "of type x".
	for i, w := range main {
		if (w == "as" || w == ":" || w == "type" && i > 0 && main[i-1] == "of") && i > 0 && i+1 < len(main) {
			if typeOf(main[i+1:]) != "" || hintOnly(main[i+1:]) {
				hints = append(hints, main[i+1:]...)
				main = main[:i]
				if w == "type" {
					main = main[:i-1]
				}
				break
			}
		}
	}
	// "defaults to open", "default: 0", "(default false)".
	main, f.def = cutDefault(main)
	var hintDef []string
	if hints, hintDef = cutDefault(hints); hintDef != nil {
		f.def = hintDef
	}
	// "duration in minutes", "price in dollars", "title in english".
	if i := slices.Index(main, "in"); i > 0 {
		switch {
		case i+1 < len(main) && timeUnits[main[i+1]]:
			main = append(slices.Clone(main[:i]), main[i+1])
		case i+1 < len(main) && currencies[main[i+1]]:
			f.numeric = true
			f.typ = kiln.FieldDecimal
			main = main[:i]
		case i+1 < len(main) && (determiners[main[i+1]] || languages[main[i+1]]):
			main = main[:i] // "title in english", "shelf in the library"
		}
	}
	var words []string
	modifier := ""
phrase:
	for i, w := range main {
		switch {
		case w == "required" || w == "mandatory" || w == "compulsory" || w == "must" && i+1 < len(main) && main[i+1] == "have":
			f.required, modifier = true, w
		case w == "unique" || w == "distinct":
			f.unique, modifier = true, w
		case w == "optional" || w == "optionally":
			f.optional, modifier = true, w
		case w == "long" && len(words) == 0:
			f.typ = kiln.FieldText
		case w == "short" && len(words) == 0:
			f.typ = kiln.FieldString
		case (w == "numeric" || w == "number") && len(words) == 0 && i+1 < len(main):
			f.numeric = true
		case relativeStops[w] && len(words) > 0:
			break phrase
		case (w == "is" || w == "has" || w == "can") && len(words) == 0 && i+1 < len(main) && !fieldDropWords[main[i+1]]:
			words = append(words, w) // "is published", "has children"
		case fieldDropWords[w] || w == "(" || w == ")" || w == "," || w == ":":
		default:
			words = append(words, w)
		}
	}
	// "can be marked done", "is archived": the state is the field.
	for i, w := range words {
		if (w == "marked" || w == "be" || w == "set") && i+1 < len(words) && i > 0 && (words[0] == "can" || words[0] == "is") {
			words = words[i+1:]
			break
		}
	}
	if len(words) == 1 && booleanTail[words[0]] && modifier != "" {
		// "a required flag" is the boolean "required".
		words = []string{modifier}
		f.required, f.unique, f.optional = false, false, false
		f.typ = kiln.FieldBoolean
	}
	if len(words) > 1 && booleanTail[words[len(words)-1]] {
		words = words[:len(words)-1]
		f.typ = kiln.FieldBoolean
	}
	for len(words) > 1 && fieldDropWords[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	if len(words) > 4 {
		words = words[:4]
	}
	if len(words) == 0 || len(words) == 1 && fieldStopWords[words[0]] {
		return nil, false
	}
	if _, ok := featureWords[words[0]]; ok && len(words) == 1 {
		return nil, false
	}
	f.words = words
	for _, h := range hints {
		switch {
		case h == "required" || h == "mandatory":
			f.required = true
		case h == "unique":
			f.unique = true
		case h == "optional":
			f.optional = true
		case h == "number" || h == "numeric" || strings.Trim(h, "0123456789.") == "":
			if f.typ == "" {
				f.numeric = true // "(number)", "(1-5)"
			}
		default:
			if t, ok := typeWords[h]; ok && (f.typ == "" || f.typ == kiln.FieldText && t != kiln.FieldString) {
				f.typ = t
			}
		}
	}
	if f.optional {
		f.required = false
	}
	return f, true
}

var (
	languages  = set("english", "french", "german", "spanish", "italian", "dutch", "portuguese", "chinese", "japanese")
	timeUnits  = set("minutes", "hours", "seconds", "days", "weeks", "months", "years", "cents", "kg", "km", "grams", "miles", "meters", "metres", "pounds", "lbs", "ms", "milliseconds")
	currencies = set("dollars", "euros", "usd", "eur", "gbp", "yen", "francs", "currency", "money")
)

// typeOf returns the type a hint phrase names, or "".
func typeOf(t []string) kiln.FieldType {
	for _, w := range t {
		if typ, ok := typeWords[w]; ok {
			return typ
		}
	}
	return ""
}

// hintOnly reports whether t holds only hint words ("number", "required").
func hintOnly(t []string) bool {
	for _, w := range t {
		if w != "number" && w != "numeric" && w != "required" && w != "unique" && w != "optional" && w != "a" && w != "an" {
			return false
		}
	}
	return len(t) > 0
}

// cutDefault removes "default(s) (to|of|is|:) VALUE…" from t and returns
// the value words.
func cutDefault(t []string) ([]string, []string) {
	for i, w := range t {
		if w != "default" && w != "defaults" && w != "defaulting" || len(t) == 1 {
			continue // a field may be named "default"
		}
		v := stripFront(t[i+1:], defaultLead)
		var val []string
		for _, x := range v {
			if x == "," || x == ")" || x == "(" {
				break
			}
			val = append(val, x)
		}
		head := t[:i]
		head = stripBack(head, defaultTail)
		if len(val) == 0 {
			return head, nil
		}
		return head, val
	}
	return t, nil
}

var (
	// defaultLead sits between "default" and its value: "defaults to a".
	defaultLead = set("to", "of", "is", ":", "value", "=", "a", "an", "the")
	// defaultTail comes before "default": "which by".
	defaultTail = set("with", "a", "by", "and", "which", "that", ",")
)
