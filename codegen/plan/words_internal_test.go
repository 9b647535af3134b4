package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInflection(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ one, many string }{
		{"book", "books"}, {"person", "people"}, {"category", "categories"}, {"box", "boxes"},
		{"status", "statuses"}, {"child", "children"}, {"address", "addresses"}, {"class", "classes"},
		{"day", "days"}, {"key", "keys"}, {"match", "matches"}, {"dish", "dishes"}, {"quiz", "quizzes"},
		{"leaf", "leaves"}, {"shelf", "shelves"}, {"life", "lives"}, {"hero", "heroes"}, {"photo", "photos"},
		{"movie", "movies"}, {"cookie", "cookies"}, {"analysis", "analyses"}, {"criterion", "criteria"},
		{"bus", "buses"}, {"campus", "campuses"}, {"house", "houses"}, {"course", "courses"},
		{"expense", "expenses"}, {"cache", "caches"}, {"tax", "taxes"}, {"index", "indexes"},
		{"woman", "women"}, {"mouse", "mice"}, {"archive", "archives"}, {"shoe", "shoes"},
		{"response", "responses"}, {"entry", "entries"}, {"pie", "pies"}, {"gas", "gases"},
	} {
		if got := plural(tt.one); got != tt.many {
			t.Errorf("plural(%q) = %q, want %q", tt.one, got, tt.many)
		}
		if got := singular(tt.many); got != tt.one {
			t.Errorf("singular(%q) = %q, want %q", tt.many, got, tt.one)
		}
		if got := singular(tt.one); got != tt.one {
			t.Errorf("singular(%q) = %q, want it unchanged", tt.one, got)
		}
		if !isPlural(tt.many) || isPlural(tt.one) {
			t.Errorf("isPlural(%q) = %v, isPlural(%q) = %v", tt.many, isPlural(tt.many), tt.one, isPlural(tt.one))
		}
	}
	for _, w := range []string{"news", "series", "species", "sheep", "equipment", "data"} {
		if singular(w) != w || plural(w) != w {
			t.Errorf("%q changed: %q, %q", w, singular(w), plural(w))
		}
	}
}

func TestEntityNames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		words        []string
		name, plural string
	}{
		{[]string{"book"}, "book", "books"},
		{[]string{"line", "item"}, "line_item", "line_items"},
		{[]string{"person"}, "person", "people"},
		{[]string{"news"}, "news", "news_items"},
		{[]string{"func"}, "func_record", "func_records"},
		{[]string{"type"}, "type_record", "type_records"},
		{[]string{"value"}, "value_record", "value_records"}, // "values" is an SQL keyword
		{[]string{"http"}, "http_record", "http_records"},
		{[]string{"order"}, "order", "orders"},
		{[]string{"3d", "printer"}, "printer_3d", "printers_3d"},
		{[]string{"../../etc"}, "etc", "etcs"},
		{[]string{"café"}, "cafe", "cafes"},
		{[]string{"🚀"}, "", ""},
		{[]string{strings.Repeat("ab", 100)}, strings.Repeat("ab", 16), strings.Repeat("ab", 16) + "s"},
	} {
		name, plur := entityNames(tt.words)
		if name != tt.name || plur != tt.plural {
			t.Errorf("entityNames(%q) = %q, %q; want %q, %q", tt.words, name, plur, tt.name, tt.plural)
		}
	}
}

func TestIdent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		words []string
		max   int
		want  string
	}{
		{[]string{"Due", "Date"}, 40, "due_date"},
		{[]string{"due__date_"}, 40, "due_date"},
		{[]string{"naïve", "Größe"}, 40, "naive_grosse"},
		{[]string{"2nd", "address"}, 40, "address_2nd"},
		{[]string{"42"}, 40, ""},
		{[]string{"✨", "sparkle"}, 40, "sparkle"},
		{[]string{"a", "very", "long", "name", "that", "goes", "on"}, 20, "a_very_long_name"},
		{[]string{strings.Repeat("x", 60)}, 40, strings.Repeat("x", 40)},
		{[]string{"../../etc/passwd"}, 40, "etc_passwd"},
	} {
		if got := ident(tt.words, tt.max); got != tt.want {
			t.Errorf("ident(%q, %d) = %q, want %q", tt.words, tt.max, got, tt.want)
		}
	}
}

func TestSafeField(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"title": "title", "type": "kind", "order": "position", "from": "origin", "to": "destination",
		"select": "selection", "where": "place", "func": "function", "desc": "description",
		"when": "happens_at", "end": "ends_at", "returning": "returning_value",
	} {
		if got := safeField(in); got != want {
			t.Errorf("safeField(%q) = %q, want %q", in, got, want)
		}
		if reservedField[safeField(in)] {
			t.Errorf("safeField(%q) = %q is reserved", in, safeField(in))
		}
	}
	// Every rename leads to a name that is not reserved.
	for from, to := range fieldRenames {
		if reservedField[to] {
			t.Errorf("fieldRenames[%q] = %q is reserved", from, to)
		}
	}
}

func TestClauses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"Books have a title. Loans; members!", []string{"books have a title", "loans", "members"}},
		{"books (title. year) and price 9.99", []string{"books ( title year ) and price 9.99"}},
		{"books:\n- title\n- author (required)\n\nloans", []string{"books : title , author ( required )", "loans"}},
		{"entities:\n- book\n  - title\n  - year\n- author\n  - name", []string{"entities :", "book : title , year", "author : name"}},
		{"Books:\ntitle\nauthor\n\nMembers:\nname", []string{"books : title , author", "members : name"}},
		{"1. Books: title\n2) Loans: due date", []string{"books : title", "loans : due date"}},
		{"a book's e-mail, yes/no and date and time", []string{"a book email , yes and datetime"}},
		{"Book - title, author", []string{"book : title , author"}},
		{"(paid?) e.g. this", []string{"( paid yes ) , this"}},
	} {
		var got []string
		for _, c := range clauses(asciiText(abbreviations.Replace(tt.in))) {
			got = append(got, strings.Join(c, " "))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("clauses(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
