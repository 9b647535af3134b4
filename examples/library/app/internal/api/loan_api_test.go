package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// validLoan returns a valid loan body whose values vary with n. It
// creates the records a loan requires.
func validLoan(t *testing.T, h http.Handler, n int) map[string]any {
	t.Helper()
	return map[string]any{
		"due_date":  time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n).Format(time.DateOnly),
		"returned":  n%2 == 1,
		"book_id":   createBook(t, h, seq())["id"],
		"member_id": createMember(t, h, seq())["id"],
	}
}

// createLoan creates a valid loan and returns it as answered.
func createLoan(t *testing.T, h http.Handler, n int) map[string]any {
	t.Helper()
	return mustDo(t, h, "POST", "/api/loans", validLoan(t, h, n), http.StatusCreated)
}

func TestLoan_CRUD(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	in := validLoan(t, h, 1)
	created := mustDo(t, h, "POST", "/api/loans", in, http.StatusCreated)
	assertFields(t, in, created)
	path := recordPath("loans", created)
	assertFields(t, created, mustDo(t, h, "GET", path, nil, http.StatusOK))

	list := mustDo(t, h, "GET", "/api/loans", nil, http.StatusOK)
	if got := items(t, list); len(got) != 1 || list["total"] != float64(1) {
		t.Fatalf("list = %v, want the one loan", list)
	} else {
		assertFields(t, created, got[0])
	}

	upd := validLoan(t, h, 2)
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

func TestLoan_NotFound(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	for _, id := range []string{"999999", "0", "-1", "abc", "1.5"} {
		status, out := do(t, h, "GET", fmt.Sprintf("/api/loans/%s", id), nil)
		assertProblem(t, status, out, http.StatusNotFound)
	}
}

func TestLoan_List(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	var ids []any
	for range 3 {
		ids = append(ids, createLoan(t, h, seq())["id"])
	}
	first := mustDo(t, h, "GET", "/api/loans?limit=2", nil, http.StatusOK)
	second := mustDo(t, h, "GET", "/api/loans?limit=2&offset=2", nil, http.StatusOK)
	a, b := items(t, first), items(t, second)
	if len(a) != 2 || len(b) != 1 || first["total"] != float64(3) {
		t.Fatalf("pages = %v and %v, want 2 and 1 of 3", first, second)
	}
	if a[0]["id"] != ids[0] || a[1]["id"] != ids[1] || b[0]["id"] != ids[2] {
		t.Errorf("pages are not in id order: %v then %v, want %v", a, b, ids)
	}
	for _, q := range []string{"limit=0", "limit=100000", "limit=x", "offset=-1"} {
		status, out := do(t, h, "GET", "/api/loans?"+q, nil)
		assertProblem(t, status, out, http.StatusBadRequest)
	}
}

func TestLoan_Invalid(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	t.Run("MalformedJSON", func(t *testing.T) {
		for _, body := range []string{`{"x":`, `[1, 2]`, `null`, ``, `{} {}`} {
			status, out := do(t, h, "POST", "/api/loans", body)
			assertProblem(t, status, out, http.StatusBadRequest)
		}
	})
	t.Run("Required", func(t *testing.T) {
		status, out := do(t, h, "POST", "/api/loans", map[string]any{})
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "book_id", "member_id")
	})
	t.Run("BadValues", func(t *testing.T) {
		body := validLoan(t, h, seq())
		body["due_date"] = raw("\"2026-02-30\"")
		body["returned"] = raw("\"yes\"")
		status, out := do(t, h, "POST", "/api/loans", body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "due_date", "returned")

		rec := createLoan(t, h, seq())
		status, out = do(t, h, "PUT", recordPath("loans", rec), body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "due_date", "returned")
		assertFields(t, rec, mustDo(t, h, "GET", recordPath("loans", rec), nil, http.StatusOK))
	})
	t.Run("UnknownField", func(t *testing.T) {
		body := validLoan(t, h, seq())
		body["no_such_field"] = 1
		status, out := do(t, h, "POST", "/api/loans", body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "no_such_field")
	})
}

func TestLoan_RefBookID(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	parent := createBook(t, h, seq())
	body := validLoan(t, h, seq())
	body["book_id"] = parent["id"]
	child := mustDo(t, h, "POST", "/api/loans", body, http.StatusCreated)
	assertFields(t, body, child)

	list := mustDo(t, h, "GET", fmt.Sprintf("/api/loans?book_id=%v", parent["id"]), nil, http.StatusOK)
	if got := items(t, list); len(got) != 1 || got[0]["id"] != child["id"] {
		t.Errorf("filtered list = %v, want only %v", list, child["id"])
	}
	list = mustDo(t, h, "GET", "/api/loans?book_id=999999", nil, http.StatusOK)
	if got := items(t, list); len(got) != 0 {
		t.Errorf("filter by a missing book = %v, want none", list)
	}
	status, out := do(t, h, "GET", "/api/loans?book_id=abc", nil)
	assertProblem(t, status, out, http.StatusBadRequest)

	missing := validLoan(t, h, seq())
	missing["book_id"] = 999999
	status, out = do(t, h, "POST", "/api/loans", missing)
	assertProblem(t, status, out, http.StatusUnprocessableEntity, "book_id")
	status, out = do(t, h, "PUT", recordPath("loans", child), missing)
	assertProblem(t, status, out, http.StatusUnprocessableEntity, "book_id")

	// Required: the book cannot go while the loan refers to it.
	status, out = do(t, h, "DELETE", recordPath("books", parent), nil)
	assertProblem(t, status, out, http.StatusConflict)
	mustDo(t, h, "DELETE", recordPath("loans", child), nil, http.StatusNoContent)
	mustDo(t, h, "DELETE", recordPath("books", parent), nil, http.StatusNoContent)
}

func TestLoan_RefMemberID(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	parent := createMember(t, h, seq())
	body := validLoan(t, h, seq())
	body["member_id"] = parent["id"]
	child := mustDo(t, h, "POST", "/api/loans", body, http.StatusCreated)
	assertFields(t, body, child)

	list := mustDo(t, h, "GET", fmt.Sprintf("/api/loans?member_id=%v", parent["id"]), nil, http.StatusOK)
	if got := items(t, list); len(got) != 1 || got[0]["id"] != child["id"] {
		t.Errorf("filtered list = %v, want only %v", list, child["id"])
	}
	list = mustDo(t, h, "GET", "/api/loans?member_id=999999", nil, http.StatusOK)
	if got := items(t, list); len(got) != 0 {
		t.Errorf("filter by a missing member = %v, want none", list)
	}
	status, out := do(t, h, "GET", "/api/loans?member_id=abc", nil)
	assertProblem(t, status, out, http.StatusBadRequest)

	missing := validLoan(t, h, seq())
	missing["member_id"] = 999999
	status, out = do(t, h, "POST", "/api/loans", missing)
	assertProblem(t, status, out, http.StatusUnprocessableEntity, "member_id")
	status, out = do(t, h, "PUT", recordPath("loans", child), missing)
	assertProblem(t, status, out, http.StatusUnprocessableEntity, "member_id")

	// Required: the member cannot go while the loan refers to it.
	status, out = do(t, h, "DELETE", recordPath("members", parent), nil)
	assertProblem(t, status, out, http.StatusConflict)
	mustDo(t, h, "DELETE", recordPath("loans", child), nil, http.StatusNoContent)
	mustDo(t, h, "DELETE", recordPath("members", parent), nil, http.StatusNoContent)
}
