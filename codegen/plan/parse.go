package plan

import (
	"slices"
	"strings"

	"github.com/kiln-build/kiln"
)

// fieldDraft is a field as the text states it, before naming rules apply.
type fieldDraft struct {
	words    []string
	typ      kiln.FieldType // "" when the text states no type
	numeric  bool           // "number"/"numeric": decimal or integer by name
	required bool
	optional bool
	unique   bool
	def      []string // default value words, nil when none
}

// entityDraft is an entity as the text names it.
type entityDraft struct {
	words  []string // the last one singular
	key    string   // ident(words): how mentions are matched
	fields []*fieldDraft
}

// relDraft is a belongs_to relation: from holds a key to to.
type relDraft struct {
	from, to *entityDraft
	required bool
}

// constraint is a sentence such as "titles are required", applied once
// every field is known.
type constraint struct {
	items                      [][]string // field phrases; nil means every field
	required, unique, optional bool
}

// planner reads clauses into drafts. known holds the entity keys a first
// pass found, so that "each order has a customer" can tell a relation from
// a field.
type planner struct {
	known       map[string]bool
	entities    []*entityDraft
	byKey       map[string]*entityDraft
	relations   []relDraft
	appWords    []string
	appVerb     string
	features    map[string]bool
	last        *entityDraft
	constraints []constraint
	depth       int
}

func newPlanner(known map[string]bool) *planner {
	return &planner{known: known, byKey: map[string]*entityDraft{}, features: map[string]bool{}}
}

// maxDepth bounds the recursion of clauses inside clauses.
const maxDepth = 4

// clause reads one clause.
func (p *planner) clause(t []string) {
	if p.depth > maxDepth {
		return
	}
	p.depth++
	defer func() { p.depth-- }()
	if len(t) > 0 && t[0] == headingMark {
		if w := appNameWords(t[1:]); p.appWords == nil && len(w) > 0 && len(w) <= 3 && !metaEntities[w[len(w)-1]] && !metaFields[w[len(w)-1]] && w[len(w)-1] != "relations" {
			p.appWords = w
		}
		return
	}
	t = stripFillers(t)
	if len(t) == 0 {
		return
	}
	p.scanFeatures(t)
	if rest, ok := p.appPrefix(t); ok {
		p.afterApp(rest)
		return
	}
	switch {
	case p.constraint(t), p.forEach(t), p.belongsTo(t), p.colon(t), p.have(t), p.join(t), p.create(t), p.manage(t):
		return
	}
	p.bare(t)
}

// stripFillers drops "i want", "please build", "for a" … at the start.
func stripFillers(t []string) []string {
	for len(t) > 0 {
		switch {
		case fillers[t[0]]:
			t = t[1:]
		case t[0] == "for" && len(t) > 1 && (t[1] == "a" || t[1] == "an" || t[1] == "my" || t[1] == "our"):
			t = t[1:]
		case t[0] == "," || t[0] == ":":
			t = t[1:]
		default:
			return t
		}
	}
	return t
}

func (p *planner) scanFeatures(t []string) {
	for _, w := range t {
		if f, ok := featureWords[w]; ok {
			p.features[f] = true
		}
	}
}

// appPrefix reads "a simple library API", "an expense tracker" at the
// start of t: it records the app's name and returns what follows.
func (p *planner) appPrefix(t []string) ([]string, bool) {
	i := 0
	for i < len(t) && determiners[t[i]] {
		i++
	}
	start, hadDet := i, i > 0
	for j := i; j < len(t) && j < i+6; j++ {
		w := t[j]
		if w == "(" || w == ":" || w == "," || haveVerbs[w] || manageVerbs[w] && j == start && !hadDet {
			return nil, false
		}
		kept := keptAppNouns[w]
		if !appNouns[w] && !kept {
			continue
		}
		if kept && j+1 < len(t) && (appNouns[t[j+1]] || keptAppNouns[t[j+1]]) {
			continue // "library API": the noun is part of the name
		}
		name := t[start:j]
		var words []string
		for _, n := range name {
			if !appAdjectives[n] && !determiners[n] {
				words = append(words, n)
			}
		}
		if kept {
			if len(words) > 0 && !hadDet && isPlural(words[len(words)-1]) {
				return nil, false // "sellers list products"
			}
			if len(words) == 0 && !hadDet && j+1 < len(t) && t[j+1] != ":" {
				return nil, false
			}
			if (w == "store" || w == "shop" || w == "library") && j+1 < len(t) && !appConnectors[t[j+1]] {
				return nil, false
			}
			words = append(words, w)
		}
		for _, n := range name {
			if nounStops[n] && n != "for" || haveVerbs[n] {
				return nil, false
			}
		}
		if p.appWords == nil && len(words) > 0 {
			p.appWords = words
		}
		rest := t[j+1:]
		for len(rest) > 0 && (appNouns[rest[0]] || keptAppNouns[rest[0]]) {
			rest = rest[1:] // "booking app", "blog platform"
		}
		return rest, true
	}
	return nil, false
}

