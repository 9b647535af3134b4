package render_test

import (
	"testing"

	"github.com/kiln-build/kiln/codegen/render"
)

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, pascal, camel, plural string
	}{
		{"book", "Book", "book", "books"},
		{"customer_id", "CustomerID", "customerID", "customer_ids"},
		{"api_key", "APIKey", "apiKey", "api_keys"},
		{"url", "URL", "url", "urls"},
		{"published_on", "PublishedOn", "publishedOn", "published_ons"},
		{"category", "Category", "category", "categories"},
		{"day", "Day", "day", "days"},
		{"box", "Box", "box", "boxes"},
		{"sales_person", "SalesPerson", "salesPerson", "sales_people"},
		{"type", "Type", "type_", "types"},
		{"string", "String", "string_", "strings"},
		{"x2", "X2", "x2", "x2s"},
	}
	for _, tt := range tests {
		if got := render.Pascal(tt.in); got != tt.pascal {
			t.Errorf("Pascal(%q) = %q, want %q", tt.in, got, tt.pascal)
		}
		if got := render.Camel(tt.in); got != tt.camel {
			t.Errorf("Camel(%q) = %q, want %q", tt.in, got, tt.camel)
		}
		if got := render.Plural(tt.in); got != tt.plural {
			t.Errorf("Plural(%q) = %q, want %q", tt.in, got, tt.plural)
		}
	}
	for in, want := range map[string]string{
		"author": "an author", "book": "a book", "user": "a user", "hour": "an hour",
		"item": "an item", "unit": "a unit", "order line": "an order line",
	} {
		if got := render.Article(in); got != want {
			t.Errorf("Article(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"CustomerID": "customer_id", "customer id": "customer_id", "HTTPServer": "http_server",
		"due-date": "due_date", "already_snake": "already_snake", "Title": "title",
	} {
		if got := render.Snake(in); got != want {
			t.Errorf("Snake(%q) = %q, want %q", in, got, want)
		}
	}
}
