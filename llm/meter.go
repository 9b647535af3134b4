package llm

import (
	"context"
	"fmt"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
)

type ctxKey int

const (
	meterKey ctxKey = iota + 1
	stepKey
)

// Call is one finished model call, as a Meter records it.
type Call struct {
	Step     string
	Model    string
	Usage    Usage
	CostUSD  float64
	Duration time.Duration
	// Cached is true for an answer from the cache (no tokens used).
	Cached bool
}

// Meter accounts for the model calls made with a context: it refuses calls
// once a budget is spent and records the usage of each call.
type Meter interface {
	// Allow returns a KindBudget *Error when no more tokens may be spent,
	// else how many tokens remain (0: no limit).
	Allow(ctx context.Context) (remaining int64, err error)
	// Record counts a finished call.
	Record(ctx context.Context, c Call) error
}

// WithMeter returns a context whose model calls are accounted by m.
func WithMeter(ctx context.Context, m Meter) context.Context {
	return context.WithValue(ctx, meterKey, m)
}

// MeterFrom returns the context's Meter, or nil.
func MeterFrom(ctx context.Context) Meter {
	m, _ := ctx.Value(meterKey).(Meter)
	return m
}

// WithStep returns a context whose model calls are attributed to the named
// build step ("plan", "customize", "repair 1" …).
func WithStep(ctx context.Context, step string) context.Context {
	return context.WithValue(ctx, stepKey, step)
}

// StepFrom returns the context's step name, or "".
func StepFrom(ctx context.Context) string {
	s, _ := ctx.Value(stepKey).(string)
	return s
}

// Budget is the Meter of one build: it enforces the tokens one build may
// use and the tokens its owner may use per calendar month (UTC), and
// stores every call through Store.
type Budget struct {
	BuildID int64
	OwnerID int64
	// BuildLimit is the most tokens the build may use; 0 means no limit.
	BuildLimit int64
	// MonthLimit is the most tokens the owner may use per calendar month
	// across all builds; 0 means no limit. It needs Store.
	MonthLimit int64
	// Store keeps the calls; nil keeps them only in memory.
	Store kiln.UsageStore
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logf, when set, gets one line per call for the build log.
	Logf func(format string, args ...any)

	mu    sync.Mutex
	total kiln.TokenUsage
}

var _ Meter = (*Budget)(nil)

func (b *Budget) now() time.Time {
	if b.Now != nil {
		return b.Now().UTC()
	}
	return time.Now().UTC()
}

// Allow implements Meter.
func (b *Budget) Allow(ctx context.Context) (int64, error) {
	b.mu.Lock()
	used := b.total.TotalTokens
	b.mu.Unlock()
	var remaining int64
	if b.BuildLimit > 0 {
		if used >= b.BuildLimit {
			return 0, &Error{Kind: KindBudget, Message: fmt.Sprintf(
				"llm token budget exceeded: this build has used %d of the %d tokens a build may use (llm.max_tokens_per_build)", used, b.BuildLimit)}
		}
		remaining = b.BuildLimit - used
	}
	if b.MonthLimit > 0 && b.Store != nil {
		now := b.now()
		start := kiln.MonthStart(now)
		month, err := b.Store.SumUserTokens(ctx, b.OwnerID, start)
		if err != nil {
			return 0, fmt.Errorf("llm: read this month's token usage: %w", err)
		}
		if month >= b.MonthLimit {
			return 0, &Error{Kind: KindBudget, Message: fmt.Sprintf(
				"llm token budget exceeded: you have used %d of your %d tokens this month (llm.max_tokens_per_user_month); the limit resets on %s",
				month, b.MonthLimit, start.AddDate(0, 1, 0).Format("2006-01-02"))}
		}
		if left := b.MonthLimit - month; remaining == 0 || left < remaining {
			remaining = left
		}
	}
	return remaining, nil
}

// Record implements Meter: it stores the call and adds it to the total.
func (b *Budget) Record(ctx context.Context, c Call) error {
	if c.Cached {
		if b.Logf != nil {
			b.Logf("llm %s: answered from the cache (no tokens used)", c.Step)
		}
		return nil
	}
	b.mu.Lock()
	b.total.Calls++
	b.total.PromptTokens += c.Usage.PromptTokens
	b.total.CompletionTokens += c.Usage.CompletionTokens
	b.total.TotalTokens += c.Usage.Total()
	b.total.CostUSD += c.CostUSD
	b.mu.Unlock()
	if b.Logf != nil {
		est := ""
		if c.Usage.Estimated {
			est = " (estimated: the server reported no usage)"
		}
		b.Logf("llm %s: %s used %d prompt + %d completion tokens%s, ~$%.4f, %s",
			c.Step, c.Model, c.Usage.PromptTokens, c.Usage.CompletionTokens, est, c.CostUSD, c.Duration.Round(time.Millisecond))
	}
	if b.Store == nil {
		return nil
	}
	err := b.Store.RecordLLMCall(context.WithoutCancel(ctx), &kiln.LLMCall{
		BuildID: b.BuildID, OwnerID: b.OwnerID, Step: c.Step, Model: c.Model,
		PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens,
		CostUSD: c.CostUSD, CreatedAt: b.now(),
	})
	if err != nil {
		return fmt.Errorf("llm: record token usage: %w", err)
	}
	return nil
}

// Total returns what the build has used so far.
func (b *Budget) Total() kiln.TokenUsage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}