// afterApp reads what follows the app noun: a list of entities, or a
// sentence ("where users can post articles").
func (p *planner) afterApp(t []string) {
	if len(t) == 0 {
		return
	}
	if clauseConnectors[t[0]] {
		p.clause(t[1:])
		return
	}
	// "an app for a gym: members, classes" / "an app for a bakery with
	// products": the domain names the app, the rest lists entities.
	if t[0] == "for" && len(t) > 2 && (determiners[t[1]] && !quantifiers[t[1]] && t[1] != "each" && t[1] != "every") {
		end := 2
		for end < len(t) && !appConnectors[t[end]] && t[end] != "," {
			end++
		}
		if words := entityWords(t[1:end]); words != nil && !isPlural(t[end-1]) {
			if p.appWords == nil {
				p.appWords = words
			}
			p.afterApp(t[end:])
			return
		}
	}
	if t[0] == "that" || t[0] == "which" || t[0] == "to" || t[0] == "for" || t[0] == "who" {
		t = t[1:]
		if len(t) > 0 && (t[0] == "lets" || t[0] == "allows" || t[0] == "helps") {
			p.clause(t[1:])
			return
		}
	}
	if i := top(t, ":"); i >= 0 {
		left := stripFront(stripFront(t[:i], appConnectors), fillers)
		right := t[i+1:]
		if j := top(right, ":"); j > 0 && (hasTopHave(right[j+1:]) || p.relationShape(right[j+1:])) {
			defer p.clause(right[j+1:])
			right = right[:j]
		}
		if entityListShape(right) {
			p.entityList(right) // "similar to GitHub: repositories, issues"
		} else if hasTopHave(right) || p.createShape(right) || p.relationShape(right) {
			p.clause(right)
		} else if words := entityWords(p.appWords); len(left) == 0 && words != nil && len(right) > 0 && !startsWithEntity(right) {
			p.fields(p.entity(words), splitList(right), false) // "Contacts app: name, phone"
		} else if len(left) == 0 || entityWords(stripManage(left)) == nil {
			p.entityList(right)
		} else {
			p.colon(append(slices.Clone(left), t[i:]...))
		}
		return
	}
	for _, w := range t {
		if !appConnectors[w] && !fillers[w] {
			break
		}
		if _, ok := appNameSuffix[w]; ok && p.appVerb == "" {
			p.appVerb = w // "for tracking …"
		}
	}
	t = stripFront(t, appConnectors)
	t = stripFront(t, fillers)
	if v := stripManage(t); len(v) < len(t) {
		if p.appVerb == "" {
			p.appVerb = t[0]
		}
		t = v
	}
	if len(t) == 0 {
		return
	}
	// "conferences and talks where each talk belongs to a conference"
	for k, w := range t {
		if k > 0 && (w == "where" || w == "whereas") && top(t[:k], "(") < 0 {
			p.entityList(t[:k])
			p.clause(t[k+1:])
			return
		}
	}
	// A sentence of its own: "that users can post articles to".
	if hasTopHave(t) && top(t, "(") < 0 && top(t, ",") < 0 || p.createShape(t) {
		p.clause(t)
		return
	}
	p.entityList(t)
}

// hasTopHave reports whether t holds a have-verb (other than "with")
// outside parentheses after its first word.
func hasTopHave(t []string) bool {
	i := haveIndex(t)
	return i > 0 && t[i] != "with"
}

// stripManage drops "track", "manage all of my" … at the start, unless
// nothing would be left.
func stripManage(t []string) []string {
	i := 0
	for i < len(t) && (manageVerbs[t[i]] || determiners[t[i]] || fillers[t[i]] && i > 0) {
		i++
	}
	if i == len(t) {
		return t
	}
	return t[i:]
}

