package plan

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-build/kiln"
)

// irregular maps singular nouns to plurals the suffix rules get wrong.
var irregular = map[string]string{
	"person": "people", "child": "children", "man": "men", "woman": "women",
	"mouse": "mice", "goose": "geese", "tooth": "teeth", "foot": "feet", "ox": "oxen",
	"criterion": "criteria", "phenomenon": "phenomena", "medium": "media",
	"analysis": "analyses", "thesis": "theses", "crisis": "crises", "diagnosis": "diagnoses",
	"cactus": "cacti", "fungus": "fungi", "syllabus": "syllabi", "alumnus": "alumni",
	"leaf": "leaves", "knife": "knives", "life": "lives", "wife": "wives", "half": "halves",
	"shelf": "shelves", "wolf": "wolves", "thief": "thieves", "loaf": "loaves", "calf": "calves",
	"hero": "heroes", "potato": "potatoes", "tomato": "tomatoes", "echo": "echoes", "veto": "vetoes",
	"quiz": "quizzes", "cache": "caches", "niche": "niches", "headache": "headaches",
	"house": "houses", "cause": "causes", "excuse": "excuses", "fuse": "fuses", "clause": "clauses",
	"pause": "pauses", "warehouse": "warehouses", "course": "courses", "purchase": "purchases",
	"movie": "movies", "cookie": "cookies", "rookie": "rookies", "zombie": "zombies", "selfie": "selfies",
	"index": "indexes", "appendix": "appendices", "matrix": "matrices", "vertex": "vertices",
	"axis": "axes", "genus": "genera", "octopus": "octopuses", "canvas": "canvases",
	"bus": "buses", "status": "statuses", "campus": "campuses", "virus": "viruses", "bonus": "bonuses",
	"census": "censuses", "corpus": "corpora", "focus": "focuses", "gas": "gases", "atlas": "atlases",
	"alias": "aliases", "lens": "lenses", "chassis": "chassis",
	"die": "dice", "passerby": "passersby", "pie": "pies", "tie": "ties", "lie": "lies",
}

// uncountable nouns have no distinct plural; their entities get "_items".
var uncountable = map[string]bool{
	"news": true, "series": true, "species": true, "equipment": true, "information": true,
	"feedback": true, "staff": true, "software": true, "hardware": true, "furniture": true,
	"luggage": true, "baggage": true, "music": true, "sheep": true, "fish": true, "deer": true,
	"data": true, "metadata": true, "research": true, "advice": true, "homework": true,
	"weather": true, "traffic": true, "mail": true, "rice": true, "money": true, "police": true,
	"aircraft": true, "moose": true, "salmon": true, "trout": true, "offspring": true,
	"chassis": true, "merchandise": true,
}

var singularOf = func() map[string]string {
	m := make(map[string]string, len(irregular))
	for s, p := range irregular {
		m[p] = s
	}
	return m
}()

// plural returns the English plural of a lowercase singular noun.
func plural(w string) string {
	if p, ok := irregular[w]; ok {
		return p
	}
	if uncountable[w] || w == "" {
		return w
	}
	n := len(w)
	last := w[n-1]
	switch {
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "sh"), strings.HasSuffix(w, "ch"),
		last == 'x', last == 'z', strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is") && n > 3:
		if strings.HasSuffix(w, "is") {
			return w[:n-2] + "es"
		}
		return w + "es"
	case last == 'y' && n > 1 && !strings.ContainsRune("aeiou", rune(w[n-2])):
		return w[:n-1] + "ies"
	case last == 's':
		return w + "es"
	}
	return w + "s"
}

// singular returns the singular of a lowercase noun; a word that looks
// singular already comes back as it is.
func singular(w string) string {
	if s, ok := singularOf[w]; ok {
		return s
	}
	if _, ok := irregular[w]; ok || uncountable[w] {
		return w
	}
	n := len(w)
	switch {
	case n <= 3:
		if n == 3 && w[2] == 's' && !strings.ContainsRune("aeiousy", rune(w[1])) {
			return w[:2] // "ids" → "id"
		}
		return w
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"),
		strings.HasSuffix(w, "ics"): // "class", "status", "analysis", "analytics"
		return w
	case strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "ches"),
		strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zzes"), strings.HasSuffix(w, "uses"):
		return w[:n-2]
	case strings.HasSuffix(w, "ves"):
		return w[:n-1] // "archives", "moves"; real -f words are in irregular
	case strings.HasSuffix(w, "oes"):
		return w[:n-1] // "shoes"; "heroes" is irregular
	case w[n-1] == 's':
		return w[:n-1]
	}
	return w
}

// isPlural reports whether w reads as a plural noun.
func isPlural(w string) bool {
	if _, ok := singularOf[w]; ok {
		return true
	}
	return !uncountable[w] && singular(w) != w
}

