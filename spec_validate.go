package kiln

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Spec limits. docs/appspec.schema.json states the same numbers; a test
// keeps the two in step.
const (
	MaxEntities   = 50      // entities per spec
	MaxFields     = 100     // fields per entity
	MaxRelations  = 200     // relations per spec
	MaxIdentLen   = 48      // bytes in any identifier (name, plural, field)
	MaxSummaryLen = 500     // characters in the summary
	MaxDefaultLen = 250     // characters in a string default
	MaxSpecBytes  = 1 << 20 // bytes of JSON ParseSpec reads
	MaxSpecErrors = 100     // problems one Validate reports at most
	// MaxSafeInteger bounds integer defaults so they survive a round trip
	// through JSON numbers (float64) exactly.
	MaxSafeInteger = 1<<53 - 1
)

// IdentifierPattern is the snake_case form of every identifier in a spec:
// lowercase ASCII letters and digits in words joined by single underscores,
// starting with a letter.
const IdentifierPattern = `^[a-z][a-z0-9]*(_[a-z0-9]+)*$`

var identRE = regexp.MustCompile(IdentifierPattern)

// ValidIdentifier reports whether s is a well-formed spec identifier
// (IdentifierPattern, at most MaxIdentLen bytes). It does not check
// reserved words.
func ValidIdentifier(s string) bool {
	return len(s) <= MaxIdentLen && identRE.MatchString(s)
}

// goKeywords can name nothing in Go.
var goKeywords = []string{
	"break", "case", "chan", "const", "continue", "default", "defer", "else",
	"fallthrough", "for", "func", "go", "goto", "if", "import", "interface",
	"map", "package", "range", "return", "select", "struct", "switch", "type", "var",
}

// goPredeclared would be shadowed by a variable named after an entity.
var goPredeclared = []string{
	"any", "append", "bool", "byte", "cap", "clear", "close", "comparable", "complex",
	"complex128", "complex64", "copy", "delete", "error", "false", "float32", "float64",
	"imag", "int", "int16", "int32", "int64", "int8", "iota", "len", "make", "max", "min",
	"new", "nil", "panic", "print", "println", "real", "recover", "rune", "string", "true",
	"uint", "uint16", "uint32", "uint64", "uint8", "uintptr",
}

// generatedNames are packages and variables the generated code uses next
// to entity-named variables.
var generatedNames = []string{
	"api", "app", "bytes", "context", "ctx", "db", "embed", "err", "errors", "filepath",
	"fmt", "handler", "html", "http", "httptest", "io", "json", "log", "main", "math",
	"mux", "os", "row", "rows", "server", "slices", "slog", "sort", "sql", "sqlite",
	"srv", "store", "strconv", "strings", "sync", "template", "test", "testing", "time",
	"tx", "url",
}

// sqlReserved are SQL keywords that break unquoted table or column names
// in SQLite or PostgreSQL.
var sqlReserved = []string{
	"all", "alter", "analyze", "and", "as", "asc", "autoincrement", "between", "both",
	"by", "case", "cast", "check", "collate", "column", "commit", "constraint", "create",
	"cross", "current", "current_date", "current_time", "current_timestamp",
	"current_user", "default", "deferrable", "delete", "desc", "distinct", "do", "drop",
	"else", "end", "escape", "except", "exists", "false", "fetch", "for", "foreign",
	"from", "full", "grant", "group", "having", "in", "index", "inner", "insert",
	"intersect", "into", "is", "isnull", "join", "leading", "left", "like", "limit",
	"natural", "not", "notnull", "null", "offset", "on", "only", "or", "order", "outer",
	"primary", "references", "returning", "right", "select", "set", "some", "table",
	"then", "to", "trailing", "transaction", "trigger", "true", "union", "unique",
	"update", "user", "using", "values", "view", "when", "where", "window", "with",
}

// builtinFields are the columns every generated entity has.
var builtinFields = []string{"id", "created_at", "updated_at"}