// entityList reads "books (title, author) and loans".
func (p *planner) entityList(t []string) {
	var prev, last *entityDraft
	for _, item := range splitList(t) {
		if f := featureOnly(item); f {
			continue
		}
		if last != nil && (item[0] == "with" || item[0] == "having" || item[0] == "including") {
			// "books I have read, with rating and review"
			p.fields(last, [][]string{stripFront(item[1:], afterHave)}, false)
			prev = last
			continue
		}
		// "books with title and author, and members": a singular word
		// after an entity that took fields continues its fields.
		if np := npWords(stripFront(item, determiners)); prev != nil && (len(np) == 0 || len(np) <= 3 && !isPlural(np[len(np)-1])) {
			p.fields(prev, [][]string{item}, false)
			continue
		}
		prev = nil
		if np, words := npWords(stripFront(item, determiners)), entityWords(item); len(item) == len(np)+countDet(item) && len(np) > 0 && !isPlural(np[len(np)-1]) &&
			words != nil && !commonEntities[words[len(words)-1]] && !p.known[ident(words, maxEntityIdent)] {
			continue // "an app that is fast": a lone singular word names nothing
		}
		if h := haveIndex(item); h > 0 && top(item, "(") > h {
			// "my reading with books (title, author)": the entity is
			// the one with fields.
			p.entityList(item[h+1:])
			continue
		}
		words, fieldToks := entityItem(item)
		e := p.entity(words)
		if e == nil {
			continue
		}
		last = e
		if len(fieldToks) > 0 {
			p.fields(e, splitList(fieldToks), false)
			if top(item, "(") < 0 {
				prev = e
			}
		}
	}
}

// startsWithEntity reports whether the first item of t is a plural noun
// phrase: "messages with a name, …".
func startsWithEntity(t []string) bool {
	items := splitList(t)
	if len(items) == 0 {
		return false
	}
	np := npWords(stripFront(items[0], determiners))
	return len(np) > 0 && isPlural(np[len(np)-1]) && !pluralFieldWords[np[len(np)-1]]
}

// countDet counts the determiners an item starts with.
func countDet(item []string) int {
	return len(item) - len(stripFront(item, determiners))
}

// featureOnly reports whether an item only names features ("search").
func featureOnly(item []string) bool {
	n := 0
	for _, w := range item {
		if _, ok := featureWords[w]; ok {
			n++
		} else if !determiners[w] && w != "full" && w != "text" && w != "bar" && w != "usage" {
			return false
		}
	}
	return n > 0
}

// entityItem splits "books (title, author)", "books with a title" or
// "books: title" into the entity's words and its field tokens.
func entityItem(item []string) (words, fields []string) {
	if i := top(item, "("); i >= 0 {
		_, in := parens(item)
		return entityWords(item[:i]), in
	}
	if i := top(item, ":"); i > 0 {
		return entityWords(item[:i]), item[i+1:]
	}
	if i := haveIndex(item); i > 0 {
		return entityWords(item[:i]), stripFront(item[i+1:], afterHave)
	}
	return entityWords(item), nil
}

// haveIndex returns the index of the first have-verb outside parentheses
// after the first word, or -1.
func haveIndex(t []string) int {
	depth := 0
	for i, w := range t {
		switch w {
		case "(":
			depth++
		case ")":
			if depth > 0 {
				depth--
			}
		default:
			if depth == 0 && i > 0 && haveVerbs[w] && !(i > 1 && pronouns[t[i-1]]) {
				return i // not "books i have read"
			}
		}
	}
	return -1
}

// entityWords reads a noun phrase as an entity name: determiners,
// quantifiers and "a list of" go, it ends at a preposition or verb, and
// its last word becomes singular. It returns nil for no noun.
func entityWords(t []string) []string {
	for {
		n := len(t)
		t = stripFront(t, determiners)
		t = stripFront(t, quantifiers)
		if len(t) > 1 && (containers[t[0]] || collections[t[0]]) && t[1] == "of" {
			t = t[2:]
		}
		if len(t) == n {
			break
		}
	}
	words := npWords(t)
	if len(words) > 1 && collections[words[len(words)-1]] {
		words = words[:len(words)-1] // "my book collection" keeps books
	}
	if len(words) == 0 || len(words) > 3 {
		return nil
	}
	head := words[len(words)-1]
	if nonEntities[head] || nonEntities[strings.Join(words, "_")] || determiners[head] || quantifiers[head] || commandWords[words[0]] {
		return nil
	}
	for _, w := range words {
		if vagueWords[w] {
			return nil // "something cool"
		}
	}
	if _, ok := featureWords[head]; ok {
		return nil
	}
	for _, w := range words {
		if strings.Trim(w, "0123456789.") == "" || len(w) == 1 {
			return nil
		}
	}
	words = slices.Clone(words)
	words[len(words)-1] = singular(head)
	return words
}

