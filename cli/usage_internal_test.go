package cli

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/kiln-build/kiln"
)

func TestWriteUsage(t *testing.T) {
	var b bytes.Buffer
	writeUsage(&b, nil)
	writeUsage(&b, &kiln.BuildUsage{})
	if b.Len() != 0 {
		t.Fatalf("no calls, no output; got %q", b.String())
	}
	writeUsage(&b, &kiln.BuildUsage{
		Total: kiln.TokenUsage{Calls: 3, PromptTokens: 6000, CompletionTokens: 1000, TotalTokens: 7000, CostUSD: 0.025},
		Steps: []kiln.StepUsage{
			{Step: "plan", Model: "gpt-4o", Calls: 1, TotalTokens: 1500, CostUSD: 0.005},
			{Step: "repair 1", Model: "gpt-4o", Calls: 2, TotalTokens: 5500, CostUSD: 0.02},
		},
	})
	out := b.String()
	for _, re := range []string{
		`(?m)^LLM tokens:\t7000 \(6000 prompt \+ 1000 completion\) in 3 calls, ~\$0\.0250$`,
		`(?m)^plan\tgpt-4o\t1\t1500\t~\$0\.0050$`,
		`(?m)^repair 1\tgpt-4o\t2\t5500\t~\$0\.0200$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
}
