package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	tok := MustToken(t, srv, "ada@example.com")

	t.Run("OK", func(t *testing.T) {
		r := do(t, srv, "POST", "/v1/plan", tok, strings.NewReader(`{"description":"a todo app with tasks (title, due date, done)"}`))
		var spec kiln.AppSpec
		if r.status != http.StatusOK || json.Unmarshal(r.body, &spec) != nil {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if spec.Validate() != nil || spec.Entity("task") == nil {
			t.Fatalf("planned %s", r.body)
		}
		// Planning creates nothing.
		list := do(t, srv, "GET", "/v1/apps", tok, nil)
		if !strings.Contains(string(list.body), `"items":[]`) {
			t.Fatalf("apps after planning: %s", list.body)
		}

		// The previewed spec, edited, is what the new app is built from.
		spec.Summary = "My tasks"
		body, _ := json.Marshal(map[string]any{"description": "a todo app with tasks (title, due date, done)", "spec": spec})
		created := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(string(body)))
		var out struct {
			App   kiln.App   `json:"app"`
			Build kiln.Build `json:"build"`
		}
		if created.status != http.StatusCreated || json.Unmarshal(created.body, &out) != nil {
			t.Fatalf("create: %d %s", created.status, created.body)
		}
		if out.Build.Spec == nil || out.Build.Spec.Summary != "My tasks" || out.App.Spec == nil {
			t.Fatalf("created %s", created.body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		r := do(t, srv, "POST", "/v1/plan", tok, strings.NewReader(`{"description":"hello there"}`))
		p := r.problem(t)
		if r.status != http.StatusUnprocessableEntity || p["code"] != "invalid" || !strings.Contains(string(r.body), "body.description") {
			t.Fatalf("%d %s", r.status, r.body)
		}
		bad := `{"description":"x","spec":{"kiln_spec":1,"name":"x","entities":[{"name":"Bad!","plural":"bads","fields":[{"name":"a","type":"string"}]}]}}`
		r = do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(bad))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "body.spec.entities[0].name") {
			t.Fatalf("bad spec: %d %s", r.status, r.body)
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		r := do(t, srv, "POST", "/v1/plan", "", strings.NewReader(`{"description":"a todo app with tasks"}`))
		if r.status != http.StatusUnauthorized {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}
