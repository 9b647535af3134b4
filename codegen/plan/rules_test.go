package plan_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/plan"
)

func TestRules_Plan_Deterministic(t *testing.T) {
	t.Parallel()
	for _, tt := range planCases {
		first, err := json.Marshal(MustPlan(t, tt.desc))
		if err != nil {
			t.Fatal(err)
		}
		// The same input, again and concurrently, gives the same bytes.
		var wg sync.WaitGroup
		out := make([][]byte, 4)
		for i := range out {
			wg.Go(func() {
				s, err := plan.Rules{}.Plan(context.Background(), tt.desc)
				if err != nil {
					t.Error(err)
					return
				}
				out[i], _ = json.Marshal(s)
			})
		}
		wg.Wait()
		for _, b := range out {
			if string(b) != string(first) {
				t.Fatalf("%q planned differently:\n%s\n%s", tt.desc, first, b)
			}
		}
	}
}

func TestRules_Plan_Errors(t *testing.T) {
	t.Parallel()
	for name, desc := range map[string]string{
		"Empty":         "",
		"Blank":         " \n\t ",
		"Greeting":      "hello",
		"OnlyApp":       "an app",
		"VagueApp":      "a simple cool app that is fast",
		"FieldsOnly":    "Fields: title, year",
		"Path":          "../../etc/passwd",
		"Emoji":         "🚀🔥✨",
		"NonLatin":      "図書館のアプリ",
		"Pronouns":      "make it fast and pretty",
		"Punctuation":   "!!! ??? ... ,,, ::: ((()))",
		"TooLong":       strings.Repeat("books have a title. ", plan.MaxDescriptionLen/20+1),
		"ControlChars":  "\x00\x01\x02\x1b[31m",
		"InvalidUTF8":   "\xff\xfe\xfd",
		"OnlyNumbers":   "1 2 3 (4, 5)",
		"OnlyStopWords": "the and of with for",
		"SQL":           "select * from users; drop table books",
		"Script":        "<script>alert(1)</script>",
		"Prose":         "The quick brown fox jumps over the lazy dog.",
		"Vague":         "I want to build something cool that makes money",
	} {
		t.Run("Err"+name, func(t *testing.T) {
			t.Parallel()
			s, err := plan.Rules{}.Plan(context.Background(), desc)
			if err == nil {
				t.Fatalf("planned %+v", s)
			}
			var e *kiln.Error
			if !errors.As(err, &e) || e.Code != kiln.EInvalid {
				t.Fatalf("error = %v, want EInvalid", err)
			}
			if len(e.Fields) != 1 || e.Fields[0].Path != "description" {
				t.Errorf("fields = %+v, want one about description", e.Fields)
			}
			if !strings.Contains(e.Message, plan.Example) {
				t.Errorf("message %q shows no working phrasing", e.Message)
			}
		})
	}

	t.Run("ErrCanceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := (plan.Rules{}).Plan(ctx, planCases[0].desc); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})
}

// TestRules_Plan_SafeNames plans hostile or odd wording and checks that
// every name in the spec is a safe identifier.
func TestRules_Plan_SafeNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200)
	tests := []struct {
		desc string
		want []string // names that must appear (entity or field names)
	}{
		{"an app with ../../etc/passwd files (../../name, /etc/shadow)", []string{"passwd_file", "name", "shadow"}},
		{"selects (from, to, where, order) and funcs (type, range, default)", []string{"select_record", "origin", "destination", "place", "position", "func_record", "kind", "value_range", "default_value"}},
		{"types have a name; maps have a title; errors have a message; strings have a value", []string{"map_record", "error_record", "string_record"}},
		{"users (id, created at, updated_at, name)", []string{"user", "name"}},
		{"an app with 🦄 unicorns (🌈 colour, sparkle ✨ count)", []string{"unicorn", "colour", "sparkle_count"}},
		{"a café with crêpes (naïve name, prix €, Größe) and smörgåsbords", []string{"cafe", "crepe", "naive_name", "prix", "grosse", "smorgasbords"}},
		{"an app with " + long + "s (" + long + ", title)", []string{"title"}},
		{"an app with 3d printers (3d file url, 2nd name)", []string{"printer_3d", "printers_3d", "file_3d_url", "name_2nd"}},
		{"books (title, Title, TITLE, ti-tle, title!)", []string{"title"}},
		{"Tasks: status, status, statuses, Status", []string{"task", "status", "statuses"}},
		{"news (headline, body) and sheep (name)", []string{"news", "sheep"}},
		{"people (name) and persons (email)", []string{"person"}},
		{"book loans (date) and bookloans (note)", []string{"book_loan", "book_loans", "bookloan_2", "bookloans_2"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc[:min(len(tt.desc), 30)], func(t *testing.T) {
			t.Parallel()
			s := MustPlan(t, tt.desc)
			names := map[string]bool{s.Name: true}
			check := func(what, n string) {
				names[n] = true
				if !kiln.ValidIdentifier(n) {
					t.Errorf("%s %q is not a valid identifier", what, n)
				}
			}
			for _, e := range s.Entities {
				check("entity", e.Name)
				check("plural", e.Plural)
				for _, f := range e.Fields {
					check("field", f.Name)
				}
			}
			for _, r := range s.Relations {
				check("relation field", r.Field)
			}
			for _, w := range tt.want {
				if !names[w] {
					ents, _ := describe(s)
					t.Errorf("no name %q in %v", w, ents)
				}
			}
		})
	}
}

