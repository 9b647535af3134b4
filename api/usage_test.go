package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/sqlstore"
)

func TestBuildUsage(t *testing.T) {
	t.Parallel()
	srv, db := MustServerDB(t)
	tok := MustToken(t, srv, "u@example.com")
	r := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(`{"description": "a todo list with tasks"}`))
	if r.status != http.StatusCreated {
		t.Fatalf("create app: %d %s", r.status, r.body)
	}
	var created struct {
		Build *kiln.Build `json:"build"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || created.Build == nil {
		t.Fatalf("create app body %s: %v", r.body, err)
	}
	id := created.Build.ID
	path := "/v1/builds/" + strconv.FormatInt(id, 10)

	var detail struct {
		LLMUsage *kiln.BuildUsage `json:"llm_usage"`
	}
	r = do(t, srv, "GET", path, tok, nil)
	if err := json.Unmarshal(r.body, &detail); err != nil || r.status != http.StatusOK {
		t.Fatalf("get build: %d %s", r.status, r.body)
	}
	if detail.LLMUsage == nil || detail.LLMUsage.Total.Calls != 0 || detail.LLMUsage.Steps == nil {
		t.Fatalf("a build without calls shows zero usage, got %s", r.body)
	}

	store := sqlstore.NewUsageStore(db)
	for _, c := range []*kiln.LLMCall{
		{BuildID: id, Step: "plan", Model: "gpt-4o", PromptTokens: 1200, CompletionTokens: 300, CostUSD: 0.006},
		{BuildID: id, Step: "repair 1", Model: "gpt-4o", PromptTokens: 5000, CompletionTokens: 800, CostUSD: 0.0205},
	} {
		if err := store.RecordLLMCall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	r = do(t, srv, "GET", path, tok, nil)
	if err := json.Unmarshal(r.body, &detail); err != nil {
		t.Fatal(err)
	}
	u := detail.LLMUsage
	if u.Total.TotalTokens != 7300 || u.Total.Calls != 2 || len(u.Steps) != 2 || u.Steps[1].Step != "repair 1" || u.Steps[1].TotalTokens != 5800 {
		t.Fatalf("usage = %s", r.body)
	}
	if !strings.Contains(string(r.body), `"estimated_cost_usd":0.0265`) {
		t.Errorf("no estimated cost in %s", r.body)
	}

	other := MustToken(t, srv, "other@example.com")
	if r := do(t, srv, "GET", path, other, nil); r.status != http.StatusNotFound {
		t.Fatalf("another user's build: %d", r.status)
	}
}

func TestMonthUsage(t *testing.T) {
	t.Parallel()
	srv, db := MustServerDB(t)
	tok := MustToken(t, srv, "u@example.com")
	other := MustToken(t, srv, "other@example.com")
	var me kiln.User
	if r := do(t, srv, "GET", "/v1/me", tok, nil); r.status != http.StatusOK || json.Unmarshal(r.body, &me) != nil {
		t.Fatalf("get me: %d %s", r.status, r.body)
	}
	var u kiln.MonthUsage
	r := do(t, srv, "GET", "/v1/usage", tok, nil)
	if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil {
		t.Fatalf("get usage: %d %s", r.status, r.body)
	}
	now := time.Now().UTC()
	if u.Usage != (kiln.TokenUsage{}) || u.Remaining == nil || *u.Remaining != 10000 || u.MonthLimit != 10000 || u.BuildLimit != 3000 || u.Model != "gpt-4o" ||
		u.Month != now.Format("2006-01") || !u.ResetsAt.Equal(u.Since.AddDate(0, 1, 0)) || u.Since.Day() != 1 {
		t.Fatalf("a new user's usage = %s", r.body)
	}

	r = do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(`{"description": "a todo list with tasks"}`))
	var created struct {
		Build *kiln.Build `json:"build"`
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &created) != nil || created.Build == nil {
		t.Fatalf("create app: %d %s", r.status, r.body)
	}
	store := sqlstore.NewUsageStore(db)
	for _, c := range []*kiln.LLMCall{
		{BuildID: created.Build.ID, Step: "plan", Model: "m", PromptTokens: 1200, CompletionTokens: 300, CostUSD: 0.5},
		{OwnerID: me.ID, Step: "plan preview", Model: "m", PromptTokens: 2000, CompletionTokens: 500, CostUSD: 0.25},
		{BuildID: created.Build.ID, Step: "repair 1", Model: "m", PromptTokens: 90000, CreatedAt: u.Since.Add(-time.Second)}, // last month
	} {
		if err := store.RecordLLMCall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	r = do(t, srv, "GET", "/v1/usage", tok, nil)
	if err := json.Unmarshal(r.body, &u); err != nil {
		t.Fatal(err)
	}
	want := kiln.TokenUsage{Calls: 2, PromptTokens: 3200, CompletionTokens: 800, TotalTokens: 4000, CostUSD: 0.75}
	if u.Usage != want || *u.Remaining != 6000 {
		t.Fatalf("usage = %s, want %+v and 6000 left", r.body, want)
	}
	r = do(t, srv, "GET", "/v1/usage", other, nil)
	if err := json.Unmarshal(r.body, &u); err != nil || u.Usage.Calls != 0 {
		t.Fatalf("another user's usage = %s", r.body)
	}
	if r := do(t, srv, "GET", "/v1/usage", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", r.status)
	}
}

// TestMonthUsage_NoModel: a server without a model reports no model and
// no limits (its configured budgets apply to nothing), but still what was
// used this month.
func TestMonthUsage_NoModel(t *testing.T) {
	t.Parallel()
	srv, db := MustServerDB(t, func(c *api.Config) { c.LLMLimits = api.LLMLimits{Build: 300000, Month: 5000000} })
	tok := MustToken(t, srv, "u@example.com")
	var me kiln.User
	if r := do(t, srv, "GET", "/v1/me", tok, nil); r.status != http.StatusOK || json.Unmarshal(r.body, &me) != nil {
		t.Fatalf("get me: %d %s", r.status, r.body)
	}
	if err := sqlstore.NewUsageStore(db).RecordLLMCall(context.Background(),
		&kiln.LLMCall{OwnerID: me.ID, Step: "plan preview", Model: "m", PromptTokens: 100, CompletionTokens: 20}); err != nil {
		t.Fatal(err)
	}
	r := do(t, srv, "GET", "/v1/usage", tok, nil)
	var u kiln.MonthUsage
	if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil {
		t.Fatalf("get usage: %d %s", r.status, r.body)
	}
	if u.Model != "" || u.MonthLimit != 0 || u.BuildLimit != 0 || u.Remaining != nil || u.Usage.TotalTokens != 120 {
		t.Fatalf("usage without a model = %s", r.body)
	}
	if !strings.Contains(string(r.body), `"model":""`) || strings.Contains(string(r.body), "remaining_tokens") {
		t.Errorf("the body does not say there is no model: %s", r.body)
	}
}
