package codegen

import (
	"context"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/llm"
	"github.com/kiln-build/kiln/templates"
)

// LLM configures the pipeline's language-model side. With Config.LLM nil
// the pipeline runs offline.
type LLM struct {
	// Model names the model, for the report.
	Model string
	// Usage stores every call; nil keeps usage in memory (kiln generate).
	Usage kiln.UsageStore
	// BuildTokens and MonthTokens are the token budgets of one build and
	// of one user per calendar month; 0 means no limit.
	BuildTokens int64
	MonthTokens int64
	// Assistant customizes and repairs the app; nil does neither.
	Assistant Assistant
	// Customize runs the customize step after rendering.
	Customize bool
	// RepairAttempts bounds the repairs after failed checks (0: none).
	RepairAttempts int
}

// SetPlanner is a Planner whose prompts come from the build's template set,
// so a set loaded from a folder can override them.
type SetPlanner interface {
	PlanWithSet(ctx context.Context, set *templates.Set, description string) (*kiln.AppSpec, error)
}

// withBudget returns ctx carrying the build's token budget, which every
// model call checks and records to, and the budget (nil when offline).
func (p *Pipeline) withBudget(ctx context.Context, b *kiln.Build, rec kiln.Recorder) (context.Context, *llm.Budget) {
	if p.cfg.LLM == nil {
		return ctx, nil
	}
	if b.NoCache {
		ctx = llm.WithoutCache(ctx)
	}
	budget := &llm.Budget{
		BuildID: b.ID, OwnerID: b.OwnerID,
		BuildLimit: p.cfg.LLM.BuildTokens, MonthLimit: p.cfg.LLM.MonthTokens,
		Store: p.cfg.LLM.Usage, Logf: rec.Logf,
	}
	return llm.WithMeter(ctx, budget), budget
}

// plan runs the planner, giving it the template set when it wants one.
func (p *Pipeline) plan(ctx context.Context, set *templates.Set, description string) (*kiln.AppSpec, error) {
	ctx = llm.WithStep(ctx, "plan")
	if sp, ok := p.cfg.Planner.(SetPlanner); ok {
		return sp.PlanWithSet(ctx, set, description)
	}
	return p.cfg.Planner.Plan(ctx, description)
}
