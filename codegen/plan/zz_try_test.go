package plan_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kiln-build/kiln/codegen/plan"
)

func TestTry(t *testing.T) {
	b, _ := os.ReadFile("/tmp/try/inputs.txt")
	for _, d := range strings.Split(strings.TrimSpace(string(b)), "\n===\n") {
		s, err := plan.Rules{}.Plan(context.Background(), d)
		fmt.Printf("### %s\n", strings.ReplaceAll(d, "\n", "⏎"))
		if err != nil { fmt.Println("ERR", err); continue }
		ents, rels := describe(s)
		fmt.Printf("name=%s summary=%q features=%v\n  %s\n  %s\n", s.Name, s.Summary, s.Features, strings.Join(ents, "\n  "), strings.Join(rels, "\n  "))
	}
}
