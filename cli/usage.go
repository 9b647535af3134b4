package cli

import (
	"fmt"
	"io"

	"github.com/kiln-build/kiln"
)

// writeUsage adds a build's language-model usage to `builds get`: the
// total, then one row per step and model. Nothing when the build made no
// model calls.
func writeUsage(w io.Writer, u *kiln.BuildUsage) {
	if u == nil || u.Total.Calls == 0 {
		return
	}
	row(w)
	row(w, "LLM tokens:", fmt.Sprintf("%d (%d prompt + %d completion) in %d calls, ~$%.4f",
		u.Total.TotalTokens, u.Total.PromptTokens, u.Total.CompletionTokens, u.Total.Calls, u.Total.CostUSD))
	row(w)
	row(w, "LLM STEP", "MODEL", "CALLS", "TOKENS", "COST")
	for _, s := range u.Steps {
		row(w, cell(s.Step), cell(s.Model), s.Calls, s.TotalTokens, fmt.Sprintf("~$%.4f", s.CostUSD))
	}
}
