package cli_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/cli"
	"github.com/kiln-build/kiln/client/clienttest"
)

// apiOperations returns the operations of the real API's OpenAPI document
// as "METHOD /path".
func apiOperations(t *testing.T) []string {
	t.Helper()
	doc, err := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).OpenAPI()
	require.NoError(t, err)
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(doc, &spec))
	var ops []string
	for path, item := range spec.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(ops)
	require.NotEmpty(t, ops)
	return ops
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

// normalize makes path parameter names irrelevant: {id} and {appID} match.
func normalize(op string) string { return paramRE.ReplaceAllString(op, "{}") }

// TestEveryOperationHasACommand walks the real API's operations and the
// CLI's commands: every API operation under /v1 needs a command that calls
// it, every command must call at least one operation, and every operation a
// command declares must exist.
func TestEveryOperationHasACommand(t *testing.T) {
	t.Parallel()
	root := &cobra.Command{Use: "kiln"}
	cli.AddCommands(root)
	assert.Empty(t, cli.CoverageProblems(root, apiOperations(t)))

	var leaves int
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.HasSubCommands() {
			leaves++
			assert.NotEmpty(t, c.Short, "%s has no Short", c.CommandPath())
			assert.NotEmpty(t, c.Long, "%s has no Long", c.CommandPath())
			assert.NotEmpty(t, c.Example, "%s has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	assert.Greater(t, leaves, 25)
}

func TestCoverageProblems(t *testing.T) {
	t.Parallel()
	root := &cobra.Command{Use: "kiln"}
	root.AddCommand(
		&cobra.Command{Use: "serve", Run: func(*cobra.Command, []string) {}, Annotations: map[string]string{cli.AnnotationLocal: "true"}},
		&cobra.Command{Use: "ping", Run: func(*cobra.Command, []string) {}},
		&cobra.Command{Use: "get", Run: func(*cobra.Command, []string) {}, Annotations: map[string]string{cli.AnnotationOperations: "GET /v1/things/{thingID},GET /v1/gone"}},
	)
	assert.ElementsMatch(t, []string{
		"kiln get declares GET /v1/gone, which the API does not have",
		"API operation POST /v1/things has no CLI command",
		"kiln ping calls no API operation (annotate it with kiln.operations, or kiln.local if it is local)",
	}, cli.CoverageProblems(root, []string{"GET /v1/things/{id}", "POST /v1/things", "GET /healthz"}))
}

// TestFakeServesTheRealAPI keeps the fake server the CLI tests run against
// in step with the real API's operations.
func TestFakeServesTheRealAPI(t *testing.T) {
	t.Parallel()
	var real, fake []string
	for _, op := range apiOperations(t) {
		if _, path, _ := strings.Cut(op, " "); strings.HasPrefix(path, "/v1/") {
			real = append(real, normalize(op))
		}
	}
	for _, op := range clienttest.Operations {
		fake = append(fake, normalize(op))
	}
	sort.Strings(real)
	sort.Strings(fake)
	assert.Equal(t, slices.Compact(real), slices.Compact(fake))
}
