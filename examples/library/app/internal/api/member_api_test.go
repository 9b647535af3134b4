package api_test

import (
	"fmt"
	"net/http"
	"testing"
)

// validMember returns a valid member body whose values vary with n. It
// creates the records a member requires.
func validMember(t *testing.T, h http.Handler, n int) map[string]any {
	t.Helper()
	return map[string]any{
		"name":  fmt.Sprintf("Name %d", n),
		"email": fmt.Sprintf("user%d@example.com", n),
	}
}

// createMember creates a valid member and returns it as answered.
func createMember(t *testing.T, h http.Handler, n int) map[string]any {
	t.Helper()
	return mustDo(t, h, "POST", "/api/members", validMember(t, h, n), http.StatusCreated)
}

func TestMember_CRUD(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	in := validMember(t, h, 1)
	created := mustDo(t, h, "POST", "/api/members", in, http.StatusCreated)
	assertFields(t, in, created)
	path := recordPath("members", created)
	assertFields(t, created, mustDo(t, h, "GET", path, nil, http.StatusOK))

	list := mustDo(t, h, "GET", "/api/members", nil, http.StatusOK)
	if got := items(t, list); len(got) != 1 || list["total"] != float64(1) {
		t.Fatalf("list = %v, want the one member", list)
	} else {
		assertFields(t, created, got[0])
	}

	upd := validMember(t, h, 2)
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

func TestMember_NotFound(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	for _, id := range []string{"999999", "0", "-1", "abc", "1.5"} {
		status, out := do(t, h, "GET", fmt.Sprintf("/api/members/%s", id), nil)
		assertProblem(t, status, out, http.StatusNotFound)
	}
}

func TestMember_List(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	var ids []any
	for range 3 {
		ids = append(ids, createMember(t, h, seq())["id"])
	}
	first := mustDo(t, h, "GET", "/api/members?limit=2", nil, http.StatusOK)
	second := mustDo(t, h, "GET", "/api/members?limit=2&offset=2", nil, http.StatusOK)
	a, b := items(t, first), items(t, second)
	if len(a) != 2 || len(b) != 1 || first["total"] != float64(3) {
		t.Fatalf("pages = %v and %v, want 2 and 1 of 3", first, second)
	}
	if a[0]["id"] != ids[0] || a[1]["id"] != ids[1] || b[0]["id"] != ids[2] {
		t.Errorf("pages are not in id order: %v then %v, want %v", a, b, ids)
	}
	for _, q := range []string{"limit=0", "limit=100000", "limit=x", "offset=-1"} {
		status, out := do(t, h, "GET", "/api/members?"+q, nil)
		assertProblem(t, status, out, http.StatusBadRequest)
	}
}

func TestMember_Invalid(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	t.Run("MalformedJSON", func(t *testing.T) {
		for _, body := range []string{`{"x":`, `[1, 2]`, `null`, ``, `{} {}`} {
			status, out := do(t, h, "POST", "/api/members", body)
			assertProblem(t, status, out, http.StatusBadRequest)
		}
	})
	t.Run("BadValues", func(t *testing.T) {
		body := validMember(t, h, seq())
		body["name"] = raw("12")
		body["email"] = raw("\"not an email\"")
		status, out := do(t, h, "POST", "/api/members", body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "name", "email")

		rec := createMember(t, h, seq())
		status, out = do(t, h, "PUT", recordPath("members", rec), body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "name", "email")
		assertFields(t, rec, mustDo(t, h, "GET", recordPath("members", rec), nil, http.StatusOK))
	})
	t.Run("UnknownField", func(t *testing.T) {
		body := validMember(t, h, seq())
		body["no_such_field"] = 1
		status, out := do(t, h, "POST", "/api/members", body)
		assertProblem(t, status, out, http.StatusUnprocessableEntity, "no_such_field")
	})
}
