package kiln_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kiln-build/kiln"
)

// MustValidSpec returns a spec that passes Validate: books belong to
// authors, loans to books.
func MustValidSpec(tb testing.TB) *kiln.AppSpec {
	tb.Helper()
	s := &kiln.AppSpec{
		KilnSpec: kiln.SpecVersion,
		Name:     "library",
		Summary:  "A library API with books and loans.",
		Entities: []kiln.Entity{
			{Name: "author", Plural: "authors", Fields: []kiln.Field{
				{Name: "name", Type: kiln.FieldString, Required: true},
				{Name: "email", Type: kiln.FieldEmail, Unique: true, Default: "someone@example.com"},
			}},
			{Name: "book", Plural: "books", Fields: []kiln.Field{
				{Name: "title", Type: kiln.FieldString, Required: true},
				{Name: "year", Type: kiln.FieldInteger, Default: 2024.0},
				{Name: "price", Type: kiln.FieldDecimal, Default: 9.5},
				{Name: "available", Type: kiln.FieldBoolean, Default: true},
				{Name: "published_on", Type: kiln.FieldDate, Default: "2024-02-29"},
				{Name: "website", Type: kiln.FieldURL, Default: "https://example.com/book"},
				{Name: "blurb", Type: kiln.FieldText, Default: "line one\nline two"},
				{Name: "added_at", Type: kiln.FieldTimestamp, Default: "2024-01-02T03:04:05Z"},
			}},
			{Name: "loan", Plural: "loans", Fields: []kiln.Field{
				{Name: "due_date", Type: kiln.FieldDate},
			}},
		},
		Relations: []kiln.Relation{
			{From: "book", To: "author", Kind: kiln.RelationBelongsTo, Field: "author_id", Required: true},
			{From: "loan", To: "book", Kind: kiln.RelationBelongsTo, Field: "book_id"},
		},
		Features: []string{kiln.FeatureUI, kiln.FeatureSearch},
	}
	if err := s.Validate(); err != nil {
		tb.Fatalf("MustValidSpec: %v", err)
	}
	return s
}

// fieldErrors returns the EInvalid field errors of err, failing otherwise.
func fieldErrors(tb testing.TB, err error) []kiln.FieldError {
	tb.Helper()
	var e *kiln.Error
	if !errors.As(err, &e) || e.Code != kiln.EInvalid {
		tb.Fatalf("error = %v, want an EInvalid *kiln.Error", err)
	}
	if len(e.Fields) == 0 {
		tb.Fatalf("error %v names no field", err)
	}
	return e.Fields
}

