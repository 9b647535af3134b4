// Package plan turns a plain-language app description into a kiln.AppSpec.
//
// Rules is the offline planner: deterministic, no network, no model. It
// reads the ways people describe small data apps, in any mix of sentences,
// bullets, numbered lists, Markdown headings and plain lines under a
// "Header:" line:
//
//   - an app and what it holds: "a library API with books (title, author,
//     year) and loans", "an expense tracker", "an app for a gym: members,
//     classes and bookings";
//   - fields: "Books have a title, an author and a published date", "each
//     task has a due date and a done flag", "track expenses: amount,
//     category, note, spent on", "title (required, unique)", "price as
//     decimal", "status (default open)", "duration in minutes";
//   - relations: "customers have many orders", "an order belongs to a
//     customer", "for each customer, track invoices", "each order has a
//     customer" (when customers are an entity), "users write posts";
//   - constraints: "name and email are required", "emails must be unique";
//   - features: "with search", "with analytics".
//
// Field types come from explicit words (TypeWords) or from names
// (HintRules). Entities named without fields get defaults that fit their
// name (a task gets a title, done and a due date; anything else a name or
// a title). Names become safe identifiers: ASCII, snake_case, not reserved
// by Go, SQL or the generated code, short enough, unique. Plan always
// returns a spec that passes kiln's validation, or an EInvalid error that
// shows a phrasing that works.
package plan

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-build/kiln"
)

// MaxDescriptionLen is the longest description, in bytes, Plan reads.
const MaxDescriptionLen = 16 << 10

// Example is a description Rules understands, shown when it understands
// nothing.
const Example = "a todo app with tasks (title, due date, done)"

// Rules is the offline, deterministic planner. The zero value is ready to
// use and safe for concurrent use.
type Rules struct{}

// Name returns "rules", the planner's name in a build's provenance.
func (Rules) Name() string { return "rules" }

// Plan reads description and returns the AppSpec it describes, which
// always passes (*kiln.AppSpec).Validate. It returns an EInvalid
// *kiln.Error (path "description") when the description is empty, longer
// than MaxDescriptionLen, or names nothing the app could store; the
// message then shows a phrasing that works. It returns ctx's error when
// ctx is done.
func (Rules) Plan(ctx context.Context, description string) (*kiln.AppSpec, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if len(description) > MaxDescriptionLen {
		return nil, kiln.FieldErrorf("description", "is longer than %d bytes; describe the app in a few sentences, try: %q", MaxDescriptionLen, Example)
	}
	text := asciiText(abbreviations.Replace(description))
	cls := clauses(text)
	first := read(cls, nil)
	known := make(map[string]bool, len(first.entities))
	for _, e := range first.entities {
		known[e.key] = true
	}
	p := read(cls, known)
	if len(p.entities) == 0 {
		p.entityFromName()
	}
	if len(p.entities) == 0 {
		msg := "names nothing the app could store; name the things it keeps and their fields, try: %q or %q"
		if strings.TrimSpace(description) == "" {
			msg = "is empty; name the things the app keeps and their fields, try: %q or %q"
		}
		return nil, kiln.FieldErrorf("description", msg, Example, "customers have many orders; an order has a total and a date")
	}
	spec := p.spec(description)
	if err := spec.Validate(); err != nil {
		// A bug in the planner; still the caller's input is what failed.
		return nil, kiln.FieldErrorf("description", "could not be planned into a valid app spec (%s); rephrase it, try: %q", kiln.ErrorMessage(err), Example)
	}
	return spec, nil
}

// read runs the clause parser over every clause.
func read(cls [][]string, known map[string]bool) *planner {
	p := newPlanner(known)
	for _, c := range cls {
		p.clause(c)
	}
	return p
}

