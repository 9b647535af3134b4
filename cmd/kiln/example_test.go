package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate the example apps under examples/")

// examples lists the example apps: each is examples/NAME/app, generated
// from examples/NAME/DESCRIPTION.txt.
var examples = []string{"library"}

// TestExamplesUpToDate regenerates every example app with the real `kiln
// generate --no-validate` and fails on any difference from the committed
// tree: a changed planner or template set must come with regenerated
// examples (go test ./cmd/kiln -run TestExamplesUpToDate -update).
func TestExamplesUpToDate(t *testing.T) {
	t.Parallel()
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("..", "..", "examples", name)
			desc, err := os.ReadFile(filepath.Join(dir, "DESCRIPTION.txt"))
			if err != nil {
				t.Fatal(err)
			}
			committed := filepath.Join(dir, "app")
			out := filepath.Join(t.TempDir(), "app")
			if *update {
				out = committed
				if err := os.RemoveAll(committed); err != nil {
					t.Fatal(err)
				}
			}
			stdout, stderr, code := kilnRun(t, "", "generate", strings.TrimSpace(string(desc)), "--out", out, "--no-validate")
			if code != 0 {
				t.Fatalf("kiln generate: exit %d\n%s%s", code, stdout, stderr)
			}
			if *update {
				return
			}
			want, got := MustReadTree(t, out), MustReadTree(t, committed)
			var drift []string
			for p, content := range want {
				if c, ok := got[p]; !ok {
					drift = append(drift, p+" (missing)")
				} else if c != content {
					drift = append(drift, p+" (differs)")
				}
			}
			for p := range got {
				if _, ok := want[p]; !ok {
					drift = append(drift, p+" (not generated)")
				}
			}
			if len(drift) > 0 {
				slices.Sort(drift)
				t.Errorf("examples/%s/app is not what kiln generates from its DESCRIPTION.txt:\n  %s\nRegenerate it with: go test ./cmd/kiln -run TestExamplesUpToDate -update",
					name, strings.Join(drift, "\n  "))
			}
		})
	}
}