// translit spells common Latin letters with diacritics in ASCII.
var translit = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'ā': "a", 'ă': "a", 'ą': "a",
	'æ': "ae", 'ç': "c", 'ć': "c", 'č': "c", 'ď': "d", 'đ': "d", 'ð': "d",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ė': "e", 'ę': "e", 'ě': "e",
	'ğ': "g", 'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ī': "i", 'į': "i", 'ı': "i",
	'ł': "l", 'ľ': "l", 'ñ': "n", 'ń': "n", 'ň': "n",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'ō': "o", 'ő': "o", 'œ': "oe",
	'ŕ': "r", 'ř': "r", 'ś': "s", 'š': "s", 'ş': "s", 'ș': "s", 'ß': "ss",
	'ť': "t", 'ţ': "t", 'ț': "t", 'þ': "th",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ū': "u", 'ů': "u", 'ű': "u", 'ų': "u",
	'ý': "y", 'ÿ': "y", 'ź': "z", 'ż': "z", 'ž': "z",
	'‘': "'", '’': "'", '“': "\"", '”': "\"", '–': " - ", '—': " - ", '•': "-", '·': "-",
	'◦': "-", '▪': "-", '‣': "-", '…': "...", '×': "x", '\u00a0': " ",
}

// asciiText lowercases s and spells it in ASCII: letters with diacritics
// lose them, other non-ASCII letters, symbols and emoji become spaces.
func asciiText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = unicode.ToLower(r)
		switch {
		case r == utf8.RuneError:
			b.WriteByte(' ')
		case r < utf8.RuneSelf:
			if r == '\t' {
				r = ' '
			}
			if r == '\n' || r >= ' ' && r != 0x7f {
				b.WriteRune(r)
			}
		default:
			if t, ok := translit[r]; ok {
				b.WriteString(t)
			} else {
				b.WriteByte(' ')
			}
		}
	}
	return b.String()
}

// Identifier lengths the planner aims for, below kiln.MaxIdentLen so that
// plurals, "_id" and suffixes still fit.
const (
	maxEntityIdent = 32
	maxFieldIdent  = 40
)

// ident joins words into a snake_case identifier of at most max bytes:
// anything but ASCII letters and digits separates words, a leading number
// moves behind the first word ("3d model" → "model_3d"), and the cut
// falls on a word boundary when one is near. It returns "" when nothing
// usable is left.
func ident(words []string, max int) string {
	var parts []string
	for _, w := range words {
		parts = append(parts, strings.FieldsFunc(asciiText(w), func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
		})...)
	}
	var lead []string
	for len(parts) > 0 && parts[0][0] >= '0' && parts[0][0] <= '9' {
		lead = append(lead, parts[0])
		parts = parts[1:]
	}
	if len(parts) == 0 {
		return ""
	}
	parts = append(parts[:1], append(lead, parts[1:]...)...)
	s := strings.Join(parts, "_")
	if len(s) > max {
		s = s[:max]
		if i := strings.LastIndexByte(s, '_'); i >= max/2 {
			s = s[:i]
		}
		s = strings.TrimRight(s, "_")
	}
	if !kiln.ValidIdentifier(s) {
		return ""
	}
	return s
}

// reservedSet turns a reserved-word list into a set.
func reservedSet(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, w := range list {
		m[w] = true
	}
	return m
}

var (
	reservedEntity = reservedSet(kiln.ReservedEntityNames())
	reservedPlural = reservedSet(kiln.ReservedPluralNames())
	reservedField  = reservedSet(kiln.ReservedFieldNames())
)

// fieldRenames gives reserved field names a natural replacement.
var fieldRenames = map[string]string{
	"type": "kind", "order": "position", "index": "position", "group": "group_name",
	"default": "default_value", "desc": "description", "end": "ends_at", "from": "origin",
	"to": "destination", "user": "user_name", "check": "check_value", "limit": "max_limit",
	"values": "value_list", "table": "table_name", "column": "column_name", "view": "view_name",
	"select": "selection", "case": "case_name", "range": "value_range", "map": "map_data",
	"func": "function", "package": "package_name", "interface": "interface_name",
	"go": "go_value", "var": "variable", "string": "text_value", "error": "error_message",
	"current": "current_value", "key": "key_value", "true": "is_true", "false": "is_false",
	"null": "null_value", "like": "likes", "set": "set_name", "join": "join_value",
	"when": "happens_at", "where": "place", "on": "on_date", "at": "at_time", "for": "for_whom",
	"in": "in_place", "by": "by_whom", "all": "all_items", "both": "both_items",
}

// safeField returns name unless it is reserved, else a safe replacement.
func safeField(name string) string {
	if !reservedField[name] {
		return name
	}
	if r, ok := fieldRenames[name]; ok && !reservedField[r] {
		return r
	}
	return name + "_value"
}

// entityNames returns the singular and plural identifiers for an entity
// named by words (the last one singular), avoiding reserved words.
func entityNames(words []string) (name, plur string) {
	name = ident(words, maxEntityIdent)
	if name == "" {
		return "", ""
	}
	// The plural goes on the last word that is not a number:
	// "printer_3d" → "printers_3d".
	parts := strings.Split(name, "_")
	k := len(parts) - 1
	for k > 0 && parts[k][0] >= '0' && parts[k][0] <= '9' {
		k--
	}
	if p := plural(parts[k]); p != parts[k] {
		parts[k] = p
		plur = strings.Join(parts, "_")
	} else {
		plur = name + "_items"
	}
	if reservedEntity[name] || reservedPlural[plur] {
		name, plur = name+"_record", name+"_records"
	}
	return name, plur
}

// squash is an identifier without underscores; kiln's validation treats
// two names with the same squash as a clash.
func squash(s string) string { return strings.ReplaceAll(s, "_", "") }
