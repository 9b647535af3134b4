package plan

import "slices"

// constraintWords mark a sentence about fields: "titles are required".
var constraintWords = set("required", "mandatory", "compulsory", "unique", "optional", "distinct")

// constraint reads "title and author are required", "emails must be
// unique", "all fields are required".
func (p *planner) constraint(t []string) bool {
	if haveIndex(t) > 0 || top(t, "(") >= 0 || top(t, ":") >= 0 {
		return false
	}
	i := slices.IndexFunc(t, func(w string) bool { return constraintWords[w] })
	if i <= 0 {
		return false
	}
	var c constraint
	for _, w := range t[i:] {
		switch w {
		case "required", "mandatory", "compulsory":
			c.required = true
		case "unique", "distinct":
			c.unique = true
		case "optional":
			c.optional = true
		}
	}
	subject := stripBack(t[:i], constraintTail)
	if len(subject) == 0 {
		return false
	}
	allWords := stripFront(subject, determiners)
	if len(allWords) > 0 && (allWords[len(allWords)-1] == "fields" || allWords[len(allWords)-1] == "attributes") && len(allWords) <= 2 {
		p.constraints = append(p.constraints, c)
		return true
	}
	for _, item := range splitList(subject) {
		c.items = append(c.items, item)
	}
	p.constraints = append(p.constraints, c)
	return true
}

// forEach reads "for each customer, track orders (date, total)" and "store
// a due date and a done flag for each task".
func (p *planner) forEach(t []string) bool {
	i := -1
	for j := range t {
		if t[j] == "for" && j+1 < len(t) && (t[j+1] == "each" || t[j+1] == "every") || t[j] == "per" {
			i = j
			break
		}
	}
	if i < 0 {
		return false
	}
	after := t[i+1:]
	if t[i] == "for" {
		after = t[i+2:]
	}
	// The parent ends at a comma or a verb.
	end := len(after)
	for j, w := range after {
		if w == "," || w == ":" || nounStops[w] || manageVerbs[w] || modals[w] || haveVerbs[w] {
			end = j
			break
		}
	}
	parent := p.entity(p.nounWords(after[:end]))
	if parent == nil {
		return false
	}
	body := t[:i]
	if len(body) == 0 {
		body = after[end:]
	}
	body = stripFront(body, forEachLead)
	body = stripManage(body)
	if len(body) == 0 {
		return true
	}
	for _, item := range splitList(body) {
		switch words, _ := entityItem(item); {
		case manyItem(item) != nil:
			p.owned(parent, manyItem(item))
		case top(item, "(") >= 0 && words != nil,
			words != nil && isPlural(item[len(item)-1]) && !pluralFieldWords[item[len(item)-1]],
			p.knownEntity(item) != nil && p.knownEntity(item) != parent:
			p.owned(parent, item)
		default:
			p.fields(parent, [][]string{item}, false)
		}
	}
	return true
}

// relationShape reports whether t states a relation ("belongs to", "have
// many").
func (p *planner) relationShape(t []string) bool {
	for i, w := range t {
		if (w == "belongs" || w == "belong") && i+1 < len(t) && t[i+1] == "to" || w == "many" && i > 0 && haveVerbs[t[i-1]] {
			return true
		}
	}
	return false
}