func TestRules_Plan_Summary(t *testing.T) {
	t.Parallel()
	for desc, want := range map[string]string{
		"a library API with books (title, author, year) and loans": "A library API with books (title, author, year) and loans.",
		"I want a recipe manager. Recipes have a title.":           "A recipe manager.",
		"Please build me an expense tracker!\nExpenses: amount":    "An expense tracker!",
		"  **Todo** app 🚀 with tasks\n- title":                     "Todo app with tasks.",
		"books , authors":                                           "Books, authors.",
		"Entities:\n- books\n- authors":                             "An app to manage books and authors.",
		strings.Repeat("books and authors ", 100):                   "",
		"Users have an email (unique) and an is_admin flag":         "Users have an email (unique) and an is_admin flag.",
		"track expenses: amount, category, note, spent on":          "Track expenses: amount, category, note, spent on.",
		"Hi! We need an API to manage boxes, categories, statuses.": "An app to manage boxes, categories and statuses.",
	} {
		s := MustPlan(t, desc)
		if want == "" {
			if n := utf8.RuneCountInString(s.Summary); n > kiln.MaxSummaryLen || !strings.HasSuffix(s.Summary, "…") {
				t.Errorf("long summary: %d characters, %q", n, s.Summary)
			}
			continue
		}
		if s.Summary != want {
			t.Errorf("summary of %q = %q, want %q", desc, s.Summary, want)
		}
	}
}

func TestRules_Plan_Features(t *testing.T) {
	t.Parallel()
	for desc, want := range map[string][]string{
		"a todo app with tasks":                             {"ui"},
		"a wiki with pages and full text search":            {"search", "ui"},
		"a habit tracker with habits, analytics and search": {"analytics", "search", "ui"},
	} {
		s := MustPlan(t, desc)
		if strings.Join(s.Features, ",") != strings.Join(want, ",") {
			t.Errorf("features of %q = %v, want %v", desc, s.Features, want)
		}
		for _, e := range s.Entities {
			if e.Name == "search" || e.Name == "analytic" {
				t.Errorf("%q: feature %q became an entity", desc, e.Name)
			}
		}
	}
}

func TestRules_Plan_Limits(t *testing.T) {
	t.Parallel()
	// 60 entities with 120 fields each: the spec keeps to kiln's limits.
	var b strings.Builder
	for i := range 60 {
		b.WriteString("\n- widget")
		b.WriteString(strings.Repeat("x", i+1))
		b.WriteString("s (")
		for j := range 120 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("f")
			b.WriteString(strings.Repeat("y", j+1)[:1+j%30])
			b.WriteString(string(rune('a' + j%26)))
			b.WriteString(string(rune('a' + j/26)))
		}
		b.WriteString(")")
	}
	if b.Len() > plan.MaxDescriptionLen {
		t.Skipf("description of %d bytes is over the limit", b.Len())
	}
	s := MustPlan(t, b.String())
	if len(s.Entities) > kiln.MaxEntities {
		t.Errorf("%d entities", len(s.Entities))
	}
}