// domainEntities give a kept app noun with no other words an entity:
// "a blog" stores posts.
var domainEntities = map[string][]string{
	"library": {"book"}, "blog": {"post"}, "shop": {"product"}, "store": {"product"},
	"forum": {"topic"}, "wiki": {"page"}, "crm": {"contact"}, "inventory": {"item"},
	"diary": {"entry"}, "journal": {"entry"}, "catalog": {"item"}, "catalogue": {"item"},
	"directory": {"contact"}, "marketplace": {"listing"}, "todo": {"task"}, "board": {"card"},
	"scheduler": {"event"}, "planner": {"task"}, "list": {"item"}, "cms": {"page"},
}

// entityFromName makes an entity from the app's name when the text named
// none: "an expense tracker" keeps expenses, "a todo app" tasks.
func (p *planner) entityFromName() {
	var words []string
	for _, w := range p.appWords {
		if !keptAppNouns[w] {
			words = append(words, w)
		}
	}
	if len(words) == 1 {
		if d, ok := domainEntities[words[0]]; ok {
			words = d
		}
	}
	if len(words) == 0 && len(p.appWords) > 0 {
		words = domainEntities[p.appWords[len(p.appWords)-1]]
	}
	p.entity(entityWords(words))
}

// appNameSuffix turns the verb of "track expenses" into a name:
// expense_tracker.
var appNameSuffix = map[string]string{
	"track": "tracker", "tracks": "tracker", "tracking": "tracker", "manage": "manager",
	"manages": "manager", "managing": "manager", "log": "log", "logging": "log", "plan": "planner",
	"planning": "planner", "schedule": "scheduler", "scheduling": "scheduler", "catalog": "catalog",
	"catalogue": "catalog", "organize": "organizer", "organise": "organizer", "record": "log",
	"collect": "collection", "list": "list", "monitor": "monitor", "save": "archive",
	"booking": "booking", "renting": "rental", "lending": "lending",
}

// spec turns the drafts into an AppSpec.
func (p *planner) spec(description string) *kiln.AppSpec {
	s := &kiln.AppSpec{KilnSpec: kiln.SpecVersion}
	drafts := p.foldEntities()
	if len(drafts) > kiln.MaxEntities {
		drafts = drafts[:kiln.MaxEntities]
	}
	index := map[*entityDraft]int{}
	used := map[string]bool{}
	for _, d := range drafts {
		baseName, basePlural := entityNames(d.words)
		name, plur := baseName, basePlural
		for n := 2; used[squash(name)] || used[squash(plur)]; n++ {
			name, plur = fmt.Sprintf("%s_%d", baseName, n), fmt.Sprintf("%s_%d", basePlural, n)
		}
		used[squash(name)], used[squash(plur)] = true, true
		index[d] = len(s.Entities)
		s.Entities = append(s.Entities, kiln.Entity{Name: name, Plural: plur, Fields: p.specFields(d)})
	}
	p.implyRelations(drafts)
	s.Relations = p.specRelations(s, index)
	for i := range s.Entities {
		e := &s.Entities[i]
		if len(e.Fields) > 0 {
			continue
		}
		last := e.Name[strings.LastIndexByte(e.Name, '_')+1:]
		for _, df := range defaultsFor(e.Name, last) {
			if s.Relations != nil && slices.ContainsFunc(s.Relations, func(r kiln.Relation) bool {
				return r.From == e.Name && (r.Field == df.name || r.To == df.name)
			}) {
				continue
			}
			e.Fields = append(e.Fields, kiln.Field{Name: df.name, Type: df.typ, Required: df.required})
		}
		if len(e.Fields) == 0 {
			e.Fields = []kiln.Field{{Name: dfName.name, Type: dfName.typ, Required: true}}
		}
	}
	s.Name = p.appName(s)
	s.Summary = summary(description, s)
	p.features[kiln.FeatureUI] = true
	for _, f := range kiln.Features {
		if p.features[f] {
			s.Features = append(s.Features, f)
		}
	}
	return s
}

// recordNouns name entities that record something happening to the other
// things an app keeps: a loan is of a book, a review of a restaurant.
var recordNouns = set("loan", "borrowing", "rental", "reservation", "booking", "order", "purchase",
	"sale", "payment", "review", "rating", "comment", "appointment", "visit", "enrollment",
	"enrolment", "registration", "subscription", "checkout", "donation", "invoice", "bid",
	"application", "attendance", "vote", "like", "favorite", "favourite", "checkin")