func unionSortedWords(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var (
	reservedEntityNames = unionSortedWords(goKeywords, goPredeclared, generatedNames, builtinFields)
	reservedPluralNames = unionSortedWords(reservedEntityNames, sqlReserved)
	reservedFieldNames  = unionSortedWords(goKeywords, sqlReserved, builtinFields, []string{"error", "string"})
)

// ReservedEntityNames returns, sorted, the words an entity's name may not
// be: Go keywords and predeclared names, names the generated code uses, and
// the built-in columns.
func ReservedEntityNames() []string { return slices.Clone(reservedEntityNames) }

// ReservedPluralNames returns, sorted, the words an entity's plural (its
// table name) may not be: the reserved entity names and SQL keywords.
func ReservedPluralNames() []string { return slices.Clone(reservedPluralNames) }

// ReservedFieldNames returns, sorted, the words a field or a relation's
// foreign key may not be: Go keywords, SQL keywords, the built-in columns
// (id, created_at, updated_at) and the method names error and string.
func ReservedFieldNames() []string { return slices.Clone(reservedFieldNames) }

func isReserved(list []string, s string) bool {
	_, ok := slices.BinarySearch(list, s)
	return ok
}

// squashIdent is the identifier without underscores: two identifiers with the
// same squash could become the same Go name ("due_date", "duedate").
func squashIdent(s string) string { return strings.ReplaceAll(s, "_", "") }

// quoteShort quotes a user value for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// specChecker collects problems by path.
type specChecker struct {
	errs []FieldError
}

func (c *specChecker) add(path, format string, args ...any) {
	if len(c.errs) < MaxSpecErrors {
		c.errs = append(c.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
}

// ident checks an identifier and reports whether it is well formed.
func (c *specChecker) ident(path, v string, reserved []string) bool {
	switch {
	case v == "":
		c.add(path, "is required")
	case len(v) > MaxIdentLen:
		c.add(path, "is longer than %d characters", MaxIdentLen)
	case !identRE.MatchString(v):
		c.add(path, "must be snake_case: lowercase letters and digits in words joined by single underscores, starting with a letter (got %s)", quoteShort(v))
	case isReserved(reserved, v):
		c.add(path, "%q is a reserved word", v)
	default:
		return true
	}
	return false
}

// Validate checks the spec and returns an EInvalid *Error whose Fields name
// every problem by path ("entities[2].fields[0].name"), at most
// MaxSpecErrors of them, or nil. It is safe on any value, however large.
//
// It checks: kiln_spec is SpecVersion; name, entity names and plurals,
// field names and foreign keys are identifiers (IdentifierPattern, at most
// MaxIdentLen bytes) and not reserved (ReservedEntityNames,
// ReservedPluralNames, ReservedFieldNames); the summary is one line of at
// most MaxSummaryLen characters; 1–MaxEntities entities, each with
// 1–MaxFields fields of a known FieldType; no two entity names or plurals,
// and no two fields of an entity, that are equal once underscores are
// dropped; a plural differs from its name; a default fits its field's type;
// at most MaxRelations relations, each belongs_to between existing entities
// with a foreign key that is not one of the entity's fields nor another
// relation's key, and no cycle of required relations; features are known
// (Features) and listed once.
func (s *AppSpec) Validate() error {
	c := &specChecker{}
	if s.KilnSpec != SpecVersion {
		c.add("kiln_spec", "must be %d", SpecVersion)
	}
	c.ident("name", s.Name, nil)
	switch n := utf8.RuneCountInString(s.Summary); {
	case n > MaxSummaryLen:
		c.add("summary", "is longer than %d characters", MaxSummaryLen)
	case !utf8.ValidString(s.Summary):
		c.add("summary", "is not valid UTF-8")
	case strings.ContainsFunc(s.Summary, unicode.IsControl):
		c.add("summary", "must be one line without control characters")
	}
	entities := s.Entities
	if len(entities) == 0 {
		c.add("entities", "must list at least one entity")
	} else if len(entities) > MaxEntities {
		c.add("entities", "must list at most %d entities", MaxEntities)
		entities = entities[:MaxEntities]
	}
	// byName maps entity names to their index; squashed catches names
	// that differ only by underscores, across names and plurals.
	byName := map[string]int{}
	squashed := map[string]string{}
	for i, e := range entities {
		p := fmt.Sprintf("entities[%d]", i)
		okName := c.ident(p+".name", e.Name, reservedEntityNames)
		okPlural := c.ident(p+".plural", e.Plural, reservedPluralNames)
		if okName && okPlural && e.Name == e.Plural {
			c.add(p+".plural", "must differ from the name %q", e.Name)
		}
		if okName {
			if prev, dup := squashed[squashIdent(e.Name)]; dup {
				c.add(p+".name", "%q clashes with %s", e.Name, prev)
			} else {
				squashed[squashIdent(e.Name)] = p + ".name"
				byName[e.Name] = i
			}
		}
		if okPlural && e.Plural != e.Name {
			if prev, dup := squashed[squashIdent(e.Plural)]; dup {
				c.add(p+".plural", "%q clashes with %s", e.Plural, prev)
			} else {
				squashed[squashIdent(e.Plural)] = p + ".plural"
			}
		}
		c.fields(p, e.Fields)
	}
	c.relations(s.Relations, entities, byName)
	features := s.Features
	if len(features) > len(Features) {
		c.add("features", "must list at most %d features", len(Features))
		features = features[:len(Features)]
	}
	for i, f := range features {
		p := fmt.Sprintf("features[%d]", i)
		if !slices.Contains(Features, f) {
			c.add(p, "must be one of %s", strings.Join(Features, ", "))
		} else if slices.Index(features, f) < i {
			c.add(p, "duplicates feature %q", f)
		}
	}
	if len(c.errs) == 0 {
		return nil
	}
	return &Error{Code: EInvalid, Message: "invalid app spec: " + c.errs[0].Path + ": " + c.errs[0].Message, Fields: c.errs}
}

func (c *specChecker) fields(p string, fields []Field) {
	if len(fields) == 0 {
		c.add(p+".fields", "must list at least one field")
	} else if len(fields) > MaxFields {
		c.add(p+".fields", "must list at most %d fields", MaxFields)
		fields = fields[:MaxFields]
	}
	seen := map[string]string{}
	for _, b := range builtinFields {
		seen[squashIdent(b)] = "the built-in column " + b
	}
	for j, f := range fields {
		fp := fmt.Sprintf("%s.fields[%d]", p, j)
		if c.ident(fp+".name", f.Name, reservedFieldNames) {
			if prev, dup := seen[squashIdent(f.Name)]; dup {
				c.add(fp+".name", "%q clashes with %s", f.Name, prev)
			} else {
				seen[squashIdent(f.Name)] = "field " + f.Name
			}
		}
		if !slices.Contains(FieldTypes, f.Type) {
			c.add(fp+".type", "must be one of %s", fieldTypeList())
		} else if msg := checkDefault(f.Type, f.Default); msg != "" {
			c.add(fp+".default", "%s", msg)
		}
	}
}

func fieldTypeList() string {
	s := make([]string, len(FieldTypes))
	for i, t := range FieldTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func (c *specChecker) relations(rels []Relation, entities []Entity, byName map[string]int) {
	if len(rels) > MaxRelations {
		c.add("relations", "must list at most %d relations", MaxRelations)
		rels = rels[:MaxRelations]
	}
	fkOwner := map[string]int{} // "entity.squashed_field" → relation index
	required := map[string][]string{}
	for i, r := range rels {
		p := fmt.Sprintf("relations[%d]", i)
		from, okFrom := byName[r.From]
		if !okFrom {
			c.add(p+".from", "names no entity (got %s)", quoteShort(r.From))
		}
		if _, ok := byName[r.To]; !ok {
			c.add(p+".to", "names no entity (got %s)", quoteShort(r.To))
		} else if okFrom && r.Required {
			required[r.From] = append(required[r.From], r.To)
		}
		if r.Kind != RelationBelongsTo {
			c.add(p+".kind", "must be %q", RelationBelongsTo)
		}
		if !c.ident(p+".field", r.Field, reservedFieldNames) || !okFrom {
			continue
		}
		if j := slices.IndexFunc(entities[from].Fields, func(f Field) bool { return squashIdent(f.Name) == squashIdent(r.Field) }); j >= 0 {
			c.add(p+".field", "%q clashes with entities[%d].fields[%d] %q; a relation adds its own foreign key", r.Field, from, j, entities[from].Fields[j].Name)
			continue
		}
		key := r.From + "." + squashIdent(r.Field)
		if prev, dup := fkOwner[key]; dup {
			c.add(p+".field", "%q duplicates the foreign key of relations[%d]", r.Field, prev)
			continue
		}
		fkOwner[key] = i
	}
	if cycle := requiredCycle(entities, required); cycle != "" {
		c.add("relations", "required relations form a cycle (%s), so no first record could be created; make one optional", cycle)
	}
}

// requiredCycle returns a cycle of required relations as "a → b → a", or "".
func requiredCycle(entities []Entity, required map[string][]string) string {
	const (
		active = 1
		done   = 2
	)
	state := map[string]int{}
	var path []string
	var visit func(n string) string
	visit = func(n string) string {
		switch state[n] {
		case active:
			i := slices.Index(path, n)
			return strings.Join(append(slices.Clone(path[i:]), n), " → ")
		case done:
			return ""
		}
		state[n] = active
		path = append(path, n)
		for _, to := range required[n] {
			if c := visit(to); c != "" {
				return c
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return ""
	}
	for _, e := range entities {
		if c := visit(e.Name); c != "" {
			return c
		}
	}
	return ""
}

// numberValue returns a default's numeric value and whether it is a number.
func numberValue(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// checkDefault returns what is wrong with v as the default of a field of
// type t, or "".
func checkDefault(t FieldType, v any) string {
	if v == nil {
		return ""
	}
	switch t {
	case FieldBoolean:
		if _, ok := v.(bool); !ok {
			return "must be true or false for a boolean field"
		}
		return ""
	case FieldInteger, FieldDecimal:
		n, ok := numberValue(v)
		switch {
		case !ok:
			return fmt.Sprintf("must be a number for a %s field", t)
		case math.IsNaN(n) || math.IsInf(n, 0):
			return "must be a finite number"
		case t == FieldInteger && (n != math.Trunc(n) || math.Abs(n) > MaxSafeInteger):
			return fmt.Sprintf("must be a whole number between -%d and %d", int64(MaxSafeInteger), int64(MaxSafeInteger))
		}
		return ""
	}
	str, ok := v.(string)
	if !ok {
		return fmt.Sprintf("must be a string for a %s field", t)
	}
	switch {
	case !utf8.ValidString(str):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(str) > MaxDefaultLen:
		return fmt.Sprintf("is longer than %d characters", MaxDefaultLen)
	case strings.ContainsFunc(str, func(r rune) bool { return unicode.IsControl(r) && (t != FieldText || (r != '\n' && r != '\t')) }):
		return "must not hold control characters"
	}
	switch t {
	case FieldEmail:
		if a, err := mail.ParseAddress(str); err != nil || a.Address != str || a.Name != "" {
			return fmt.Sprintf("must be an email address like name@example.com (got %s)", quoteShort(str))
		}
	case FieldURL:
		if u, err := url.Parse(str); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(str, " \"<>\\^`{|}") {
			return fmt.Sprintf("must be an http or https URL (got %s)", quoteShort(str))
		}
	case FieldDate:
		if _, err := time.Parse(time.DateOnly, str); err != nil {
			return fmt.Sprintf("must be a date like 2006-01-02 (got %s)", quoteShort(str))
		}
	case FieldTimestamp:
		if _, err := time.Parse(time.RFC3339, str); err != nil {
			return fmt.Sprintf("must be an RFC 3339 timestamp like 2006-01-02T15:04:05Z (got %s)", quoteShort(str))
		}
	}
	return ""
}