func TestHintRules(t *testing.T) {
	t.Parallel()
	rules := plan.HintRules()
	if len(rules) == 0 {
		t.Fatal("no rules")
	}
	for i, r := range rules {
		if len(r.Words) == 0 || r.Match == "" {
			t.Errorf("rule %d is empty: %+v", i, r)
		}
		valid := false
		for _, ft := range kiln.FieldTypes {
			valid = valid || ft == r.Type
		}
		if !valid {
			t.Errorf("rule %d has type %q", i, r.Type)
		}
	}
	if got := rules[0].String(); !strings.HasPrefix(got, "string if the name ends with phone, ") {
		t.Errorf("rules[0].String() = %q", got)
	}
	// Changing the copy does not change the planner.
	rules[0].Words[0] = "title"
	if s := MustPlan(t, "books (title)"); s.Entities[0].Fields[0].Type != kiln.FieldString {
		t.Error("HintRules returned the planner's own slice")
	}
	for typ, words := range map[kiln.FieldType][]string{
		kiln.FieldDecimal:   {"price", "amount", "total", "cost", "unit price", "latitude"},
		kiln.FieldInteger:   {"count", "quantity", "year", "age", "number", "stock count", "number of pages", "prep time", "duration in minutes"},
		kiln.FieldBoolean:   {"done", "active", "is published", "has children", "done flag", "paid?", "archived"},
		kiln.FieldDate:      {"due date", "birthday", "published date", "deadline", "member since"},
		kiln.FieldTimestamp: {"last seen at", "starts at", "spent on", "when", "start time", "last login at"},
		kiln.FieldEmail:     {"email", "email address", "contact email"},
		kiln.FieldURL:       {"url", "website", "link", "avatar", "image url", "homepage"},
		kiln.FieldText:      {"description", "notes", "body", "content", "bio", "summary"},
		kiln.FieldString:    {"title", "name", "phone number", "isbn", "zip code", "color", "category"},
	} {
		for _, w := range words {
			s := MustPlan(t, "widgets ("+w+")")
			if got := s.Entities[0].Fields[0]; got.Type != typ {
				t.Errorf("%q: %s is %s, want %s", w, got.Name, got.Type, typ)
			}
		}
	}
	// An explicit type wins over the name.
	for desc, typ := range map[string]kiln.FieldType{
		"widgets (price as text)":       kiln.FieldText,
		"widgets (title: integer)":      kiln.FieldInteger,
		"widgets (code (number))":       kiln.FieldInteger,
		"widgets (weight (number))":     kiln.FieldDecimal,
		"widgets (notes as short text)": kiln.FieldString,
		"widgets (amount (int))":        kiln.FieldInteger,
		"widgets (when as date)":        kiln.FieldDate,
		"widgets (a long summary)":      kiln.FieldText,
		"widgets (a shipped checkbox)":  kiln.FieldBoolean,
	} {
		if got := MustPlan(t, desc).Entities[0].Fields[0].Type; got != typ {
			t.Errorf("%q: type %s, want %s", desc, got, typ)
		}
	}
	if len(plan.TypeWords()) == 0 {
		t.Error("no type words")
	}
}

// FuzzPlan checks that Plan never panics and returns either an EInvalid
// error or a spec that validates.
func FuzzPlan(f *testing.F) {
	for _, tt := range planCases {
		f.Add(tt.desc)
	}
	f.Add("")
	f.Add("((((((((((((((((books")
	f.Add("for each for each per per: : : belongs to belongs to")
	f.Add("a app with with with (,,,) and and and")
	f.Add("types (type type type), maps (map map), id (id id)")
	f.Add("books have many books; books belong to books")
	f.Add("a belongs to b. b belongs to c. c belongs to a")
	f.Fuzz(func(t *testing.T, desc string) {
		s, err := plan.Rules{}.Plan(context.Background(), desc)
		if err != nil {
			if kiln.ErrorCode(err) != kiln.EInvalid {
				t.Fatalf("error %v is not EInvalid", err)
			}
			if strings.Contains(err.Error(), "could not be planned into a valid app spec") {
				t.Fatalf("planner produced an invalid spec: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("spec fails Validate: %v", err)
		}
	})
}

// benchDescription describes a three-entity app.
const benchDescription = "A library API with books (title, author, isbn (unique), published on, price) and members (name, email). Loans have a due date and a returned flag; each loan belongs to a book and a member."

// BenchmarkPlan plans a three-entity app.
func BenchmarkPlan(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := (plan.Rules{}).Plan(ctx, benchDescription); err != nil {
			b.Fatal(err)
		}
	}
}
