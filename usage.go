package kiln

import (
	"context"
	"time"
)

// LLMCall is one call a build made to a language model, stored so token
// budgets can be enforced and the usage shown on the build.
type LLMCall struct {
	ID               int64
	BuildID          int64
	OwnerID          int64
	Step             string // the build step that made the call: plan, customize, repair 1 …
	Model            string
	PromptTokens     int64
	CompletionTokens int64
	CostUSD          float64 // estimated from the configured price table
	CreatedAt        time.Time
}

// TokenUsage sums language-model calls.
type TokenUsage struct {
	Calls            int     `json:"calls"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	TotalTokens      int64   `json:"total_tokens"`
	CostUSD          float64 `json:"estimated_cost_usd" doc:"Estimated from the server's price table (llm.prices); 0 when the model's price is unknown."`
}

// StepUsage is the usage of one build step with one model.
type StepUsage struct {
	Step             string  `json:"step"`
	Model            string  `json:"model"`
	Calls            int     `json:"calls"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	TotalTokens      int64   `json:"total_tokens"`
	CostUSD          float64 `json:"estimated_cost_usd"`
}

// BuildUsage is a build's language-model usage: the total and each step's.
type BuildUsage struct {
	Total TokenUsage  `json:"total"`
	Steps []StepUsage `json:"steps"`
}

// MonthStart returns the first instant of t's calendar month in UTC: when
// the monthly token budget started.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// MonthUsage is what the user's builds and plan previews used of the
// language model in the current calendar month (UTC), with the limits.
// Model is "" when the server has no model: then nothing uses tokens and
// no limits are reported.
type MonthUsage struct {
	Month      string     `json:"month" doc:"The calendar month, UTC (YYYY-MM)." example:"2026-11"`
	Since      time.Time  `json:"since" doc:"First instant of the month."`
	ResetsAt   time.Time  `json:"resets_at" doc:"When the monthly budget starts again."`
	Model      string     `json:"model" doc:"The language model this server's builds use (llm.model); empty when none is configured: builds then plan offline with the rules planner and use no tokens, and the limits are reported as 0 with no remaining_tokens." example:"gpt-4o"`
	Usage      TokenUsage `json:"usage"`
	MonthLimit int64      `json:"month_limit_tokens" doc:"Tokens one user may use per month (llm.max_tokens_per_user_month); 0: no limit, or no model."`
	BuildLimit int64      `json:"build_limit_tokens" doc:"Tokens one build may use (llm.max_tokens_per_build); 0: no limit, or no model."`
	Remaining  *int64     `json:"remaining_tokens,omitempty" doc:"Tokens left this month; absent when there is no monthly limit or no model."`
}

// UsageService reads language-model usage for the user in ctx.
type UsageService interface {
	// FindBuildUsage returns a build's usage (zero when it made no calls).
	// ENotFound when the build does not exist or is not the caller's.
	FindBuildUsage(ctx context.Context, buildID int64) (*BuildUsage, error)
	// SumUsage returns what the caller's builds and plan previews used
	// since t.
	SumUsage(ctx context.Context, since time.Time) (TokenUsage, error)
}

// UsageStore records language-model calls for the build worker.
type UsageStore interface {
	// RecordLLMCall stores one call.
	RecordLLMCall(ctx context.Context, c *LLMCall) error
	// SumUserTokens returns the tokens the user's builds used since t.
	SumUserTokens(ctx context.Context, ownerID int64, since time.Time) (int64, error)
}