// belongsTo reads "an order belongs to a customer", "orders are placed by
// customers", "a task is assigned to a person", "a loan is for a book".
func (p *planner) belongsTo(t []string) bool {
	i, skip, required := -1, 0, true
	for j := 0; j+1 < len(t); j++ {
		w, next := t[j], t[j+1]
		switch {
		case (w == "belongs" || w == "belong") && next == "to":
			i, skip = j, 2
		case byVerbs[w] && next == "by":
			i, skip = j, 2
		case linkVerbs[w] && (next == "to" || next == "with"):
			i, skip, required = j, 2, false
		case (w == "references" || w == "reference") && j > 0:
			i, skip, required = j, 1, false
		case (w == "refers" || w == "points") && next == "to":
			i, skip, required = j, 2, false
		case w == "part" && next == "of" && j > 0:
			i, skip = j, 2
		case (w == "is" || w == "are") && next == "for" && j+2 < len(t) && p.knownEntity(t[j+2:]) != nil:
			i, skip = j, 2
		}
		if i >= 0 {
			break
		}
	}
	if h := haveIndex(t); i <= 0 || h > 0 && h < i {
		return false // "bugs have a title and reported by": a field list
	}
	subj := t[:i]
	for k, w := range subj {
		if w == "can" || w == "may" || w == "might" || w == "optionally" || w == "sometimes" {
			required = false
			subj = subj[:k]
			break
		}
	}
	child := p.entity(p.nounWords(subj))
	if child == nil {
		return false
	}
	items := splitList(t[i+skip:])
	for k, item := range items {
		if haveVerbs[item[0]] {
			// "… belongs to a recipe and has a name and quantity": the
			// rest are fields.
			rest := append([][]string{stripFront(item[1:], afterHave)}, items[k+1:]...)
			p.fields(child, rest, false)
			break
		}
		if top(item, "(") >= 0 { // "a customer (name, email)"
			words, fieldToks := entityItem(item)
			if parent := p.entity(words); parent != nil {
				p.fields(parent, splitList(fieldToks), false)
				p.relate(child, parent, required)
			}
			continue
		}
		if parent := p.entity(p.nounWords(item)); parent != nil && parent != child {
			p.relate(child, parent, required)
		}
	}
	p.last = child
	return true
}

// colon reads "LEFT: LIST": "track expenses: amount, note", "books: title,
// year", "entities: books, loans", "each book has: title".
func (p *planner) colon(t []string) bool {
	i := top(t, ":")
	if i < 0 {
		return false
	}
	left, right := t[:i], t[i+1:]
	if j := top(right, ":"); j > 0 && (hasTopHave(right[j+1:]) || p.relationShape(right[j+1:])) {
		// "beds (name), plants (name) — each plant belongs to a bed"
		defer p.clause(right[j+1:])
		right = right[:j]
	}
	left = stripBack(stripFillers(left), colonTail)
	if len(left) == 0 {
		if hasTopHave(right) || p.relationShape(right) {
			p.clause(right)
		} else {
			p.entityList(right)
		}
		return true
	}
	lastLeft := left[len(left)-1]
	// "Inventory: items have a name …": the left side is a title.
	if hasTopHave(right) || p.relationShape(right) || p.createShape(right) {
		if p.appWords == nil && haveIndex(left) < 0 && len(left) <= 3 {
			p.appWords = appNameWords(left)
		}
		p.clause(right)
		return true
	}
	// "Restaurant reservations: tables (number, seats) and reservations":
	// a list of plural things is a list of entities.
	if entityListShape(right) && haveIndex(left) < 0 && !metaFields[lastLeft] {
		if p.appWords == nil && len(left) <= 3 && !metaEntities[lastLeft] {
			p.appWords = appNameWords(left)
		}
		p.entityList(right)
		return true
	}
	switch {
	case lastLeft == "features" || lastLeft == "feature" || lastLeft == "extras":
		p.scanFeatures(right)
		return true
	case lastLeft == "relations" || lastLeft == "relationships":
		for _, item := range splitList(right) {
			p.clause(item)
		}
		return true
	case metaEntities[lastLeft] && entityWords(left[:len(left)-1]) == nil:
		p.entityList(right)
		return true
	case metaFields[lastLeft]:
		owner := stripBack(left[:len(left)-1], ownerTail)
		if h := haveIndex(owner); h > 0 {
			owner = owner[:h]
		}
		e := p.entity(entityWords(owner))
		if e == nil {
			e = p.last
		}
		if e != nil {
			p.fields(e, splitList(right), false)
		}
		return true
	}
	if h := haveIndex(left); h > 0 {
		return p.haveParts(left[:h], t[h:])
	}
	owner := stripManage(left)
	e := p.entity(entityWords(owner))
	if e == nil {
		return false
	}
	if len(owner) < len(left) && p.appVerb == "" {
		p.appVerb = left[0]
	}
	p.fields(e, splitList(right), false)
	return true
}

