package plan

import "github.com/kiln-build/kiln"

// defaultField is a field an entity gets when the description names the
// entity but none of its fields.
type defaultField struct {
	name     string
	typ      kiln.FieldType
	required bool
}

var (
	dfName    = defaultField{"name", kiln.FieldString, true}
	dfTitle   = defaultField{"title", kiln.FieldString, true}
	dfEmail   = defaultField{"email", kiln.FieldEmail, false}
	dfBody    = defaultField{"body", kiln.FieldText, true}
	dfAmount  = defaultField{"amount", kiln.FieldDecimal, true}
	dfDate    = defaultField{"date", kiln.FieldDate, false}
	dfNotes   = defaultField{"notes", kiln.FieldText, false}
	dfStarts  = defaultField{"starts_at", kiln.FieldTimestamp, false}
	dfDesc    = defaultField{"description", kiln.FieldText, false}
	dfPrice   = defaultField{"price", kiln.FieldDecimal, false}
	dfDone    = defaultField{"done", kiln.FieldBoolean, false}
	dfDue     = defaultField{"due_date", kiln.FieldDate, false}
	dfQty     = defaultField{"quantity", kiln.FieldInteger, true}
	dfRating  = defaultField{"rating", kiln.FieldInteger, true}
	dfStatus  = defaultField{"status", kiln.FieldString, false}
	dfURL     = defaultField{"url", kiln.FieldURL, true}
	dfMessage = defaultField{"message", kiln.FieldText, true}
)

