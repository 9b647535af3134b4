package sqlstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
)

// This file holds what every service shares: who acts, which rows they may
// see, list cursors and the cleaning of text from outside.

// actor returns the user in ctx, or EUnauthorized.
func actor(ctx context.Context) (*kiln.User, error) {
	u := kiln.UserFromContext(ctx)
	if u == nil || u.ID == 0 {
		return nil, kiln.Errorf(kiln.EUnauthorized, "authentication required")
	}
	return u, nil
}

// ownerClause returns a condition limiting rows to those the user may see
// through column col: all for admins, their own for everyone else.
func ownerClause(u *kiln.User, col string) (string, []any) {
	if u.IsAdmin() {
		return "TRUE", nil
	}
	return col + " = ?", []any{u.ID}
}

// listClause returns the condition of a list: the user's own rows, or all
// rows for an admin asking for all. EForbidden when a non-admin asks for all.
func listClause(u *kiln.User, all bool, col string) (string, []any, error) {
	if all {
		if !u.IsAdmin() {
			return "", nil, kiln.Errorf(kiln.EForbidden, "only admins may list everyone's")
		}
		return "TRUE", nil, nil
	}
	return col + " = ?", []any{u.ID}, nil
}

// Cursors are opaque to clients: the base64 of the last row's id. Lists
// run newest first, so the next page holds the ids below it.

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// decodeCursor returns the id a cursor points below, or 0 for the first
// page. EInvalid (field "cursor") for anything this package did not write.
func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	bad := kiln.FieldErrorf("cursor", "is not a cursor this server returned")
	if len(c) > 32 {
		return 0, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, bad
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}

// pageClause returns the cursor condition on column col and the LIMIT to
// ask for: one more row than the page holds, to learn whether another page
// follows.
func pageClause(p kiln.Page, col string) (cond string, args []any, limit int, err error) {
	after, err := decodeCursor(p.Cursor)
	if err != nil {
		return "", nil, 0, err
	}
	limit = p.NormLimit()
	if after == 0 {
		return "TRUE", nil, limit + 1, nil
	}
	return col + " < ?", []any{after}, limit + 1, nil
}

// trimPage cuts a list fetched with pageClause's limit to the page and
// returns the cursor of the next page, "" when there is none.
func trimPage[T any](items []T, p kiln.Page, id func(T) int64) ([]T, string) {
	limit := p.NormLimit()
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(id(items[limit-1]))
}

// cleanText makes text from outside (process output, error messages)
// storable on both dialects: valid UTF-8 without NUL bytes (PostgreSQL
// refuses both), at most max bytes with a note when cut.
func cleanText(s string, limit int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	if len(s) <= limit {
		return s
	}
	note := fmt.Sprintf(" … [cut: %d bytes in all]", len(s))
	cut := limit - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + note
}

// checkInputText checks a user-typed field: valid UTF-8, no control
// characters other than newlines and tabs (when multiline), at most max
// characters. It returns an EInvalid naming path.
func checkInputText(path, s string, maxChars int, multiline bool) error {
	if !utf8.ValidString(s) {
		return kiln.FieldErrorf(path, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > maxChars {
		return kiln.FieldErrorf(path, "is longer than %d characters (%d)", maxChars, n)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return kiln.FieldErrorf(path, "must not contain control characters")
		}
	}
	return nil
}

// deriveName makes a short lowercase-hyphen app name from a description:
// its first few words of letters and digits, "app" when there are none.
func deriveName(desc string) string {
	const maxWords, maxLen = 5, 40
	var words []string
	size := 0
	for _, f := range strings.FieldsFunc(strings.ToLower(desc), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if len(words) == 0 && len(f) > maxLen {
			f = f[:maxLen]
		}
		if size+len(f) > maxLen {
			break
		}
		words = append(words, f)
		size += len(f) + 1
		if len(words) == maxWords {
			break
		}
	}
	if len(words) == 0 {
		return "app"
	}
	return strings.Join(words, "-")
}