// appNameWords keeps the words of a title that can name an app.
func appNameWords(t []string) []string {
	var out []string
	for _, w := range stripManage(t) {
		if !appAdjectives[w] && !determiners[w] && !appNouns[w] {
			out = append(out, w)
		}
	}
	return out
}

// pluralList reports whether every item of t is a plural noun phrase
// (with or without fields in parentheses): "tables (number) and
// reservations".
func pluralList(t []string) bool {
	items := splitList(t)
	things := 0
	for _, item := range items {
		np := npWords(stripFront(stripFront(item, determiners), quantifiers))
		if len(np) == 0 || len(np) > 3 || !isPlural(np[len(np)-1]) {
			return false
		}
		if !pluralFieldWords[np[len(np)-1]] {
			things++ // "notes, tags" alone are fields
		}
	}
	return things > 0
}

// entityListShape reports whether t lists entities: every item a plural
// noun, or some item a plural noun with fields in parentheses.
func entityListShape(t []string) bool {
	if pluralList(t) {
		return true
	}
	for _, item := range splitList(t) {
		if i := top(item, "("); i > 0 && isPlural(item[i-1]) && !pluralFieldWords[item[i-1]] {
			return true
		}
	}
	return false
}

// have reads "SUBJECT has|have|with LIST".
func (p *planner) have(t []string) bool {
	i := haveIndex(t)
	if i <= 0 {
		return false
	}
	return p.haveParts(t[:i], t[i:])
}

// pronouns as subjects mean the app: "it has books and members".
var appSubjects = set("it", "we", "i", "you", "this", "there", "app", "system", "users")

func (p *planner) haveParts(subject, rest []string) bool {
	verb := rest[0]
	rest = rest[1:]
	required := false
	for len(subject) > 0 && modals[subject[len(subject)-1]] {
		if subject[len(subject)-1] == "must" {
			required = true
		}
		subject = subject[:len(subject)-1]
	}
	subject = stripFillersKeepNoun(subject)
	if len(subject) == 1 && appSubjects[subject[0]] && subject[0] != "users" || len(subject) == 0 {
		p.entityList(stripFront(rest, afterHave))
		return true
	}
	owner := stripManage(subject)
	e := p.entity(p.nounWords(owner))
	if e == nil {
		return false
	}
	if len(owner) < len(subject) && p.appVerb == "" {
		p.appVerb = subject[0]
	}
	if verb == "with" && len(rest) > 0 && quantifiers[rest[0]] {
		verb = "has"
	}
	rest = stripFront(rest, afterHave)
	if len(rest) > 0 && rest[0] == "many" || manyItem(rest) != nil {
		for _, item := range splitList(rest) {
			if owned := manyItem(item); owned != nil {
				p.owned(e, owned)
			} else {
				p.owned(e, item)
			}
		}
		return true
	}
	var items [][]string
	for _, item := range splitList(rest) {
		if len(item) > 1 && haveVerbs[item[0]] {
			item = stripFront(item[1:], afterHave) // "contain pizzas, have a name"
			if len(item) == 0 {
				continue
			}
		}
		if len(item) > 2 && (item[0] == "belongs" || item[0] == "belong") && item[1] == "to" {
			// "each ticket has a title, and belongs to a customer"
			if parent := p.entity(p.nounWords(item[2:])); parent != nil && parent != e {
				p.relate(e, parent, true)
			}
			continue
		}
		// "customers have orders": a bare plural that names a common
		// entity is owned; "tasks have notes" stays a field.
		head := item[len(item)-1]
		if len(item) <= 2 && top(item, "(") < 0 && isPlural(head) && !pluralFieldWords[head] && item[0] != "a" && item[0] != "an" &&
			(commonEntities[singular(head)] || p.knownEntity(item) != nil) {
			p.owned(e, item)
			continue
		}
		if top(item, "(") >= 0 && isPlural(firstWordBeforeParen(item)) {
			p.owned(e, item)
			continue
		}
		items = append(items, item)
	}
	p.fields(e, items, required)
	return true
}

func firstWordBeforeParen(item []string) string {
	i := top(item, "(")
	if i <= 0 {
		return ""
	}
	return item[i-1]
}

