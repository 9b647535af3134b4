package api_test

import (
	"fmt"
	"net/http"
	"testing"
)

// validAuthor returns a valid author body whose values vary with n. It
// creates the records an author requires.
func validAuthor(t *testing.T, h http.Handler, n int) map[string]any {
	t.Helper()
	return map[string]any{
		"name":  fmt.Sprintf("Name %d", n),
		"email": fmt.Sprintf("user%d@example.com", n),
		"bio":   fmt.Sprintf("Bio %d: line one\nline two <b>&</b>", n),
	}
}

// createAuthor creates a valid author and returns it as answered.
func createAuthor(t *testing.T, h http.Handler, n int) map[string]any {
	t.Helper()
	return mustDo(t, h, "POST", "/api/authors", validAuthor(t, h, n), http.StatusCreated)
}

func TestAuthor_CRUD(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	in := validAuthor(t, h, 1)
	created := mustDo(t, h, "POST", "/api/authors", in, http.StatusCreated)
	assertFields(t, in, created)
	path := recordPath("authors", created)
	assertFields(t, created, mustDo(t, h, "GET", path, nil, http.StatusOK))

	list := mustDo(t, h, "GET", "/api/authors", nil, http.StatusOK)
	if got := items(t, list); len(got) != 1 || list["total"] != float64(1) {
		t.Fatalf("list = %v, want the one author", list)
	} else {
		assertFields(t, created, got[0])
	}

	upd := validAuthor(t, h, 2)
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

func TestAuthor_NotFound(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	for _, id := range []string{"999999", "0", "-1", "abc", "1.5"} {
		status, out := do(t, h, "GET", fmt.Sprintf("/api/authors/%s", id), nil)
		assertProblem(t, status, out, http.StatusNotFound)
	}
}

func TestAuthor_List(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	var ids []any
	for range 3 {
		ids = append(ids, createAuthor(t, h, seq())["id"])
	}
	first := mustDo(t, h, "GET", "/api/authors?limit=2", nil, http.StatusOK)
	second := mustDo(t, h, "GET", "/api/authors?limit=2&offset=2", nil, http.StatusOK)
	a, b := items(t, first), items(t, second)
	if len(a) != 2 || len(b) != 1 || first["total"] != float64(3) {
		t.Fatalf("pages = %v and %v, want 2 and 1 of 3", first, second)
	}
	if a[0]["id"] != ids[0] || a[1]["id"] != ids[1] || b[0]["id"] != ids[2] {
		t.Errorf("pages are not in id order: %v then %v, want %v", a, b, ids)
	}
	for _, q := range []string{"limit=0", "limit=100000", "limit=x", "offset=-1"} {
		status, out := do(t, h, "GET", "/api/authors?"+q, nil)
		assertProblem(t, status, out, http.StatusBadRequest)
	}
}

func TestAuthor_Invalid(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	t.Run("MalformedJSON", func(t *testing.T) {
		for _, body := range []string{`{"x":`, `[1, 2]`, `null`, ``, `{} {}`} {
			status, out := do(t, h, "POST", "/api/authors", body)
			assertProblem(t, status, out, http.StatusBadRequest)
		}
	})
	t.Run("BadValues", func(t *testing.T) {
		body := validAuthor(t, h, seq())
		body["name"] = raw("12")
		body["email"] = raw("\"not an email\"")
		body["bio"] = raw("12")
		status, out := do(t, h, "POST", "/api/authors", body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "name", "email", "bio")

		rec := createAuthor(t, h, seq())
		status, out = do(t, h, "PUT", recordPath("authors", rec), body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "name", "email", "bio")
		assertFields(t, rec, mustDo(t, h, "GET", recordPath("authors", rec), nil, http.StatusOK))
	})
	t.Run("UnknownField", func(t *testing.T) {
		body := validAuthor(t, h, seq())
		body["no_such_field"] = 1
		status, out := do(t, h, "POST", "/api/authors", body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "no_such_field")
	})
}
