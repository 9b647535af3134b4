package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/llm"
)

// planFunc is a codegen.Planner.
type planFunc func(ctx context.Context, description string) (*kiln.AppSpec, error)

func (f planFunc) Plan(ctx context.Context, d string) (*kiln.AppSpec, error) { return f(ctx, d) }

// spentStore says the user has used 5000 tokens this month.
type spentStore struct{ recorded int }

func (s *spentStore) RecordLLMCall(_ context.Context, c *kiln.LLMCall) error {
	if c.BuildID != 0 || c.OwnerID != 7 || c.Step != "plan preview" {
		return fmt.Errorf("preview call stored as %+v", c)
	}
	s.recorded++
	return nil
}
func (s *spentStore) SumUserTokens(_ context.Context, owner int64, _ time.Time) (int64, error) {
	if owner != 7 {
		return 0, errors.New("wrong owner")
	}
	return 5000, nil
}

func TestMeteredPlanner(t *testing.T) {
	t.Parallel()
	store := &spentStore{}
	inner := planFunc(func(ctx context.Context, _ string) (*kiln.AppSpec, error) {
		m := llm.MeterFrom(ctx)
		if m == nil || llm.StepFrom(ctx) != "plan preview" {
			t.Fatal("no meter or step in the preview's context")
		}
		if _, err := m.Allow(ctx); err != nil {
			return nil, err
		}
		return nil, m.Record(ctx, llm.Call{Step: llm.StepFrom(ctx), Model: "m", Usage: llm.Usage{PromptTokens: 10}})
	})
	ctx := kiln.NewContextWithUser(context.Background(), &kiln.User{ID: 7})
	_, err := meteredPlanner{inner: inner, usage: store, month: 5000}.Plan(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "you have used 5000 of your 5000 tokens this month") {
		t.Fatalf("a spent monthly budget must refuse previews: %v", err)
	}
	if _, err := (meteredPlanner{inner: inner, usage: store, month: 6000}).Plan(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if store.recorded != 1 {
		t.Errorf("a preview's call must be stored (it counts toward the month): %d stored", store.recorded)
	}
}