// npWords returns the words of the noun phrase t starts with, as written.
func npWords(t []string) []string {
	var words []string
	for _, w := range t {
		if w == "(" || w == ")" || w == "," || w == ":" || nounStops[w] || modals[w] || haveVerbs[w] || pronouns[w] && len(words) > 0 {
			break
		}
		words = append(words, w)
	}
	for len(words) > 0 && (appAdjectives[words[0]] && len(words) > 1 || words[0] == "new") {
		words = words[1:]
	}
	return words
}

// entity returns the entity named by words, creating it on first mention.
func (p *planner) entity(words []string) *entityDraft {
	if len(words) == 0 {
		return nil
	}
	key, _ := entityNames(words)
	if key == "" {
		return nil
	}
	if e, ok := p.byKey[key]; ok {
		p.last = e
		return e
	}
	e := &entityDraft{words: words, key: key}
	p.byKey[key] = e
	p.entities = append(p.entities, e)
	p.last = e
	return e
}

// nounWords is entityWords that also accepts a word the first pass found
// as an entity even where it could be a common word: "a list" once "lists"
// are entities.
func (p *planner) nounWords(t []string) []string {
	if words := entityWords(t); words != nil {
		return words
	}
	np := npWords(stripFront(t, determiners))
	if len(np) == 0 || len(np) > 3 {
		return nil
	}
	words := append(slices.Clone(np[:len(np)-1]), singular(np[len(np)-1]))
	if key, _ := entityNames(words); key != "" && p.known[key] {
		return words
	}
	return nil
}

// knownEntity returns the entity an item names if the first pass found it.
func (p *planner) knownEntity(item []string) *entityDraft {
	words := p.nounWords(item)
	if len(words) == 0 {
		return nil
	}
	if words[len(words)-1] == "id" && len(words) > 1 { // "customer id"
		words = words[:len(words)-1]
	}
	key, _ := entityNames(words)
	if key == "" || !p.known[key] {
		return nil
	}
	return p.entity(words)
}

func (p *planner) relate(from, to *entityDraft, required bool) {
	if from == nil || to == nil {
		return
	}
	for i, r := range p.relations {
		if r.from == from && r.to == to {
			p.relations[i].required = r.required || required
			return
		}
	}
	p.relations = append(p.relations, relDraft{from: from, to: to, required: required})
}

// manyItem reads "many orders", "a list of payments": the owned entity's
// item, or nil when item names no quantity.
func manyItem(item []string) []string {
	t := stripFront(item, manyLead)
	switch {
	case len(t) > 1 && quantifiers[t[0]]:
		return t[1:]
	case len(t) > 2 && containers[t[0]] && t[1] == "of":
		return t[2:]
	}
	return nil
}

// fields adds field phrases to e; items that name a known entity become
// relations, "many X" items make X belong to e.
func (p *planner) fields(e *entityDraft, items [][]string, required bool) {
	if e == nil {
		return
	}
	for _, item := range items {
		if featureOnly(item) {
			continue
		}
		if owned := manyItem(item); owned != nil {
			p.owned(e, owned)
			continue
		}
		if other := p.knownEntity(item); other != nil && other != e {
			p.relate(e, other, false)
			p.last = e
			continue
		}
		if f, ok := parseField(item); ok {
			f.required = f.required || required && !f.optional
			e.fields = append(e.fields, f)
		}
	}
	p.last = e
}

// owned reads "orders (date, total)" owned by parent: the child entity
// belongs to parent.
func (p *planner) owned(parent *entityDraft, item []string) {
	words, fieldToks := entityItem(item)
	child := p.entity(words)
	if child == nil {
		return
	}
	if len(fieldToks) > 0 {
		p.fields(child, splitList(fieldToks), false)
	}
	if child != parent {
		p.relate(child, parent, false)
	}
	p.last = parent
}

var (
	// manyLead opens a quantity: "can have many".
	manyLead = set("a", "an", "the", "their", "its", "his", "her", "can", "have", "has")
)
