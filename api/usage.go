package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

// buildUsage returns a build's language-model usage, or nil when the
// server records none. A build that made no calls (as FindBuildWithSteps
// found) shows zero usage without another query.
func (s *Server) buildUsage(ctx context.Context, b *kiln.Build) (*kiln.BuildUsage, error) {
	if s.cfg.Usage == nil {
		return nil, nil
	}
	if !b.UsedLLM {
		return &kiln.BuildUsage{Steps: []kiln.StepUsage{}}, nil
	}
	return s.cfg.Usage.FindBuildUsage(ctx, b.ID)
}

// LLMLimits are the model and the token budgets GET /v1/usage reports
// (llm.model, llm.max_tokens_*); a limit of 0 means none. Without a Model
// the server uses no tokens and the limits are not reported.
type LLMLimits struct {
	Model        string
	Build, Month int64
}

type monthUsageOutput struct{ Body *kiln.MonthUsage }

func (s *Server) registerUsage() {
	o := op("get-usage", http.MethodGet, "/v1/usage", "Your language-model usage this month", "auth", true)
	o.Description = "What your builds and plan previews used of the language model in the current calendar month (UTC): " +
		"calls, tokens, estimated cost, the model, the limits and what is left. Builds and previews stop with a clear reason once the month's budget is spent. " +
		"On a server without a model, model is empty and no limits are reported."
	huma.Register(s.api, o, func(ctx context.Context, _ *struct{}) (*monthUsageOutput, error) {
		if _, err := requireUser(ctx); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		if s.cfg.Usage == nil {
			return nil, s.err.problem(ctx, kiln.Errorf(kiln.EUnavailable, "this server records no language-model usage"))
		}
		since := kiln.MonthStart(time.Now())
		u, err := s.cfg.Usage.SumUsage(ctx, since)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		out := &kiln.MonthUsage{
			Month: since.Format("2006-01"), Since: since, ResetsAt: since.AddDate(0, 1, 0), Usage: u,
			Model: s.cfg.LLMLimits.Model,
		}
		if out.Model != "" {
			out.MonthLimit, out.BuildLimit = s.cfg.LLMLimits.Month, s.cfg.LLMLimits.Build
		}
		if out.MonthLimit > 0 {
			left := max(out.MonthLimit-u.TotalTokens, 0)
			out.Remaining = &left
		}
		return &monthUsageOutput{Body: out}, nil
	})
}