func TestAppSpec_Validate(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		s := MustValidSpec(t)
		// Defaults of every numeric Go type a caller might use.
		for _, v := range []any{int(3), int64(-4), uint8(5), float32(6), json.Number("7")} {
			s.Entities[1].Fields[1].Default = v
			if err := s.Validate(); err != nil {
				t.Errorf("integer default %T(%v): %v", v, v, err)
			}
		}
	})

	long := strings.Repeat("a", kiln.MaxIdentLen+1)
	tests := []struct {
		name   string
		edit   func(s *kiln.AppSpec)
		path   string
		substr string
	}{
		{"Version", func(s *kiln.AppSpec) { s.KilnSpec = 2 }, "kiln_spec", "must be 1"},
		{"NameEmpty", func(s *kiln.AppSpec) { s.Name = "" }, "name", "is required"},
		{"NameCase", func(s *kiln.AppSpec) { s.Name = "Library" }, "name", "snake_case"},
		{"NameTooLong", func(s *kiln.AppSpec) { s.Name = long }, "name", "longer than 48"},
		{"NameDoubleUnderscore", func(s *kiln.AppSpec) { s.Name = "my__app" }, "name", "snake_case"},
		{"NameTrailingUnderscore", func(s *kiln.AppSpec) { s.Name = "app_" }, "name", "snake_case"},
		{"NamePath", func(s *kiln.AppSpec) { s.Name = "../../etc" }, "name", "snake_case"},
		{"SummaryTooLong", func(s *kiln.AppSpec) { s.Summary = strings.Repeat("é", kiln.MaxSummaryLen+1) }, "summary", "longer than 500"},
		{"SummaryControl", func(s *kiln.AppSpec) { s.Summary = "two\nlines" }, "summary", "control"},
		{"SummaryUTF8", func(s *kiln.AppSpec) { s.Summary = "bad \xff byte" }, "summary", "UTF-8"},
		{"NoEntities", func(s *kiln.AppSpec) { s.Entities = nil }, "entities", "at least one"},
		{"TooManyEntities", func(s *kiln.AppSpec) {
			for i := range kiln.MaxEntities {
				s.Entities = append(s.Entities, kiln.Entity{Name: fmt.Sprintf("e%d", i), Plural: fmt.Sprintf("e%ds", i), Fields: []kiln.Field{{Name: "name", Type: kiln.FieldString}}})
			}
		}, "entities", "at most 50"},
		{"EntityNameGoKeyword", func(s *kiln.AppSpec) { s.Entities[2].Name = "func" }, "entities[2].name", "reserved"},
		{"EntityNamePredeclared", func(s *kiln.AppSpec) { s.Entities[2].Name = "string" }, "entities[2].name", "reserved"},
		{"EntityNamePackage", func(s *kiln.AppSpec) { s.Entities[2].Name = "http" }, "entities[2].name", "reserved"},
		{"EntityPluralSQL", func(s *kiln.AppSpec) { s.Entities[2].Plural = "select" }, "entities[2].plural", "reserved"},
		{"EntityPluralEmpty", func(s *kiln.AppSpec) { s.Entities[2].Plural = "" }, "entities[2].plural", "is required"},
		{"EntityPluralSameAsName", func(s *kiln.AppSpec) { s.Entities[2].Plural = "loan" }, "entities[2].plural", "must differ"},
		{"EntityDuplicate", func(s *kiln.AppSpec) { s.Entities[2].Name, s.Entities[2].Plural = "book", "bookz" }, "entities[2].name", "clashes with entities[1].name"},
		{"EntityNameIsOtherPlural", func(s *kiln.AppSpec) { s.Entities[2].Name = "books" }, "entities[2].name", "clashes with entities[1].plural"},
		{"EntityUnderscoreClash", func(s *kiln.AppSpec) { s.Entities[2].Name, s.Entities[2].Plural = "bo_ok", "bo_oks" }, "entities[2].name", "clashes"},
		{"EntityNoFields", func(s *kiln.AppSpec) { s.Entities[2].Fields = nil }, "entities[2].fields", "at least one"},
		{"EntityTooManyFields", func(s *kiln.AppSpec) {
			for i := range kiln.MaxFields {
				s.Entities[2].Fields = append(s.Entities[2].Fields, kiln.Field{Name: fmt.Sprintf("f%d", i), Type: kiln.FieldString})
			}
		}, "entities[2].fields", "at most 100"},
		{"FieldNameEmpty", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Name = "" }, "entities[1].fields[0].name", "is required"},
		{"FieldNameEmoji", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Name = "title🔥" }, "entities[1].fields[0].name", "snake_case"},
		{"FieldNameID", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Name = "id" }, "entities[1].fields[0].name", "reserved"},
		{"FieldNameCreatedAt", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Name = "created_at" }, "entities[1].fields[0].name", "reserved"},
		{"FieldNameUpdatedAtSquashed", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Name = "updatedat" }, "entities[1].fields[0].name", "built-in column updated_at"},
		{"FieldNameSQL", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Name = "order" }, "entities[1].fields[0].name", "reserved"},
		{"FieldNameGo", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Name = "type" }, "entities[1].fields[0].name", "reserved"},
		{"FieldDuplicate", func(s *kiln.AppSpec) { s.Entities[1].Fields[1].Name = "title" }, "entities[1].fields[1].name", "clashes with field title"},
		{"FieldUnderscoreClash", func(s *kiln.AppSpec) { s.Entities[1].Fields[1].Name = "ti_tle" }, "entities[1].fields[1].name", "clashes with field title"},
		{"FieldType", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Type = "varchar" }, "entities[1].fields[0].type", "must be one of string, text"},
		{"DefaultBoolean", func(s *kiln.AppSpec) { s.Entities[1].Fields[3].Default = "yes" }, "entities[1].fields[3].default", "true or false"},
		{"DefaultIntegerString", func(s *kiln.AppSpec) { s.Entities[1].Fields[1].Default = "2024" }, "entities[1].fields[1].default", "must be a number"},
		{"DefaultIntegerFraction", func(s *kiln.AppSpec) { s.Entities[1].Fields[1].Default = 1.5 }, "entities[1].fields[1].default", "whole number"},
		{"DefaultIntegerHuge", func(s *kiln.AppSpec) { s.Entities[1].Fields[1].Default = float64(1 << 60) }, "entities[1].fields[1].default", "whole number"},
		{"DefaultDecimalNaN", func(s *kiln.AppSpec) { s.Entities[1].Fields[2].Default = math.NaN() }, "entities[1].fields[2].default", "finite"},
		{"DefaultDecimalInf", func(s *kiln.AppSpec) { s.Entities[1].Fields[2].Default = math.Inf(1) }, "entities[1].fields[2].default", "finite"},
		{"DefaultDecimalBool", func(s *kiln.AppSpec) { s.Entities[1].Fields[2].Default = true }, "entities[1].fields[2].default", "must be a number"},
		{"DefaultDate", func(s *kiln.AppSpec) { s.Entities[1].Fields[4].Default = "2024-02-30" }, "entities[1].fields[4].default", "date like"},
		{"DefaultURL", func(s *kiln.AppSpec) { s.Entities[1].Fields[5].Default = "javascript:alert(1)" }, "entities[1].fields[5].default", "http or https"},
		{"DefaultEmail", func(s *kiln.AppSpec) { s.Entities[0].Fields[1].Default = "Bob <bob@example.com>" }, "entities[0].fields[1].default", "email address"},
		{"DefaultTimestamp", func(s *kiln.AppSpec) { s.Entities[1].Fields[7].Default = "yesterday" }, "entities[1].fields[7].default", "RFC 3339"},
		{"DefaultStringObject", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Default = map[string]any{} }, "entities[1].fields[0].default", "must be a string"},
		{"DefaultStringControl", func(s *kiln.AppSpec) { s.Entities[1].Fields[0].Default = "a\x00b" }, "entities[1].fields[0].default", "control"},
		{"DefaultTooLong", func(s *kiln.AppSpec) { s.Entities[1].Fields[6].Default = strings.Repeat("x", kiln.MaxDefaultLen+1) }, "entities[1].fields[6].default", "longer than 250"},
		{"RelationFrom", func(s *kiln.AppSpec) { s.Relations[0].From = "shelf" }, "relations[0].from", "names no entity"},
		{"RelationTo", func(s *kiln.AppSpec) { s.Relations[0].To = "publisher" }, "relations[0].to", "names no entity"},
		{"RelationKind", func(s *kiln.AppSpec) { s.Relations[0].Kind = "has_many" }, "relations[0].kind", "belongs_to"},
		{"RelationFieldEmpty", func(s *kiln.AppSpec) { s.Relations[0].Field = "" }, "relations[0].field", "is required"},
		{"RelationFieldReserved", func(s *kiln.AppSpec) { s.Relations[0].Field = "id" }, "relations[0].field", "reserved"},
		{"RelationFieldClashesWithField", func(s *kiln.AppSpec) { s.Relations[0].Field = "title" }, "relations[0].field", "clashes with entities[1].fields[0]"},
		{"RelationDuplicate", func(s *kiln.AppSpec) { s.Relations = append(s.Relations, s.Relations[0]) }, "relations[2].field", "duplicates the foreign key of relations[0]"},
		{"RelationRequiredSelfCycle", func(s *kiln.AppSpec) {
			s.Relations = append(s.Relations, kiln.Relation{From: "author", To: "author", Kind: kiln.RelationBelongsTo, Field: "mentor_id", Required: true})
		}, "relations", "cycle (author → author)"},
		{"RelationRequiredCycle", func(s *kiln.AppSpec) {
			s.Relations = append(s.Relations, kiln.Relation{From: "author", To: "book", Kind: kiln.RelationBelongsTo, Field: "favourite_id", Required: true})
		}, "relations", "cycle"},
		{"TooManyRelations", func(s *kiln.AppSpec) {
			for i := range kiln.MaxRelations {
				s.Relations = append(s.Relations, kiln.Relation{From: "loan", To: "author", Kind: kiln.RelationBelongsTo, Field: fmt.Sprintf("a%d_id", i)})
			}
		}, "relations", "at most 200"},
		{"FeatureUnknown", func(s *kiln.AppSpec) { s.Features = []string{"blockchain"} }, "features[0]", "must be one of analytics, search, ui"},
		{"FeatureDuplicate", func(s *kiln.AppSpec) { s.Features = []string{"ui", "ui"} }, "features[1]", "duplicates"},
	}
	for _, tt := range tests {
		t.Run("Err"+tt.name, func(t *testing.T) {
			t.Parallel()
			s := MustValidSpec(t)
			tt.edit(s)
			errs := fieldErrors(t, s.Validate())
			for _, fe := range errs {
				if fe.Path == tt.path && strings.Contains(fe.Message, tt.substr) {
					return
				}
			}
			t.Errorf("no error at %s containing %q; got %+v", tt.path, tt.substr, errs)
		})
	}

	t.Run("ErrMessageNamesFirstPath", func(t *testing.T) {
		t.Parallel()
		s := MustValidSpec(t)
		s.Entities[2].Fields[0].Name = "Due Date"
		err := s.Validate()
		if got := kiln.ErrorMessage(err); !strings.HasPrefix(got, "invalid app spec: entities[2].fields[0].name: ") {
			t.Errorf("message = %q", got)
		}
	})

	t.Run("ErrHostileSizeIsBounded", func(t *testing.T) {
		t.Parallel()
		// A million broken entities: Validate stays quick and reports at
		// most MaxSpecErrors problems.
		s := &kiln.AppSpec{KilnSpec: 1, Name: "x", Entities: make([]kiln.Entity, 1_000_000)}
		errs := fieldErrors(t, s.Validate())
		if len(errs) > kiln.MaxSpecErrors {
			t.Errorf("%d errors, want at most %d", len(errs), kiln.MaxSpecErrors)
		}
	})

	t.Run("ErrLongValueIsCutInMessage", func(t *testing.T) {
		t.Parallel()
		s := MustValidSpec(t)
		s.Relations[0].From = strings.Repeat("x", 100_000)
		for _, fe := range fieldErrors(t, s.Validate()) {
			if len(fe.Message) > 200 {
				t.Errorf("%s: message of %d bytes", fe.Path, len(fe.Message))
			}
		}
	})
}

func TestReservedNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		list []string
		in   []string
		out  []string
	}{
		{kiln.ReservedEntityNames(), []string{"func", "type", "string", "error", "http", "id"}, []string{"order", "user", "group", "book"}},
		{kiln.ReservedPluralNames(), []string{"func", "select", "order", "user", "values", "http"}, []string{"orders", "users", "groups"}},
		{kiln.ReservedFieldNames(), []string{"id", "created_at", "updated_at", "type", "order", "from", "to", "select", "error"}, []string{"title", "name", "url", "time", "date"}},
	} {
		for _, w := range tt.in {
			if !contains(tt.list, w) {
				t.Errorf("%q is not reserved", w)
			}
		}
		for _, w := range tt.out {
			if contains(tt.list, w) {
				t.Errorf("%q is reserved", w)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestValidIdentifier(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"book": true, "due_date": true, "x1": true, "item_2": true,
		"": false, "Book": false, "_book": false, "book_": false, "a__b": false,
		"1book": false, "book-loan": false, "bók": false, strings.Repeat("a", 49): false,
	} {
		if got := kiln.ValidIdentifier(s); got != want {
			t.Errorf("ValidIdentifier(%q) = %v, want %v", s, got, want)
		}
	}
}
