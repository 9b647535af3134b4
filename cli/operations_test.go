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

// runnableCommands lists the commands a user runs, except Cobra's own help
// and completion and commands marked local.
func runnableCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		if c.Runnable() && len(c.Commands()) == 0 && c.Annotations[cli.AnnotationLocal] == "" {
			out = append(out, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

// TestEveryOperationHasACommand walks the real API's operations and the
// CLI's commands: every API operation under /v1 needs a command that calls
// it, every command must call at least one operation, and every operation a
// command declares must exist.
func TestEveryOperationHasACommand(t *testing.T) {
	t.Parallel()
	root := &cobra.Command{Use: "kiln"}
	cli.AddCommands(root)
	declared := cli.Operations(root)

	apiOps := map[string]bool{}
	for _, op := range apiOperations(t) {
		apiOps[normalize(op)] = true
	}
	covered := map[string]bool{}
	for path, ops := range declared {
		for _, op := range ops {
			covered[normalize(op)] = true
			assert.True(t, apiOps[normalize(op)], "%s declares %q, which the API does not have", path, op)
		}
	}
	for op := range apiOps {
		_, path, _ := strings.Cut(op, " ")
		if !strings.HasPrefix(path, "/v1/") {
			continue // /healthz, /metrics …: for probes and scrapers, not people
		}
		assert.True(t, covered[op], "API operation %s has no CLI command", op)
	}
	for _, c := range runnableCommands(root) {
		assert.NotEmpty(t, declared[c.CommandPath()], "%s calls no API operation (annotate it with %s)", c.CommandPath(), cli.AnnotationOperations)
		assert.NotEmpty(t, c.Short, "%s has no Short", c.CommandPath())
		assert.NotEmpty(t, c.Long, "%s has no Long", c.CommandPath())
		assert.NotEmpty(t, c.Example, "%s has no Example", c.CommandPath())
	}
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