// stripFillersKeepNoun strips fillers but keeps a last word.
func stripFillersKeepNoun(t []string) []string {
	s := stripFillers(t)
	if len(s) == 0 && len(t) > 0 {
		return t[len(t)-1:]
	}
	return s
}

// createShape reports whether t reads "SUBJECT (can) VERB OBJECTS".
func (p *planner) createShape(t []string) bool {
	_, _, _, ok := splitCreate(t)
	return ok
}

// splitCreate finds "users (can) write posts (on topics)".
func splitCreate(t []string) (subject, objects, target []string, ok bool) {
	for i := 1; i < len(t) && i < 5; i++ {
		if t[i] == "(" || t[i] == "," || t[i] == ":" {
			break
		}
		if !createVerbs[t[i]] || i+1 < len(t) && (haveVerbs[t[i+1]] || modals[t[i+1]]) {
			continue
		}
		subject = t[:i]
		for len(subject) > 0 && modals[subject[len(subject)-1]] {
			subject = subject[:len(subject)-1]
		}
		if entityWords(subject) == nil {
			return nil, nil, nil, false
		}
		objects = t[i+1:]
		if len(objects) == 0 || objects[0] == "(" || objects[0] == ":" {
			return nil, nil, nil, false
		}
		for j, w := range objects {
			if w == "on" || w == "for" || w == "to" || w == "about" || w == "in" || w == "under" {
				target = objects[j+1:]
				objects = objects[:j]
				break
			}
		}
		return subject, objects, target, len(objects) > 0
	}
	return nil, nil, nil, false
}

// create reads "users write posts", "customers can place orders",
// "members leave reviews on books": the things made belong to their maker
// (and to what they are on).
func (p *planner) create(t []string) bool {
	// "sellers list products and buyers place orders": two sentences.
	if parts := splitAt(t, "and"); len(parts) > 1 && p.createShape(parts[len(parts)-1]) && p.createShape(parts[0]) {
		for _, part := range parts {
			p.create(part)
		}
		return true
	}
	subject, objects, target, ok := splitCreate(t)
	if !ok {
		return false
	}
	maker := p.entity(entityWords(subject))
	if maker == nil {
		return false
	}
	on := p.entity(entityWords(target))
	for _, item := range splitList(objects) {
		words, fieldToks := entityItem(item)
		if np := npWords(stripFront(item, determiners)); len(np) > 0 && measures[np[len(np)-1]] {
			continue // "employees log hours": hours are a field
		}
		made := p.entity(words)
		if made == nil || made == maker {
			continue
		}
		if len(fieldToks) > 0 {
			p.fields(made, splitList(fieldToks), false)
		}
		p.relate(made, maker, false)
		if on != nil && on != made {
			p.relate(made, on, false)
		}
	}
	return true
}

// splitAt splits t at every top-level sep.
func splitAt(t []string, sep string) [][]string {
	var out [][]string
	for {
		i := top(t, sep)
		if i < 0 {
			return append(out, t)
		}
		out = append(out, t[:i])
		t = t[i+1:]
	}
}

// joinVerbs link two kinds of things many-to-many through a record named
// after the act: "students enroll in courses" → enrollments.
var joinVerbs = map[string]string{
	"enroll": "enrollment", "enrolls": "enrollment", "attend": "attendance", "attends": "attendance",
	"join": "membership", "joins": "membership", "borrow": "loan", "borrows": "loan",
	"rent": "rental", "rents": "rental", "subscribe": "subscription", "subscribes": "subscription",
	"register": "registration", "registers": "registration", "follow": "follow", "follows": "follow",
	"like": "like", "likes": "like", "rate": "rating", "rates": "rating", "book": "booking",
	"reserve": "reservation", "reserves": "reservation", "apply": "application",
	"applies": "application", "vote": "vote", "bookmark": "bookmark", "bookmarks": "bookmark",
	"favorite": "favorite", "favourite": "favorite", "buy": "purchase", "buys": "purchase",
	"purchase": "purchase", "purchases": "purchase", "visit": "visit", "visits": "visit",
	"take": "enrollment", "takes": "enrollment",
}