// defaultFields are the fields of well-known entities named without any.
var defaultFields = map[string][]defaultField{
	"person": {dfName, dfEmail}, "user": {dfName, dfEmail}, "member": {dfName, dfEmail},
	"customer": {dfName, dfEmail}, "client": {dfName, dfEmail}, "employee": {dfName, dfEmail},
	"student": {dfName, dfEmail}, "teacher": {dfName, dfEmail}, "author": {dfName, dfEmail},
	"contact": {dfName, dfEmail}, "patient": {dfName, dfEmail}, "owner": {dfName, dfEmail},
	"guest": {dfName, dfEmail}, "attendee": {dfName, dfEmail}, "player": {dfName, dfEmail},
	"subscriber": {dfName, dfEmail}, "volunteer": {dfName, dfEmail}, "vendor": {dfName, dfEmail},
	"supplier": {dfName, dfEmail}, "tenant": {dfName, dfEmail}, "instructor": {dfName, dfEmail},
	"task": {dfTitle, dfDone, dfDue}, "todo": {dfTitle, dfDone, dfDue}, "chore": {dfTitle, dfDone, dfDue},
	"book": {dfTitle, {"author", kiln.FieldString, false}, {"year", kiln.FieldInteger, false}},
	"loan": {{"loaned_at", kiln.FieldTimestamp, true}, dfDue, {"returned", kiln.FieldBoolean, false}},
	"post": {dfTitle, dfBody}, "article": {dfTitle, dfBody}, "page": {dfTitle, dfBody},
	"story": {dfTitle, dfBody}, "note": {dfTitle, dfBody}, "entry": {dfTitle, dfBody},
	"comment": {dfBody}, "reply": {dfBody}, "message": {dfBody}, "answer": {dfBody},
	"review":  {dfRating, dfBody},
	"product": {dfName, dfPrice}, "item": {dfName, dfQty}, "service": {dfName, dfPrice},
	"order":     {{"total", kiln.FieldDecimal, false}, dfStatus},
	"line_item": {dfQty, dfPrice}, "order_item": {dfQty, dfPrice},
	"category": {dfName}, "tag": {dfName}, "genre": {dfName}, "label": {dfName},
	"department": {dfName}, "team": {dfName}, "group": {dfName}, "location": {dfName, {"address", kiln.FieldText, false}},
	"expense":     {dfAmount, {"spent_on", kiln.FieldDate, false}, dfNotes},
	"income":      {dfAmount, {"received_on", kiln.FieldDate, false}, dfNotes},
	"payment":     {dfAmount, {"paid_at", kiln.FieldTimestamp, false}},
	"transaction": {dfAmount, dfDate, dfNotes}, "donation": {dfAmount, dfDate},
	"invoice": {{"number", kiln.FieldString, true}, dfAmount, dfDue},
	"event":   {dfTitle, dfStarts}, "meeting": {dfTitle, dfStarts}, "appointment": {dfTitle, dfStarts},
	"booking": {dfStarts, dfNotes}, "reservation": {dfStarts, dfNotes},
	"project": {dfName, dfDesc}, "course": {dfTitle, dfDesc}, "lesson": {dfTitle, dfBody},
	"recipe":     {dfTitle, {"instructions", kiln.FieldText, false}},
	"ingredient": {dfName, {"amount", kiln.FieldString, false}},
	"workout":    {dfDate, {"duration_minutes", kiln.FieldInteger, false}, dfNotes},
	"exercise":   {dfName, {"sets", kiln.FieldInteger, false}, {"reps", kiln.FieldInteger, false}},
	"movie":      {dfTitle, {"year", kiln.FieldInteger, false}}, "song": {dfTitle, {"artist", kiln.FieldString, false}},
	"album": {dfTitle, {"artist", kiln.FieldString, false}}, "video": {dfTitle, dfURL},
	"photo": {dfTitle, dfURL}, "link": {dfTitle, dfURL}, "bookmark": {dfTitle, dfURL},
	"ticket": {dfTitle, dfDesc, dfStatus}, "issue": {dfTitle, dfDesc, dfStatus}, "bug": {dfTitle, dfDesc, dfStatus},
	"job": {dfTitle, dfDesc}, "question": {dfTitle, dfBody}, "feedback": {dfMessage},
	"room": {dfName, {"capacity", kiln.FieldInteger, false}}, "vehicle": {dfName, {"plate_number", kiln.FieldString, false}},
	"habit": {dfName, dfDone}, "goal": {dfTitle, dfDone, dfDue}, "reminder": {dfTitle, dfStarts},
	"plant": {dfName, {"last_watered_on", kiln.FieldDate, false}}, "pet": {dfName, {"species", kiln.FieldString, false}},
	// Records of an act between two things (see joinVerbs).
	"enrollment":   {{"enrolled_on", kiln.FieldDate, false}, {"grade", kiln.FieldString, false}},
	"attendance":   {{"attended_on", kiln.FieldDate, false}},
	"membership":   {{"joined_on", kiln.FieldDate, false}, {"role", kiln.FieldString, false}},
	"rental":       {{"rented_at", kiln.FieldTimestamp, true}, {"returned_at", kiln.FieldTimestamp, false}},
	"subscription": {{"started_on", kiln.FieldDate, false}, {"active", kiln.FieldBoolean, false}},
	"registration": {{"registered_at", kiln.FieldTimestamp, false}},
	"follow":       {{"followed_at", kiln.FieldTimestamp, false}},
	"like":         {{"liked_at", kiln.FieldTimestamp, false}},
	"rating":       {{"stars", kiln.FieldInteger, true}, {"comment", kiln.FieldText, false}},
	"application":  {{"applied_at", kiln.FieldTimestamp, false}, dfStatus},
	"vote":         {{"value", kiln.FieldInteger, true}},
	"favorite":     {{"added_at", kiln.FieldTimestamp, false}},
	"purchase":     {{"purchased_at", kiln.FieldTimestamp, false}, dfPrice},
	"visit":        {{"visited_on", kiln.FieldDate, false}, dfNotes},
}

// titled entities get a title rather than a name when unknown.
var titled = set("document", "report", "poem", "chapter", "episode", "podcast", "game",
	"assignment", "quiz", "survey", "poll", "milestone", "sprint", "campaign", "listing", "ad",
	"announcement", "newsletter", "idea", "card", "deck", "playlist", "show", "film", "essay")

// commonEntities are nouns that are nearly always things an app stores,
// so a bare plural of one after "have" means owned records: "customers
// have orders".
var commonEntities = func() map[string]bool {
	m := map[string]bool{}
	for k := range defaultFields {
		m[k] = true
	}
	for k := range titled {
		m[k] = true
	}
	for _, k := range []string{"tag", "category", "note"} {
		delete(m, k) // "posts have tags", "tasks have notes" read as fields
	}
	return m
}()

// defaultsFor returns the default fields of an entity named by its key's
// last word (or the whole key).
func defaultsFor(key string, lastWord string) []defaultField {
	if d, ok := defaultFields[key]; ok {
		return d
	}
	if d, ok := defaultFields[lastWord]; ok {
		return d
	}
	if titled[lastWord] {
		return []defaultField{dfTitle}
	}
	return []defaultField{dfName}
}
