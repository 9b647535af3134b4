package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
)

// TestSetSpec checks that PUT /v1/apps/{id}/spec parses with
// kiln.ParseSpec: strict, with errors naming the path.
func TestSetSpec(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	tok := MustToken(t, srv, "ada@example.com")
	r := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(`{"description": "books with a title"}`))
	var created struct{ App kiln.App }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &created) != nil {
		t.Fatalf("create app: %d %s", r.status, r.body)
	}
	path := "/v1/apps/" + strconv.FormatInt(created.App.ID, 10) + "/spec"
	valid := `{"kiln_spec": 1, "name": "shelf", "entities": [{"name": "book", "plural": "books", "fields": [{"name": "title", "type": "string"}]}]}`

	t.Run("OK", func(t *testing.T) {
		r := do(t, srv, "PUT", path, tok, strings.NewReader(valid))
		var app kiln.App
		if r.status != http.StatusOK || json.Unmarshal(r.body, &app) != nil || app.Spec == nil || app.Spec.Name != "shelf" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r = do(t, srv, "GET", path, tok, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"name":"shelf"`) {
			t.Fatalf("GET after PUT: %d %s", r.status, r.body)
		}
	})
	tests := map[string]struct {
		body     string
		status   int
		code     string
		location string
	}{
		"UnknownField":   {strings.Replace(valid, `"type": "string"`, `"type": "string", "colour": "red"`, 1), 422, "invalid", "body.entities[0].fields[0].colour"},
		"UnknownTopKey":  {strings.Replace(valid, `"kiln_spec": 1,`, `"kiln_spec": 1, "extra": true,`, 1), 422, "invalid", "body.extra"},
		"WrongType":      {strings.Replace(valid, `"name": "shelf"`, `"name": 5`, 1), 422, "invalid", "body.name"},
		"UnknownFieldTy": {strings.Replace(valid, `"type": "string"`, `"type": "blob"`, 1), 422, "invalid", "body.entities[0].fields[0].type"},
		"NotJSON":        {`{"kiln_spec": 1,`, 422, "invalid", ""},
		"TooLarge":       {`{"summary": "` + strings.Repeat("a", kiln.MaxSpecBytes) + `"}`, 413, "too_large", ""},
	}
	for name, tt := range tests {
		t.Run("Err"+name, func(t *testing.T) {
			r := do(t, srv, "PUT", path, tok, strings.NewReader(tt.body))
			p := r.problem(t)
			if r.status != tt.status || p["code"] != tt.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tt.status, tt.code)
			}
			if tt.location != "" && !strings.Contains(string(r.body), `"location":"`+tt.location+`"`) {
				t.Errorf("problem does not name %s: %s", tt.location, r.body)
			}
		})
	}
	t.Run("ErrEmpty", func(t *testing.T) {
		if r := do(t, srv, "PUT", path, tok, nil); r.status != http.StatusBadRequest {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("ErrNotYours", func(t *testing.T) {
		bob := MustToken(t, srv, "bob@example.com")
		if r := do(t, srv, "PUT", path, bob, strings.NewReader(valid)); r.status != http.StatusNotFound {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}
