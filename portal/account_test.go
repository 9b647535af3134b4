package portal_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/sqlstore"
)

// mustRecordCalls stores language-model calls of the user with email made
// outside builds (plan previews), as the metered planner does.
func mustRecordCalls(tb testing.TB, e *env, email string, calls ...kiln.LLMCall) {
	tb.Helper()
	ctx := context.Background()
	u, err := sqlstore.NewAuthStore(e.db).FindUserByEmail(ctx, email)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range calls {
		c.OwnerID = u.ID
		if err := sqlstore.NewUsageStore(e.db).RecordLLMCall(ctx, &c); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestAccountUsage: the account page shows what GET /v1/usage (and `kiln
// usage`) says: this month's tokens and cost, the model, the limits and
// what is left, or that the server has no model.
func TestAccountUsage(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		e := MustEnvAPI(t, func(c *api.Config) {
			c.LLMLimits = api.LLMLimits{Model: "gpt-4o <mini>", Build: 300000, Month: 5000000}
		})
		b := e.Browser(t)
		b.MustSignup("ada@example.com")
		b.Get("/account").MustStatus(t, http.StatusOK).MustContain(t,
			"Language model this month", "<code>gpt-4o &lt;mini&gt;</code>", "0 tokens", "(0 calls)",
			"<dd>5,000,000 tokens</dd>", "<dt>Left</dt><dd>5,000,000 tokens</dd>", "<dt>Per build</dt><dd>300,000 tokens</dd>")

		mustRecordCalls(t, e, "ada@example.com",
			kiln.LLMCall{Step: "plan preview", Model: "gpt-4o", PromptTokens: 1200, CompletionTokens: 300, CostUSD: 0.0061},
			kiln.LLMCall{Step: "plan preview", Model: "gpt-4o", PromptTokens: 10000, CompletionTokens: 2500, CostUSD: 0.05})
		p := b.Get("/account").MustStatus(t, http.StatusOK)
		p.MustContain(t, "14,000 tokens", "(2 calls)", "<dd>$0.0561</dd>", "<dt>Left</dt><dd>4,986,000 tokens</dd>",
			`<meter class="usage-meter" min="0" max="5000000" value="14000"`, ">0%</meter>", "starts again <time")
		if strings.Contains(p.body, "No model configured") {
			t.Error("a server with a model says it has none")
		}

		// Another user sees their own usage, not Ada's.
		bob := e.Browser(t)
		bob.MustSignup("bob@example.com")
		bob.Get("/account").MustContain(t, "0 tokens", "(0 calls)", "<dt>Left</dt><dd>5,000,000 tokens</dd>")
	})
	t.Run("NoModel", func(t *testing.T) {
		t.Parallel()
		// The budgets have their defaults but no model uses them.
		e := MustEnvAPI(t, func(c *api.Config) { c.LLMLimits = api.LLMLimits{Build: 300000, Month: 5000000} })
		b := e.Browser(t)
		b.MustSignup("ada@example.com")
		p := b.Get("/account").MustStatus(t, http.StatusOK)
		p.MustContain(t, "Language model this month", "No model configured: this server plans and builds apps offline")
		for _, s := range []string{"Month limit", "5,000,000", "<meter", "Earlier in"} {
			if strings.Contains(p.body, s) {
				t.Errorf("the page of a server without a model shows %q", s)
			}
		}
		// Tokens used while a model was configured still show.
		mustRecordCalls(t, e, "ada@example.com", kiln.LLMCall{Step: "plan preview", Model: "gpt-4o", PromptTokens: 900, CompletionTokens: 300, CostUSD: 0.004})
		b.Get("/account").MustContain(t, "No model configured", "while a model was configured: 1,200 tokens in 1 call, about $0.0040.")
	})
	t.Run("NotRecorded", func(t *testing.T) {
		t.Parallel()
		e := MustEnvAPI(t, func(c *api.Config) { c.Usage = nil })
		b := e.Browser(t)
		b.MustSignup("ada@example.com")
		b.Get("/account").MustStatus(t, http.StatusOK).MustContain(t, "This server records no language-model usage.", "API tokens")
	})
}