// maxImpliedParents is how many other things an app may keep for a record
// to be linked to all of them by implication.
const maxImpliedParents = 2

// implyRelations links a record the text names without saying what it
// records ("a library with books and loans") to the app's other things: a
// loan belongs to a book (and a member). It only guesses when the text
// relates nothing explicitly (a writer who spells out some relations has
// said which exist) and names at most maxImpliedParents other things (with
// more, which one a record is of is a guess too far). The keys are
// optional, since the text did not say they are needed.
func (p *planner) implyRelations(drafts []*entityDraft) {
	if len(p.relations) > 0 {
		return
	}
	isRecord := func(d *entityDraft) bool { return recordNouns[d.words[len(d.words)-1]] }
	var records, parents []*entityDraft
	for _, d := range drafts {
		if isRecord(d) {
			records = append(records, d)
		} else {
			parents = append(parents, d)
		}
	}
	if len(parents) == 0 || len(parents) > maxImpliedParents {
		return
	}
	for _, r := range records {
		for _, parent := range parents {
			p.relations = append(p.relations, relDraft{from: r, to: parent})
		}
	}
}

// foldEntities drops an entity named by several words that got no fields
// and no relations when its last word is another entity: "meeting rooms"
// and "rooms" are one thing.
func (p *planner) foldEntities() []*entityDraft {
	related := map[*entityDraft]bool{}
	for _, r := range p.relations {
		related[r.from], related[r.to] = true, true
	}
	var out []*entityDraft
	for _, e := range p.entities {
		if len(e.words) > 1 && len(e.fields) == 0 && !related[e] {
			if k, _ := entityNames(e.words[len(e.words)-1:]); p.byKey[k] != nil && p.byKey[k] != e {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// specFields names, types and dedupes an entity's fields.
func (p *planner) specFields(d *entityDraft) []kiln.Field {
	seen := map[string]int{"id": -1, "createdat": -1, "updatedat": -1}
	var out []kiln.Field
	for _, f := range d.fields {
		base := ident(f.words, maxFieldIdent)
		if base == "" || base == "id" || base == "created_at" || base == "updated_at" {
			continue
		}
		name := safeField(base)
		if i, dup := seen[squash(name)]; dup {
			if i >= 0 {
				out[i].Required = out[i].Required || f.required
				out[i].Unique = out[i].Unique || f.unique
			}
			continue
		}
		if len(out) == kiln.MaxFields {
			break
		}
		typ := f.typ
		if typ == "" && len(f.def) == 1 {
			// The default tells the type: "gift (default no)", "priority
			// defaulting to 3".
			for _, t := range []kiln.FieldType{kiln.FieldBoolean, kiln.FieldInteger, kiln.FieldDecimal} {
				if defaultValue(t, f.def) != nil && (t != kiln.FieldDecimal || typeFromName(name) != kiln.FieldInteger) {
					if named := typeFromName(name); named == kiln.FieldString || named == t || t == kiln.FieldInteger && named == kiln.FieldDecimal {
						typ = t
					}
					break
				}
			}
		}
		if i := slices.Index(f.words, "per"); typ == "" && i > 0 {
			typ = typeFromName(ident(f.words[:i], maxFieldIdent)) // "price per night"
			if typ == kiln.FieldString {
				typ = ""
			}
		}
		if typ == "" {
			typ = typeFromName(name)
			if f.numeric && typ != kiln.FieldDecimal {
				typ = kiln.FieldInteger
			}
		}
		seen[squash(name)] = len(out)
		out = append(out, kiln.Field{Name: name, Type: typ, Required: f.required, Unique: f.unique, Default: defaultValue(typ, f.def)})
	}
	for _, c := range p.constraints {
		applyConstraint(out, d, c)
	}
	return out
}

// applyConstraint applies a "… is required" sentence to an entity's fields.
func applyConstraint(fields []kiln.Field, d *entityDraft, c constraint) {
	apply := func(f *kiln.Field) {
		if c.required {
			f.Required = true
		}
		if c.unique {
			f.Unique = true
		}
		if c.optional && !c.required {
			f.Required = false
		}
	}
	if c.items == nil {
		for i := range fields {
			apply(&fields[i])
		}
		return
	}
	for _, item := range c.items {
		words := stripFront(item, determiners)
		if len(words) == 0 {
			continue
		}
		// "the book title", "a book's isbn": a leading entity name
		// narrows the field to that entity.
		if len(words) > 1 && (words[0] == d.key || singular(words[0]) == d.key) {
			words = words[1:]
		} else if len(words) > 1 {
			if k, _ := entityNames(words[:1]); k != "" && k != d.key && len(words) > 1 && (words[0] == k || singular(words[0]) == k) {
				continue
			}
		}
		for _, cand := range []string{ident(words, maxFieldIdent), ident(append(slices.Clone(words[:len(words)-1]), singular(words[len(words)-1])), maxFieldIdent)} {
			if cand == "" {
				continue
			}
			if i := slices.IndexFunc(fields, func(f kiln.Field) bool { return f.Name == safeField(cand) }); i >= 0 {
				apply(&fields[i])
				break
			}
		}
	}
}

// defaultValue converts default words to a value of type t, or nil when
// they do not fit it.
func defaultValue(t kiln.FieldType, words []string) any {
	if len(words) == 0 {
		return nil
	}
	w := words[0]
	switch t {
	case kiln.FieldBoolean:
		switch w {
		case "true", "yes", "on", "checked", "done":
			return true
		case "false", "no", "off", "unchecked", "not":
			return false
		}
	case kiln.FieldInteger:
		if n, err := strconv.ParseInt(w, 10, 64); err == nil && n <= kiln.MaxSafeInteger && n >= -kiln.MaxSafeInteger {
			return float64(n)
		}
		if w == "zero" || w == "none" {
			return float64(0)
		}
	case kiln.FieldDecimal:
		if f, err := strconv.ParseFloat(w, 64); err == nil && f < 1e15 && f > -1e15 {
			return f
		}
		if w == "zero" {
			return float64(0)
		}
	case kiln.FieldString, kiln.FieldText:
		v := strings.Join(words, " ")
		if len(words) > 4 || len(v) > 60 {
			return nil
		}
		return v
	}
	return nil
}

// specRelations turns relation drafts into relations with foreign keys,
// dropping fields the keys replace and keeping required relations free of
// cycles.
func (p *planner) specRelations(s *kiln.AppSpec, index map[*entityDraft]int) []kiln.Relation {
	var out []kiln.Relation
	required := map[string][]string{}
	for _, r := range p.relations {
		fi, ok1 := index[r.from]
		ti, ok2 := index[r.to]
		if !ok1 || !ok2 || len(out) == kiln.MaxRelations {
			continue
		}
		from, to := &s.Entities[fi], s.Entities[ti]
		fk := to.Name + "_id"
		if fi == ti {
			fk = "parent_id"
		}
		if slices.ContainsFunc(out, func(o kiln.Relation) bool { return o.From == from.Name && o.Field == fk }) {
			continue
		}
		// The key replaces a field that named the parent: "author" or
		// "author_id" on a book that belongs to an author.
		from.Fields = slices.DeleteFunc(from.Fields, func(f kiln.Field) bool {
			return squash(f.Name) == squash(fk) || f.Name == to.Name || f.Name == to.Plural
		})
		req := r.required && !reaches(required, to.Name, from.Name)
		if req {
			required[from.Name] = append(required[from.Name], to.Name)
		}
		out = append(out, kiln.Relation{From: from.Name, To: to.Name, Kind: kiln.RelationBelongsTo, Field: fk, Required: req})
	}
	return out
}

// reaches reports whether b is reachable from a over required edges (or
// is a).
func reaches(edges map[string][]string, a, b string) bool {
	seen := map[string]bool{}
	stack := []string{a}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == b {
			return true
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		stack = append(stack, edges[n]...)
	}
	return false
}

// appName names the app from its description: "library",
// "expense_tracker", else after its first entity.
func (p *planner) appName(s *kiln.AppSpec) string {
	if n := ident(p.appWords, maxFieldIdent); n != "" {
		return n
	}
	first := s.Entities[0]
	if suffix, ok := appNameSuffix[p.appVerb]; ok {
		if n := ident([]string{first.Name, suffix}, maxFieldIdent); n != "" {
			return n
		}
	}
	return first.Plural
}

// summary is the description's first sentence, cleaned: one line of
// letters, digits and punctuation, at most kiln.MaxSummaryLen characters.
func summary(description string, s *kiln.AppSpec) string {
	text := strings.TrimSpace(description)
	// A Markdown heading makes a poor summary when a sentence follows.
	for strings.HasPrefix(text, "#") {
		nl := strings.IndexByte(text, '\n')
		if nl < 0 || strings.TrimSpace(text[nl:]) == "" || strings.HasPrefix(strings.TrimSpace(text[nl:]), "#") {
			break
		}
		text = strings.TrimSpace(text[nl:])
	}
	var b strings.Builder
	space := false
	for i, r := range text {
		if r == '\n' && b.Len() > 0 {
			break
		}
		if (r == '.' || r == '!' || r == '?') && b.Len() > 0 {
			next, _ := utf8.DecodeRuneInString(text[i+utf8.RuneLen(r):])
			if next == utf8.RuneError || unicode.IsSpace(next) {
				b.WriteRune(r)
				break
			}
		}
		switch {
		case r == '_' && i > 0 && i+1 < len(text) && isWordByte(text[i-1]|0x20) && isWordByte(text[i+1]|0x20):
			b.WriteByte('_') // is_admin
		case unicode.IsSpace(r) || r == '*' || r == '#' || r == '`' || r == '_' || r == '>':
			space = b.Len() > 0
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsPunct(r) || r == '$' || r == '+' || r == '=' || r == '%' || r == '€' || r == '£':
			if b.Len() == 0 && (unicode.IsPunct(r) && r != '(' && r != '"' && r != '\'') {
				continue // leading bullets and dashes
			}
			if space && !strings.ContainsRune(",;:.!?)", r) {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		}
		if utf8.RuneCountInString(b.String()) >= kiln.MaxSummaryLen {
			break
		}
	}
	out := requestRE.ReplaceAllString(strings.TrimRight(b.String(), " ,;:-"), "")
	if utf8.RuneCountInString(out) >= kiln.MaxSummaryLen {
		runes := []rune(out)[:kiln.MaxSummaryLen-1]
		out = string(runes)
		if i := strings.LastIndexByte(out, ' '); i > kiln.MaxSummaryLen/2 {
			out = out[:i]
		}
		out += "…"
	}
	if len(strings.Fields(out)) < 2 || !strings.ContainsFunc(out, unicode.IsLetter) {
		names := make([]string, len(s.Entities))
		for i, e := range s.Entities {
			names[i] = strings.ReplaceAll(e.Plural, "_", " ")
		}
		out = "An app to manage " + joinAnd(names)
	}
	r, n := utf8.DecodeRuneInString(out)
	out = string(unicode.ToUpper(r)) + out[n:]
	if last, _ := utf8.DecodeLastRuneInString(out); unicode.IsLetter(last) || unicode.IsDigit(last) || last == ')' {
		out += "."
	}
	return out
}

// requestRE matches how requests open ("I want", "please build me"),
// which a summary leaves out.
var requestRE = regexp.MustCompile(`^(?i)(?:(?:hi|hello|hey)[,!]?\s+)?(?:please\s+)?(?:(?:i|we)(?:'d| would)?\s+(?:want|need|like|would like)(?:\s+to(?:\s+(?:build|create|make|have|get))?)?|(?:can|could) you\s+(?:build|create|make|generate|write)(?: me| us)?|(?:build|create|make|generate|write|design|develop|give)(?: me| us)?)\s+`)

func joinAnd(words []string) string {
	if len(words) > 4 {
		words = append(words[:3:3], "more")
	}
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
