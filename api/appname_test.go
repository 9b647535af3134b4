package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
)

// TestNewAppName: an app created without a name is called what its build
// calls it (the planned spec's name), or after the given spec; a name the
// user gives wins; a description the planner cannot plan still gets one.
func TestNewAppName(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	tok := MustToken(t, srv, "u@example.com")
	spec := `{"kiln_spec":1,"name":"shelf","entities":[{"name":"book","plural":"books","fields":[{"name":"title","type":"string","required":true}]}]}`
	for _, tc := range []struct{ body, want string }{
		{`{"description": "a library API with books (title, author, year) and loans"}`, "library"},
		{`{"description": "a library API with books (title, author, year) and loans", "name": "my-books"}`, "my-books"},
		{`{"description": "books", "spec": ` + spec + `}`, "shelf"},
		{`{"description": "hello there"}`, "hello-there"},
	} {
		r := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(tc.body))
		var created struct{ App *kiln.App }
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &created) != nil || created.App == nil {
			t.Fatalf("create %s: %d %s", tc.body, r.status, r.body)
		}
		if created.App.Name != tc.want {
			t.Errorf("create %s: name %q, want %q", tc.body, created.App.Name, tc.want)
		}
	}
}
