package plan

import (
	"regexp"
	"strings"
)

// headingMark starts the clause of a Markdown heading ("# Recipe Book"):
// a title, not a list of things.
const headingMark = "zzheading"

// line is one line of the description with its indentation and whether it
// was a bullet ("- ", "* ", "1.", "2)").
type line struct {
	indent   int
	bullet   bool
	text     string
	children []*line
}

var bulletRE = regexp.MustCompile(`^([-*+]|\d{1,3}[.)])\s+`)

// clauses splits an ASCII-lowercased description into clauses: lines,
// bullets (a header whose bullets are short phrases becomes one list:
// "books:\n- title\n- author" reads as "books: title, author"), then
// sentences and semicolon-separated parts outside parentheses.
func clauses(text string) [][]string {
	var roots []*line
	var stack []*line
	var header *line // a plain line ending in ":" whose plain lines follow as a list
	for _, raw := range strings.Split(text, "\n") {
		indent := 0
		for _, c := range raw {
			if c != ' ' {
				break
			}
			indent++
		}
		s := strings.TrimSpace(raw)
		heading := strings.HasPrefix(s, "#")
		s = strings.TrimLeft(s, "#>")
		s = strings.TrimSpace(s)
		if heading && s != "" {
			s = headingMark + " " + strings.TrimRight(s, ":")
		}
		if s == "" {
			header = nil
			continue
		}
		l := &line{indent: indent, text: s}
		if m := bulletRE.FindString(s); m != "" {
			l.bullet = true
			l.text = strings.TrimSpace(s[len(m):])
		}
		// "Books:\ntitle\nauthor": plain lines under a header are its list.
		if !l.bullet && header != nil && !strings.HasSuffix(s, ":") && simplePhrase(s) {
			header.children = append(header.children, l)
			continue
		}
		header = nil
		if !l.bullet && strings.HasSuffix(s, ":") {
			header = l
		}
		for len(stack) > 0 && (stack[len(stack)-1].indent > indent || stack[len(stack)-1].indent == indent && (l.bullet == stack[len(stack)-1].bullet || !l.bullet)) {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && l.bullet {
			p := stack[len(stack)-1]
			p.children = append(p.children, l)
		} else {
			roots = append(roots, l)
		}
		stack = append(stack, l)
	}
	var out [][]string
	for _, r := range roots {
		for _, text := range flatten(r) {
			for _, sentence := range sentences(text) {
				for _, t := range splitSentence(tokenize(sentence)) {
					if len(t) > 0 {
						out = append(out, t)
					}
				}
			}
		}
	}
	return out
}

// splitSentence splits a sentence where "and" starts a new statement:
// "members borrow books, and each loan has a due date".
func splitSentence(t []string) [][]string {
	depth := 0
	for i := 0; i+2 < len(t); i++ {
		switch t[i] {
		case "(":
			depth++
		case ")":
			depth = max(depth-1, 0)
		case "and", "but", "while", "whereas":
			if depth > 0 || i == 0 {
				continue
			}
			next := t[i+1]
			if next == "each" || next == "every" || (t[i-1] == "," || t[i] != "and" || statementBefore(t[:i])) && determiners[next] && statementAhead(t[i+2:]) {
				return append([][]string{t[:i]}, splitSentence(t[i+1:])...)
			}
		}
	}
	return [][]string{t}
}

// statementBefore reports whether t already holds a verb, so that "and"
// after it starts another statement: "the email must be unique and the
// name is mandatory".
func statementBefore(t []string) bool {
	for _, w := range t {
		if w == "(" {
			return false
		}
		if w == "is" || w == "are" || w == "must" || haveVerbs[w] || w == "belongs" || w == "belong" {
			return true
		}
	}
	return false
}

// statementAhead reports whether a verb follows within a few words.
func statementAhead(t []string) bool {
	for i, w := range t {
		if i > 3 || w == "," || w == "(" || w == "and" || w == "or" {
			return false
		}
		if haveVerbs[w] || w == "belongs" || w == "belong" || w == "can" || w == "is" || w == "are" {
			return true
		}
	}
	return false
}

// flatten turns a line and its bullets into clause texts.
func flatten(l *line) []string {
	var kids []string
	simple := true
	for _, c := range l.children {
		texts := flatten(c)
		kids = append(kids, texts...)
		if len(texts) != 1 || !simplePhrase(texts[0]) {
			simple = false
		}
	}
	if len(kids) == 0 {
		return []string{l.text}
	}
	head := strings.TrimSpace(l.text)
	if simple && !strings.HasSuffix(head, ".") {
		sep := ": "
		if strings.HasSuffix(head, ":") {
			sep = " "
		} else if w := lastWord(head); w == "with" || w == "has" || w == "have" || w == "of" {
			sep = " "
		}
		return []string{head + sep + strings.Join(kids, ", ")}
	}
	return append([]string{head}, kids...)
}

func lastWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// simplePhrase reports whether a bullet reads as one list item ("title",
// "due date (required)") rather than a sentence of its own.
func simplePhrase(s string) bool {
	if strings.ContainsAny(s, ":;.") {
		return false
	}
	outside := parenRE.ReplaceAllString(s, " ")
	words := strings.Fields(outside)
	if len(words) > 5 {
		return false
	}
	for _, w := range words {
		if haveVerbs[w] || w == "belongs" || w == "belong" || w == "many" {
			return false
		}
	}
	return true
}

var parenRE = regexp.MustCompile(`\([^()]*\)`)

// sentences splits text at . ! ? ; outside parentheses.
func sentences(text string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		case ';', '!', '?':
			if depth == 0 {
				end := i
				if c == '?' && strings.Contains(text[start:i], ":") {
					end = i + 1 // "cats: name, vaccinated?" asks yes or no
				}
				out = append(out, text[start:end])
				start = i + 1
			}
		case '.':
			// A full stop ends a sentence; a dot inside a number or word
			// ("9.99", "e.g") does not.
			if depth == 0 && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\n') {
				out = append(out, text[start:i])
				start = i + 1
			}
		}
	}
	return append(out, text[start:])
}

