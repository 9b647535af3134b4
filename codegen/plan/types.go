package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kiln-build/kiln"
)

// How a HintRule matches a snake_case field name.
const (
	MatchName     = "name"      // the whole name is one of Words
	MatchLastWord = "last word" // the name's last word is one of Words
	MatchHasWord  = "has word"  // one of the name's words is one of Words
	MatchPrefix   = "prefix"    // the name starts with one of Words
	MatchSuffix   = "suffix"    // the name ends with one of Words
)

// HintRule is one way the rules planner picks a field's type from its
// name when the description states no type.
type HintRule struct {
	Type  kiln.FieldType `json:"type"`
	Match string         `json:"match"` // MatchName, MatchLastWord, …
	Words []string       `json:"words"`
	Note  string         `json:"note,omitempty"`
}

// String describes the rule for people, as docs list it:
// "decimal if the last word is price, amount, total, …".
func (r HintRule) String() string {
	how := map[string]string{
		MatchName:     "the name is",
		MatchLastWord: "the last word is",
		MatchHasWord:  "a word is",
		MatchPrefix:   "the name starts with",
		MatchSuffix:   "the name ends with",
	}[r.Match]
	s := fmt.Sprintf("%s if %s %s", r.Type, how, strings.Join(r.Words, ", "))
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// Matches reports whether the rule applies to a snake_case field name.
func (r HintRule) Matches(name string) bool {
	words := strings.Split(name, "_")
	for _, w := range r.Words {
		switch r.Match {
		case MatchName:
			if name == w {
				return true
			}
		case MatchLastWord:
			if words[len(words)-1] == w {
				return true
			}
		case MatchHasWord:
			if slices.Contains(words, w) {
				return true
			}
		case MatchPrefix:
			if strings.HasPrefix(name, w) {
				return true
			}
		case MatchSuffix:
			if strings.HasSuffix(name, w) {
				return true
			}
		}
	}
	return false
}

var hintRules = []HintRule{
	{kiln.FieldString, MatchSuffix, []string{
		"phone", "phone_number", "mobile", "mobile_number", "telephone", "isbn", "zip", "zip_code",
		"postal_code", "postcode", "sku", "serial_number", "tracking_number", "account_number",
		"invoice_number", "reference_number", "passport_number", "license_number", "card_number",
		"order_number", "vat_number", "tax_number", "id_number", "registration_number", "plate_number",
		"license_plate", "code", "currency", "iban",
	}, "identifiers made of digits are text, not numbers"},
	{kiln.FieldEmail, MatchHasWord, []string{"email", "e_mail"}, ""},
	{kiln.FieldURL, MatchHasWord, []string{
		"url", "uri", "link", "website", "homepage", "href", "avatar", "image", "photo", "picture",
		"thumbnail", "logo",
	}, "no file uploads: pictures are links"},
	{kiln.FieldBoolean, MatchPrefix, []string{
		"is_", "has_", "can_", "should_", "allow_", "allows_", "needs_", "was_", "did_", "include_",
	}, ""},
	{kiln.FieldBoolean, MatchSuffix, []string{"_flag", "_enabled"}, ""},
	{kiln.FieldBoolean, MatchName, []string{
		"done", "active", "enabled", "completed", "complete", "archived", "paid", "verified",
		"approved", "visible", "available", "deleted", "flag", "checked", "featured", "public",
		"private", "read", "finished", "confirmed", "cancelled", "canceled", "locked", "pinned",
		"starred", "favorite", "favourite", "in_stock", "returned", "hidden", "draft", "resolved",
		"closed", "subscribed", "attended", "present", "vegan", "vegetarian", "billable",
		"taxable", "urgent", "important", "published", "sold", "shipped", "delivered", "signed",
		"watched", "accepted", "rejected", "blocked", "banned", "admin", "recurring", "refunded",
		"success", "successful", "enabled_flag", "online", "sent", "received", "attending",
	}, ""},
	{kiln.FieldInteger, MatchSuffix, []string{
		"prep_time", "cook_time", "cooking_time", "travel_time", "run_time", "runtime",
		"play_time", "reading_time", "response_time", "wait_time", "preparation_time",
	}, "durations are whole minutes"},
	{kiln.FieldTimestamp, MatchSuffix, []string{"_at", "_on"}, ""},
	{kiln.FieldTimestamp, MatchLastWord, []string{"timestamp", "datetime", "time", "when"}, ""},
	{kiln.FieldTimestamp, MatchName, []string{"created", "updated", "started", "ended", "at"}, ""},
	{kiln.FieldDate, MatchLastWord, []string{
		"date", "birthday", "birthdate", "dob", "deadline", "due", "anniversary", "since",
	}, ""},
	{kiln.FieldDecimal, MatchLastWord, []string{
		"price", "amount", "total", "cost", "costs", "balance", "salary", "fee", "fees", "tax",
		"budget", "subtotal", "discount", "weight", "latitude", "longitude", "lat", "lng", "lon",
		"revenue", "income", "wage", "rate", "percentage", "percent", "value", "height", "width",
		"length", "depth", "distance", "temperature", "mileage", "spend", "spent", "paid_amount",
		"tip", "deposit", "rent", "profit", "expense", "debt", "kg", "km", "miles", "lbs", "paid",
		"liters", "litres", "gallons", "volume",
	}, ""},
	{kiln.FieldInteger, MatchPrefix, []string{"number_of_", "num_", "count_of_", "no_of_"}, ""},
	{kiln.FieldInteger, MatchLastWord, []string{
		"count", "quantity", "qty", "year", "age", "number", "num", "stock", "pages", "rank",
		"ranking", "position", "rating", "score", "stars", "duration", "minutes", "hours",
		"seconds", "days", "weeks", "months", "years", "capacity", "floor", "seats", "votes",
		"likes", "views", "points", "calories", "servings", "population", "version", "attempts",
		"copies", "units", "sets", "reps", "goals", "wins", "losses", "visits", "downloads",
		"followers", "cents", "amount_cents", "grams", "episodes", "chapters", "rooms", "beds",
		"guests", "players", "members_count", "inventory", "credits", "tickets", "items",
		"bedrooms", "bathrooms", "feet", "sqft", "floors", "children", "kids", "size", "odometer",
		"tempo", "bpm",
	}, ""},
	{kiln.FieldText, MatchLastWord, []string{
		"description", "notes", "note", "body", "content", "bio", "biography", "summary",
		"details", "text", "message", "instructions", "abstract", "comment", "comments", "review",
		"story", "excerpt", "ingredients", "steps", "about", "remarks", "feedback", "directions",
		"transcript", "lyrics", "answer", "explanation", "overview", "synopsis", "memo", "address",
	}, "long text: a multi-line input in the UI"},
}

// HintRules returns, in the order they are tried, the rules by which the
// rules planner types a field from its name when the description states no
// type; the first that matches wins and string is the fallback. An explicit
// type in the description ("year (integer)", "price as a decimal", "a done
// flag") wins over every rule; see TypeWords.
func HintRules() []HintRule {
	out := make([]HintRule, len(hintRules))
	for i, r := range hintRules {
		r.Words = slices.Clone(r.Words)
		out[i] = r
	}
	return out
}

// typeFromName applies the hint rules to a snake_case name.
func typeFromName(name string) kiln.FieldType {
	for _, r := range hintRules {
		if r.Matches(name) {
			return r.Type
		}
	}
	return kiln.FieldString
}

// typeWords are words that state a field's type outright.
var typeWords = map[string]kiln.FieldType{
	"string": kiln.FieldString, "str": kiln.FieldString, "varchar": kiln.FieldString,
	"word": kiln.FieldString, "short": kiln.FieldString,
	"text": kiln.FieldText, "paragraph": kiln.FieldText, "markdown": kiln.FieldText,
	"multiline": kiln.FieldText, "textarea": kiln.FieldText, "long": kiln.FieldText,
	"integer": kiln.FieldInteger, "int": kiln.FieldInteger, "whole": kiln.FieldInteger,
	"counter": kiln.FieldInteger,
	"decimal": kiln.FieldDecimal, "float": kiln.FieldDecimal, "double": kiln.FieldDecimal,
	"money": kiln.FieldDecimal, "currency": kiln.FieldDecimal, "real": kiln.FieldDecimal,
	"boolean": kiln.FieldBoolean, "bool": kiln.FieldBoolean, "flag": kiln.FieldBoolean,
	"checkbox": kiln.FieldBoolean, "toggle": kiln.FieldBoolean, "yes": kiln.FieldBoolean,
	"date": kiln.FieldDate, "day": kiln.FieldDate,
	"timestamp": kiln.FieldTimestamp, "datetime": kiln.FieldTimestamp, "time": kiln.FieldTimestamp,
	"email": kiln.FieldEmail,
	"url":   kiln.FieldURL, "link": kiln.FieldURL, "uri": kiln.FieldURL, "website": kiln.FieldURL,
}

// TypeWords returns the words that state a field's type outright when they
// follow its name in parentheses, after "as" or "of type", or after a
// colon: "year (int)", "price as money", "notes: long text". "number" and
// "numeric" mean decimal for names the hint rules make decimal and integer
// otherwise.
func TypeWords() map[string]kiln.FieldType {
	out := make(map[string]kiln.FieldType, len(typeWords))
	for k, v := range typeWords {
		out[k] = v
	}
	return out
}

// booleanTail words at the end of a field phrase mark a boolean and are
// not part of its name: "a done flag" is the boolean "done".
var booleanTail = map[string]bool{
	"flag": true, "boolean": true, "bool": true, "checkbox": true, "toggle": true, "switch": true,
	"yes": true,
}
