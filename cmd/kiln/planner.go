package main

import (
	"context"
	"fmt"
	"log/slog"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/assist"
	"github.com/kiln-build/kiln/codegen/llmplan"
	"github.com/kiln-build/kiln/codegen/plan"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/llm"
)

// rulesPlanner returns the offline, deterministic planner.
func rulesPlanner() codegen.Planner { return plan.Rules{} }

// planName is the name the offline planner gives the app a description
// describes ("library" for "a library API with books …"), or "" when it
// cannot plan it. New apps without a name are called that.
func planName(description string) string {
	spec, err := plan.Rules{}.Plan(context.Background(), description)
	if err != nil {
		return ""
	}
	return spec.Name
}

// llmSetup returns the planner the settings choose and, when a model is
// configured, the pipeline's LLM settings: planner rules plans offline;
// llm with the model; auto with the model when llm.model is set. usage
// stores the calls (nil: in memory only); cacheDir keeps answers when
// llm.cache is on ("": no cache).
func llmSetup(cfg config.Config, log *slog.Logger, usage kiln.UsageStore, cacheDir string) (codegen.Planner, *codegen.LLM, error) {
	if !cfg.LLM.Configured() {
		if cfg.Planner == "llm" {
			return nil, nil, fmt.Errorf("planner: llm needs llm.model")
		}
		return rulesPlanner(), nil, nil
	}
	client, err := newLLMClient(cfg, log, cacheDir)
	if err != nil {
		return nil, nil, err
	}
	steps := &codegen.LLM{
		Model: cfg.LLM.Model, Usage: usage,
		BuildTokens: cfg.LLM.MaxTokensPerBuild, MonthTokens: cfg.LLM.MaxTokensPerUserMonth,
		Assistant: &assist.Assistant{Client: client},
		Customize: cfg.LLM.Customize, RepairAttempts: cfg.LLM.RepairAttempts,
	}
	if cfg.Planner == "rules" {
		return rulesPlanner(), steps, nil
	}
	return &llmplan.Planner{Client: client}, steps, nil
}

// newLLMClient returns the model client the llm settings describe.
func newLLMClient(cfg config.Config, log *slog.Logger, cacheDir string) (*llm.Client, error) {
	prices, err := cfg.LLM.PriceTable()
	if err != nil {
		return nil, fmt.Errorf("llm.prices: %w", err)
	}
	var cache *llm.Cache
	if cfg.LLM.Cache && cacheDir != "" {
		cache = &llm.Cache{Dir: cacheDir}
	}
	return llm.New(llm.Config{
		BaseURL: cfg.LLM.BaseURL, APIKey: cfg.LLM.APIKey, Model: cfg.LLM.Model,
		Timeout: cfg.LLM.Timeout, MaxRetries: cfg.LLM.MaxRetries, MaxOutputTokens: cfg.LLM.MaxOutputTokens,
		Prices: prices, Logger: log, Cache: cache,
	})
}

// meteredPlanner puts a token budget around a planner used outside builds
// (the plan preview): one preview may use what one build may, none is made
// once the user's monthly budget is spent, and its calls are stored with no
// build so they count toward that month.
type meteredPlanner struct {
	inner        codegen.Planner
	usage        kiln.UsageStore
	build, month int64
}

func (p meteredPlanner) Plan(ctx context.Context, description string) (*kiln.AppSpec, error) {
	b := &llm.Budget{OwnerID: kiln.UserIDFromContext(ctx), BuildLimit: p.build, MonthLimit: p.month, Store: p.usage}
	return p.inner.Plan(llm.WithStep(llm.WithMeter(ctx, b), "plan preview"), description)
}
