package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/cli"
)

// TestCLICoversAPI walks the committed OpenAPI document and fails when an
// operation has no command in the real kiln root command, or a command
// calls no operation.
func TestCLICoversAPI(t *testing.T) {
	raw, err := os.ReadFile("../../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, methods := range doc.Paths {
		for m := range methods {
			ops = append(ops, strings.ToUpper(m)+" "+path)
		}
	}
	if len(ops) < 20 {
		t.Fatalf("only %d operations read from openapi.json", len(ops))
	}
	for _, p := range cli.CoverageProblems(newRootCmd(), ops) {
		t.Error(p)
	}
}
