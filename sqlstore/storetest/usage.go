package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

func testUsage(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("RecordAndSum", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		store, svc := sqlstore.NewUsageStore(e.DB), sqlstore.NewUsageService(e.DB)
		u := MustCreateUser(t, e, "u@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		_, ob := MustCreateApp(t, e, other, "another list")
		ctx := context.Background()
		march := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
		calls := []*kiln.LLMCall{
			{BuildID: b.ID, Step: "plan", Model: "gpt-4o", PromptTokens: 1000, CompletionTokens: 200, CostUSD: 0.0045, CreatedAt: march},
			{BuildID: b.ID, Step: "plan", Model: "gpt-4o", PromptTokens: 1100, CompletionTokens: 250, CostUSD: 0.005, CreatedAt: march},
			{BuildID: b.ID, Step: "repair 1", Model: "gpt-4o", PromptTokens: 5000, CompletionTokens: 900, CostUSD: 0.02, CreatedAt: march.Add(time.Minute)},
			{BuildID: b.ID, Step: "customize", Model: "gpt-4o", PromptTokens: 7, CompletionTokens: 3, CreatedAt: march.AddDate(0, -1, 0)},
			{BuildID: ob.ID, OwnerID: u.ID, Step: "plan", Model: "gpt-4o", PromptTokens: 50000, CreatedAt: march},
		}
		for _, c := range calls {
			require.NoError(t, store.RecordLLMCall(ctx, c))
			require.NotZero(t, c.ID)
		}
		require.Equal(t, other.ID, calls[4].OwnerID, "the owner is the build's, whatever the caller says")

		n, err := store.SumUserTokens(ctx, u.ID, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		require.Equal(t, int64(1000+200+1100+250+5000+900), n)
		n, err = store.SumUserTokens(ctx, u.ID, time.Time{})
		require.NoError(t, err)
		require.Equal(t, int64(8460), n)
		n, err = store.SumUserTokens(ctx, 999999, time.Time{})
		require.NoError(t, err)
		require.Zero(t, n)

		got, err := svc.FindBuildUsage(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Len(t, got.Steps, 3)
		require.Equal(t, []string{"plan", "repair 1", "customize"}, []string{got.Steps[0].Step, got.Steps[1].Step, got.Steps[2].Step})
		require.Equal(t, kiln.StepUsage{Step: "plan", Model: "gpt-4o", Calls: 2, PromptTokens: 2100, CompletionTokens: 450, TotalTokens: 2550, CostUSD: got.Steps[0].CostUSD}, got.Steps[0])
		require.InDelta(t, 0.0095, got.Steps[0].CostUSD, 1e-9)
		require.Equal(t, 4, got.Total.Calls)
		require.Equal(t, int64(8460), got.Total.TotalTokens)
		require.InDelta(t, 0.0295, got.Total.CostUSD, 1e-9)
	})
	t.Run("PreviewCalls", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		store, svc := sqlstore.NewUsageStore(e.DB), sqlstore.NewUsageService(e.DB)
		u := MustCreateUser(t, e, "u@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		ctx := context.Background()
		require.NoError(t, store.RecordLLMCall(ctx, &kiln.LLMCall{BuildID: b.ID, Step: "plan", Model: "m", PromptTokens: 100, CompletionTokens: 10}))
		preview := &kiln.LLMCall{OwnerID: u.ID, Step: "plan preview", Model: "m", PromptTokens: 300, CompletionTokens: 30}
		require.NoError(t, store.RecordLLMCall(ctx, preview))
		require.NotZero(t, preview.ID)
		n, err := store.SumUserTokens(ctx, u.ID, time.Time{})
		require.NoError(t, err)
		require.Equal(t, int64(440), n, "a preview's tokens count toward the user's month")
		got, err := svc.FindBuildUsage(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, int64(110), got.Total.TotalTokens, "a preview's tokens are not the build's")

		RequireCode(t, store.RecordLLMCall(ctx, &kiln.LLMCall{Step: "plan preview", Model: "m"}), kiln.EInvalid)
		RequireCode(t, store.RecordLLMCall(ctx, &kiln.LLMCall{OwnerID: 999999, Step: "plan preview", Model: "m"}), kiln.ENotFound)
	})
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		got, err := sqlstore.NewUsageService(e.DB).FindBuildUsage(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, &kiln.BuildUsage{Steps: []kiln.StepUsage{}}, got)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		_, err := sqlstore.NewUsageService(e.DB).FindBuildUsage(e.ctx(other), b.ID)
		RequireCode(t, err, kiln.ENotFound)
		err = sqlstore.NewUsageStore(e.DB).RecordLLMCall(context.Background(), &kiln.LLMCall{BuildID: 424242, Step: "plan", Model: "m"})
		RequireCode(t, err, kiln.ENotFound)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		store := sqlstore.NewUsageStore(e.DB)
		for _, c := range []*kiln.LLMCall{
			{BuildID: 1, Model: "m"},
			{BuildID: 1, Step: "plan"},
			{BuildID: 1, Step: "plan", Model: "m", PromptTokens: -1},
			{BuildID: 1, Step: "plan", Model: "m", CostUSD: -1},
		} {
			RequireCode(t, store.RecordLLMCall(context.Background(), c), kiln.EInvalid)
		}
	})
}
