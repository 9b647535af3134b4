package api_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/kiln-build/kiln/api"
)

var update = flag.Bool("update", false, "rewrite api/openapi.json from the code")

// TestOpenAPIDrift fails when the committed api/openapi.json differs from
// what the code describes; run `go test ./api -run OpenAPI -update` to
// refresh it after changing an operation.
func TestOpenAPIDrift(t *testing.T) {
	got, err := api.New(api.Config{}).OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatalf("read committed spec (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("api/openapi.json is out of date: run `go test ./api -run OpenAPIDrift -update` and commit it")
	}
}