// abbreviations would end sentences early; they are spelled out first.
var abbreviations = strings.NewReplacer("e.g.", ",", "i.e.", ",", "etc.", " ", "vs.", "vs", "approx.", "approx")

var phraseFixes = strings.NewReplacer(
	"e-mail", "email", "to-do", "todo", "to do list", "todo list", "&", " and ", "+", " and ", "=", ":",
	"date and time", "datetime", "date/time", "datetime", "date-time", "datetime",
	"yes/no", "yes", "yes or no", "yes", "true/false", "yes", "true or false", "yes",
	"keep track of", "track", "keeps track of", "track", "keeping track of", "track",
	"as well as", ",", "along with", ",", "together with", ",", "in addition to", ",",
	"one or more", "many", "zero or more", "many", "any number of", "many", "a lot of", "many",
	"lots of", "many", "a number of", "many", "a bunch of", "many", "more than one", "many",
	"one-to-many", "many", "1:n", "many", "1-n", "many",
)

// tokenize splits a clause into lowercase words and the punctuation the
// parser reads: ( ) , and : (a dash between spaces counts as a colon).
func tokenize(s string) []string {
	s = phraseFixes.Replace(" " + s + " ")
	var toks []string
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 {
			word := strings.Trim(w.String(), "_.'")
			if word != "" && word != "s" {
				toks = append(toks, word)
			}
			w.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_':
			w.WriteByte(c)
		case c == '.' && w.Len() > 0 && i+1 < len(s) && '0' <= s[i+1] && s[i+1] <= '9':
			w.WriteByte(c) // 9.99
		case c == '\'':
			// "customer's" → "customer"; "don't" → "dont"
			if i+1 < len(s) && s[i+1] == 's' && (i+2 == len(s) || !isWordByte(s[i+2])) {
				i++
			}
			flush()
		case c == '(' || c == '[' || c == '{':
			flush()
			toks = append(toks, "(")
		case c == ')' || c == ']' || c == '}':
			flush()
			toks = append(toks, ")")
		case c == ',' || c == '/':
			flush()
			toks = append(toks, ",")
		case c == '?' && w.Len() > 0:
			flush() // "paid?" asks yes or no
			toks = append(toks, "yes")
		case c == ':':
			flush()
			toks = append(toks, ":")
		case c == '-':
			if w.Len() > 0 && i+1 < len(s) && isWordByte(s[i+1]) {
				flush() // "due-date" → "due date"
			} else {
				flush()
				toks = append(toks, ":")
			}
		default:
			flush()
		}
	}
	flush()
	return toks
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_'
}

// top returns the index of the first tok outside parentheses, or -1.
func top(t []string, tok string) int {
	depth := 0
	for i, x := range t {
		if depth == 0 && x == tok {
			return i
		}
		switch x {
		case "(":
			depth++
		case ")":
			if depth > 0 {
				depth--
			}
		}
	}
	return -1
}

// listSeparators split items of a list outside parentheses.
var listSeparators = map[string]bool{",": true, "and": true, "or": true, "plus": true, "also": true}

// splitList splits tokens into list items at commas and "and"/"or"
// outside parentheses, dropping empty items.
func splitList(t []string) [][]string {
	var items [][]string
	depth, start := 0, 0
	for i, x := range t {
		switch {
		case x == "(":
			depth++
		case x == ")":
			if depth > 0 {
				depth--
			}
		case depth == 0 && listSeparators[x]:
			if i > start {
				items = append(items, t[start:i])
			}
			start = i + 1
		}
	}
	if start < len(t) {
		items = append(items, t[start:])
	}
	return items
}

// parens splits an item into what is outside parentheses and the tokens
// inside them.
func parens(t []string) (outside, inside []string) {
	depth := 0
	for _, x := range t {
		switch {
		case x == "(":
			if depth > 0 {
				inside = append(inside, x) // a field's own hints: "code (number)"
			}
			depth++
		case x == ")":
			if depth > 1 {
				inside = append(inside, x)
			}
			if depth > 0 {
				depth--
			}
		case depth > 0:
			inside = append(inside, x)
		default:
			outside = append(outside, x)
		}
	}
	return outside, inside
}

// stripFront drops leading tokens that are in set.
func stripFront(t []string, set map[string]bool) []string {
	for len(t) > 0 && set[t[0]] {
		t = t[1:]
	}
	return t
}

// stripBack drops trailing tokens that are in set.
func stripBack(t []string, set map[string]bool) []string {
	for len(t) > 0 && set[t[len(t)-1]] {
		t = t[:len(t)-1]
	}
	return t
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
