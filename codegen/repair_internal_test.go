package codegen

import (
	"fmt"
	"strings"
	"testing"
)

func TestSignature(t *testing.T) {
	t.Parallel()
	a := "# example.com/chores/internal/api\nvet: internal/api/chore_rules.go:4:23: cannot use \"10\" (untyped string constant) as int value\n"
	b := "# example.com/chores/internal/api\nvet: internal/api/chore_rules.go:7:23: cannot use \"10\" (untyped string constant) as int value\n\n"
	c := "# example.com/chores/internal/api\nvet: internal/api/chore_rules.go:4:23: undefined: maxPoint\n"
	if signature("vet", a) != signature("vet", b) {
		t.Error("the same error on another line must have the same signature")
	}
	if signature("vet", a) == signature("vet", c) {
		t.Error("another error must have another signature")
	}
	if signature("vet", a) == signature("build", a) {
		t.Error("the check is part of the signature")
	}
	t1 := "--- FAIL: TestChore (0.01s)\n    chore_api_test.go:40: status 500\nFAIL\tchores/internal/api\t0.123s\n"
	t2 := "--- FAIL: TestChore (0.03s)\n    chore_api_test.go:41: status 500\nFAIL\tchores/internal/api\t1.5s\n"
	if signature("test", t1) != signature("test", t2) {
		t.Error("timings must not change the signature")
	}
}

func TestTrimOutput(t *testing.T) {
	t.Parallel()
	out := "=== RUN   TestBook\nok  \tchores/internal/store\t0.01s\n?   \tchores\t[no test files]\n--- FAIL: TestChore (0.01s)\n    chore_api_test.go:40: status 500\nFAIL\n"
	got := trimOutput("test", out)
	if got != "--- FAIL: TestChore (0.01s)\n    chore_api_test.go:40: status 500\nFAIL" {
		t.Errorf("trimOutput = %q", got)
	}
	long := strings.Repeat("x", 20000)
	got = trimOutput("vet", long)
	if len(got) > maxFailureOutput+100 || !strings.Contains(got, "bytes cut") {
		t.Errorf("long output: %d bytes", len(got))
	}
}

func TestHeadTail(t *testing.T) {
	t.Parallel()
	var h headTail
	for i := range 20000 {
		fmt.Fprintf(&h, "line %d\n", i)
	}
	s := h.String()
	if !strings.HasPrefix(s, "line 0\n") || !strings.HasSuffix(s, "line 19999\n") || !strings.Contains(s, "bytes cut") || len(s) > keepHead+keepTail+100 {
		t.Errorf("headTail kept %d bytes: %q…", len(s), s[:50])
	}
}