// join reads "students enroll in courses", "members can borrow books":
// the act becomes an entity that belongs to both sides.
func (p *planner) join(t []string) bool {
	for i := 1; i < len(t) && i < 5; i++ {
		act, ok := joinVerbs[t[i]]
		if !ok {
			continue
		}
		subject := t[:i]
		for len(subject) > 0 && modals[subject[len(subject)-1]] {
			subject = subject[:len(subject)-1]
		}
		np := npWords(stripFront(subject, determiners))
		if len(np) == 0 || len(np) != len(stripFront(subject, determiners)) || !isPlural(np[len(np)-1]) {
			return false
		}
		objects := stripFront(t[i+1:], set("in", "for", "to", "on", "at", "into"))
		if len(objects) == 0 || objects[0] == "(" || haveVerbs[objects[0]] || modals[objects[0]] {
			return false
		}
		var targets []*entityDraft
		for _, item := range splitList(objects) {
			if on := npWords(stripFront(item, determiners)); len(on) == 0 || !isPlural(on[len(on)-1]) {
				return len(targets) > 0
			}
			words, fieldToks := entityItem(item)
			target := p.entity(words)
			if target == nil {
				return len(targets) > 0
			}
			if len(fieldToks) > 0 {
				p.fields(target, splitList(fieldToks), false)
			}
			targets = append(targets, target)
		}
		actor := p.entity(entityWords(subject))
		if actor == nil || len(targets) == 0 {
			return false
		}
		for _, target := range targets {
			name := act
			if len(targets) > 1 {
				name = target.key + "_" + act
			}
			if target == actor {
				continue // "users follow users" needs two keys to one table
			}
			link := p.entity([]string{name})
			if link == nil || link == actor || link == target {
				continue
			}
			p.relate(link, actor, true)
			p.relate(link, target, true)
		}
		p.last = actor
		return true
	}
	return false
}

// manage reads "track expenses and incomes", "manage books (title) and
// members".
func (p *planner) manage(t []string) bool {
	if !manageVerbs[t[0]] || t[0] == "of" || t[0] == "on" || t[0] == "up" || t[0] == "about" {
		return false
	}
	rest := stripManage(t)
	if len(rest) == len(t) {
		return false
	}
	if p.appVerb == "" {
		p.appVerb = t[0]
	}
	p.entityList(rest)
	return true
}

// bare reads a clause that is only entities: "Books (title, author)",
// "- loans".
func (p *planner) bare(t []string) {
	for _, item := range splitList(t) {
		words, fieldToks := entityItem(item)
		if words == nil {
			continue
		}
		np := npWords(stripFront(item, determiners))
		if rest := stripFront(item, determiners); len(fieldToks) == 0 && len(np) < len(rest) {
			// A sentence, not a noun phrase ("the fox jumps over the dog"),
			// unless its subject is plural and acts: "agents can reply".
			if len(np) == 0 || !isPlural(np[len(np)-1]) || !modals[rest[len(np)]] {
				continue
			}
		}
		if len(fieldToks) == 0 && (len(np) == 0 || !isPlural(np[len(np)-1])) && !(len(t) <= 3 && commonEntities[words[len(words)-1]]) {
			continue
		}
		e := p.entity(words)
		if e != nil && len(fieldToks) > 0 {
			p.fields(e, splitList(fieldToks), false)
		}
	}
}

var (
	// constraintTail ends the subject of a constraint: "titles must always be".
	constraintTail = set("is", "are", "must", "should", "be", "always", "has", "have", "to", "needs", "need", "all", "both", "each", "every", "considered", "also", "not", "never")
	// forEachLead opens the body of a for-each clause: "we want to track".
	forEachLead = set(",", ":", "we", "i", "you", "want", "to", "there", "is", "are", "can", "be", "should", "must", "need", "needs", "will", "have", "has", "may")
	// colonTail ends the left side of a colon: "the following are".
	colonTail = set("the", "following", "these", "below", "are", "is", "as", "follows")
	// ownerTail ends the owner before a fields header: "each book has the following".
	ownerTail = set("the", "following", "with", "has", "have", "of", "its", "their", "these")
)
