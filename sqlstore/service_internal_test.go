package sqlstore

import (
	"strings"
	"testing"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
)

func TestDeriveName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ desc, want string }{
		{"A todo list for my team", "a-todo-list-for-my"},
		{"  Bücher & Filme: a catalog!  ", "b-cher-filme-a-catalog"},
		{"???", "app"},
		{"", "app"},
		{strings.Repeat("x", 100), strings.Repeat("x", 40)},
		{"inventory " + strings.Repeat("y", 40), "inventory"},
	} {
		got := deriveName(tc.desc)
		if got != tc.want {
			t.Errorf("deriveName(%q) = %q, want %q", tc.desc, got, tc.want)
		}
		if len(got) > kiln.MaxAppNameLen {
			t.Errorf("deriveName(%q) is too long", tc.desc)
		}
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"plain", 100, "plain"},
		{"a\x00b", 100, "a\uFFFDb"},
		{"a\xffb", 100, "a\uFFFDb"},
	} {
		if got := cleanText(tc.in, tc.limit); got != tc.want {
			t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := strings.Repeat("日本", 100) // 3-byte runes
	got := cleanText(long, 100)
	if len(got) > 100 || !utf8.ValidString(got) || !strings.Contains(got, "cut: 600 bytes") {
		t.Errorf("cleanText(long) = %q (%d bytes)", got, len(got))
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	id, err := decodeCursor(encodeCursor(12345))
	if err != nil || id != 12345 {
		t.Fatalf("round trip: %d, %v", id, err)
	}
	for _, c := range []string{"!!", "LTE", encodeCursor(0), strings.Repeat("A", 100), "YWJj"} {
		if _, err := decodeCursor(c); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Errorf("decodeCursor(%q) = %v, want EInvalid", c, err)
		}
	}
}

func TestRebind(t *testing.T) {
	t.Parallel()
	pg, lite := &DB{dialect: DialectPostgres}, &DB{dialect: DialectSQLite}
	q := "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
	if got, want := pg.rebind(q), "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"; got != want {
		t.Errorf("rebind = %q, want %q", got, want)
	}
	if got := lite.rebind(q); got != q {
		t.Errorf("sqlite rebind changed the query: %q", got)
	}
}
