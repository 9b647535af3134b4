package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

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

func (r *runner) usageCmd() *cobra.Command {
	return r.leaf(command{
		use:   "usage",
		short: "Show your language-model token usage this month",
		long: `Show what your builds and plan previews used of the language model in the
current calendar month (UTC): calls, tokens, the estimated cost, the model, the
server's limits per build and per month, and what is left. On a server without a
model it says so: builds plan offline and use no tokens.`,
		example: `  kiln usage
  kiln usage -o json`,
		ops: []string{"GET /v1/usage"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			u, err := s.Usage(ctx)
			if err != nil {
				return err
			}
			return r.emit(cmd, u, func(w io.Writer) {
				limit := func(n int64) string {
					if n == 0 {
						return "no limit"
					}
					return fmt.Sprintf("%d tokens", n)
				}
				row(w, "Month:", u.Month+" (UTC), resets "+u.ResetsAt.Format("2006-01-02"))
				row(w, "Used:", fmt.Sprintf("%d tokens (%d prompt + %d completion) in %d calls, ~$%.4f",
					u.Usage.TotalTokens, u.Usage.PromptTokens, u.Usage.CompletionTokens, u.Usage.Calls, u.Usage.CostUSD))
				if u.Model == "" {
					row(w, "Model:", "no model configured on this server: builds plan offline and use no tokens")
					return
				}
				row(w, "Model:", cell(u.Model))
				row(w, "Month limit:", limit(u.MonthLimit))
				if u.Remaining != nil {
					row(w, "Left:", fmt.Sprintf("%d tokens", *u.Remaining))
				}
				row(w, "Build limit:", limit(u.BuildLimit))
			})
		},
	})
}
