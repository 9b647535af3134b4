package api_test

import (
	"fmt"
	"net/http"
	"testing"
)

// validBook returns a valid book body whose values vary with n. It
// creates the records a book requires.
func validBook(t *testing.T, h http.Handler, n int) map[string]any {
	t.Helper()
	return map[string]any{
		"title":          fmt.Sprintf("Title %d", n),
		"published_year": n + 1,
		"isbn":           fmt.Sprintf("Isbn %d", n),
		"price":          fmt.Sprintf("%d.25", n),
		"available":      n%2 == 1,
		"author_id":      createAuthor(t, h, seq())["id"],
	}
}

// createBook creates a valid book and returns it as answered.
func createBook(t *testing.T, h http.Handler, n int) map[string]any {
	t.Helper()
	return mustDo(t, h, "POST", "/api/books", validBook(t, h, n), http.StatusCreated)
}

func TestBook_CRUD(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	in := validBook(t, h, 1)
	created := mustDo(t, h, "POST", "/api/books", in, http.StatusCreated)
	assertFields(t, in, created)
	path := recordPath("books", created)
	assertFields(t, created, mustDo(t, h, "GET", path, nil, http.StatusOK))

	list := mustDo(t, h, "GET", "/api/books", nil, http.StatusOK)
	if got := items(t, list); len(got) != 1 || list["total"] != float64(1) {
		t.Fatalf("list = %v, want the one book", list)
	} else {
		assertFields(t, created, got[0])
	}

	upd := validBook(t, h, 2)
	updated := mustDo(t, h, "PUT", path, upd, http.StatusOK)
	assertFields(t, upd, updated)
	if updated["id"] != created["id"] || updated["created_at"] != created["created_at"] {
		t.Errorf("update changed id or created_at: %v then %v", created, updated)
	}
	assertFields(t, upd, mustDo(t, h, "GET", path, nil, http.StatusOK))

	mustDo(t, h, "DELETE", path, nil, http.StatusNoContent)
	status, out := do(t, h, "GET", path, nil)
	assertProblem(t, status, out, http.StatusNotFound)
	status, out = do(t, h, "DELETE", path, nil)
	assertProblem(t, status, out, http.StatusNotFound)
	status, out = do(t, h, "PUT", path, upd)
	assertProblem(t, status, out, http.StatusNotFound)
}

func TestBook_NotFound(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	for _, id := range []string{"999999", "0", "-1", "abc", "1.5"} {
		status, out := do(t, h, "GET", fmt.Sprintf("/api/books/%s", id), nil)
		assertProblem(t, status, out, http.StatusNotFound)
	}
}

func TestBook_List(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	var ids []any
	for range 3 {
		ids = append(ids, createBook(t, h, seq())["id"])
	}
	first := mustDo(t, h, "GET", "/api/books?limit=2", nil, http.StatusOK)
	second := mustDo(t, h, "GET", "/api/books?limit=2&offset=2", nil, http.StatusOK)
	a, b := items(t, first), items(t, second)
	if len(a) != 2 || len(b) != 1 || first["total"] != float64(3) {
		t.Fatalf("pages = %v and %v, want 2 and 1 of 3", first, second)
	}
	if a[0]["id"] != ids[0] || a[1]["id"] != ids[1] || b[0]["id"] != ids[2] {
		t.Errorf("pages are not in id order: %v then %v, want %v", a, b, ids)
	}
	for _, q := range []string{"limit=0", "limit=100000", "limit=x", "offset=-1"} {
		status, out := do(t, h, "GET", "/api/books?"+q, nil)
		assertProblem(t, status, out, http.StatusBadRequest)
	}
}

func TestBook_Invalid(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	t.Run("MalformedJSON", func(t *testing.T) {
		for _, body := range []string{`{"x":`, `[1, 2]`, `null`, ``, `{} {}`} {
			status, out := do(t, h, "POST", "/api/books", body)
			assertProblem(t, status, out, http.StatusBadRequest)
		}
	})
	t.Run("Required", func(t *testing.T) {
		status, out := do(t, h, "POST", "/api/books", map[string]any{})
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "author_id")
	})
	t.Run("BadValues", func(t *testing.T) {
		body := validBook(t, h, seq())
		body["title"] = raw("12")
		body["published_year"] = raw("\"twelve\"")
		body["isbn"] = raw("12")
		body["price"] = raw("\"12.3.4\"")
		body["available"] = raw("\"yes\"")
		status, out := do(t, h, "POST", "/api/books", body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "title", "published_year", "isbn", "price", "available")

		rec := createBook(t, h, seq())
		status, out = do(t, h, "PUT", recordPath("books", rec), body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "title", "published_year", "isbn", "price", "available")
		assertFields(t, rec, mustDo(t, h, "GET", recordPath("books", rec), nil, http.StatusOK))
	})
	t.Run("UnknownField", func(t *testing.T) {
		body := validBook(t, h, seq())
		body["no_such_field"] = 1
		status, out := do(t, h, "POST", "/api/books", body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "no_such_field")
	})
}

func TestBook_UniqueIsbn(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	first := createBook(t, h, seq())
	body := validBook(t, h, seq())
	body["isbn"] = first["isbn"]
	status, out := do(t, h, "POST", "/api/books", body)
	assertProblem(t, status, out, http.StatusConflict, "isbn")

	second := createBook(t, h, seq())
	status, out = do(t, h, "PUT", recordPath("books", second), body)
	assertProblem(t, status, out, http.StatusConflict, "isbn")

	// A record may keep its own value.
	mustDo(t, h, "PUT", recordPath("books", first), body, http.StatusOK)
}

func TestBook_RefAuthorID(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	parent := createAuthor(t, h, seq())
	body := validBook(t, h, seq())
	body["author_id"] = parent["id"]
	child := mustDo(t, h, "POST", "/api/books", body, http.StatusCreated)
	assertFields(t, body, child)

	list := mustDo(t, h, "GET", fmt.Sprintf("/api/books?author_id=%v", parent["id"]), nil, http.StatusOK)
	if got := items(t, list); len(got) != 1 || got[0]["id"] != child["id"] {
		t.Errorf("filtered list = %v, want only %v", list, child["id"])
	}
	list = mustDo(t, h, "GET", "/api/books?author_id=999999", nil, http.StatusOK)
	if got := items(t, list); len(got) != 0 {
		t.Errorf("filter by a missing author = %v, want none", list)
	}
	status, out := do(t, h, "GET", "/api/books?author_id=abc", nil)
	assertProblem(t, status, out, http.StatusBadRequest)

	missing := validBook(t, h, seq())
	missing["author_id"] = 999999
	status, out = do(t, h, "POST", "/api/books", missing)
	assertProblem(t, status, out, http.StatusUnprocessableEntity, "author_id")
	status, out = do(t, h, "PUT", recordPath("books", child), missing)
	assertProblem(t, status, out, http.StatusUnprocessableEntity, "author_id")

	// Required: the author cannot go while the book refers to it.
	status, out = do(t, h, "DELETE", recordPath("authors", parent), nil)
	assertProblem(t, status, out, http.StatusConflict)
	mustDo(t, h, "DELETE", recordPath("books", child), nil, http.StatusNoContent)
	mustDo(t, h, "DELETE", recordPath("authors", parent), nil, http.StatusNoContent)
}
