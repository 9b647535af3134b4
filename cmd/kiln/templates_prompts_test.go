package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTemplatesShowPrompts(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := kilnRun(t, "", "templates", "show", "go-api", "--prompts")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"==> prompts/plan.tmpl <==", "==> prompts/customize.tmpl <==", "==> prompts/repair.tmpl <==", "==> prompts/fix.tmpl <==", ".EditFormat", "Variables:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	stdout, _, code = kilnRun(t, "", "templates", "show", "go-api", "--prompts", "-o", "json")
	var doc struct {
		Prompts []struct{ Name, Path, Template string } `json:"prompts"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 0 || len(doc.Prompts) != 4 || doc.Prompts[0].Name != "customize" || !strings.HasPrefix(doc.Prompts[0].Template, "{{/*") {
		t.Errorf("-o json: exit %d, %v, %+v", code, err, doc.Prompts)
	}
}
