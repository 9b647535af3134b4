package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/config"
)

func TestLLM(t *testing.T) {
	t.Run("OffByDefault", func(t *testing.T) {
		c, err := config.Load(config.Source{File: writeFile(t, ""), Environ: []string{"OPENAI_API_KEY=sk-from-env"}})
		if err != nil {
			t.Fatal(err)
		}
		if c.LLM.Configured() {
			t.Fatal("an API key alone must not turn the LLM steps on")
		}
		if c.LLM.APIKey != "sk-from-env" {
			t.Fatalf("OPENAI_API_KEY not used: %q", c.LLM.APIKey)
		}
		if c.LLM.Timeout != 2*time.Minute || c.LLM.RepairAttempts != 3 || c.LLM.MaxTokensPerBuild != 300000 || !c.LLM.Customize {
			t.Fatalf("unexpected defaults: %+v", c.LLM)
		}
		prices, err := c.LLM.PriceTable()
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := prices.Lookup("gpt-4o-mini-2024-07-18"); !ok || p.Input != 0.15 {
			t.Fatalf("default price of gpt-4o-mini: %+v %v", p, ok)
		}
	})
	t.Run("KilnKeyWins", func(t *testing.T) {
		c, err := config.Load(config.Source{File: writeFile(t, "llm:\n  model: gpt-4o\n  api_key: sk-kiln\n"), Environ: []string{"OPENAI_API_KEY=sk-from-env"}})
		if err != nil {
			t.Fatal(err)
		}
		if c.LLM.APIKey != "sk-kiln" || !c.LLM.Configured() {
			t.Fatalf("llm = %+v", c.LLM)
		}
	})
	t.Run("Env", func(t *testing.T) {
		c, err := config.Load(config.Source{File: writeFile(t, ""), Environ: []string{
			"KILN_LLM_MODEL=llama3.2", "KILN_LLM_BASE_URL=http://localhost:11434/v1", "KILN_LLM_PRICES=llama3*=0/0,gpt-4o=1/2",
			"KILN_LLM_MAX_TOKENS_PER_BUILD=0", "KILN_LLM_TIMEOUT=5m", "KILN_PLANNER=llm",
		}})
		if err != nil {
			t.Fatal(err)
		}
		if !c.LLM.Configured() || c.LLM.Timeout != 5*time.Minute || c.LLM.MaxTokensPerBuild != 0 || len(c.LLM.Prices) != 2 {
			t.Fatalf("llm = %+v", c.LLM)
		}
	})
	for _, tc := range []struct {
		name, yaml, want string
		env              []string
	}{
		{"ErrPlannerNeedsModel", "planner: llm\n", "planner: llm needs llm.model", nil},
		{"ErrModelNeedsKeyOrURL", "llm:\n  model: gpt-4o\n", "llm.api_key:", nil},
		{"ErrBaseURL", "llm:\n  base_url: localhost:11434\n", "llm.base_url: must be an http(s) URL", nil},
		{"ErrBaseURLCredentials", "llm:\n  base_url: https://u:p@x/v1\n", "must not hold credentials", nil},
		{"ErrPrices", "llm:\n  prices: [\"gpt=cheap\"]\n", "llm.prices:", nil},
		{"ErrRetries", "llm:\n  max_retries: 99\n", "llm.max_retries", nil},
		{"ErrBudget", "", "llm.max_tokens_per_user_month", []string{"KILN_LLM_MAX_TOKENS_PER_USER_MONTH=-5"}},
		{"ErrRepairAttempts", "llm:\n  repair_attempts: 50\n", "llm.repair_attempts", nil},
		{"ErrTimeout", "llm:\n  timeout: 1ms\n", "llm.timeout", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(config.Source{File: writeFile(t, tc.yaml), Environ: tc.env})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
	t.Run("KeyRedacted", func(t *testing.T) {
		c, err := config.Load(config.Source{File: writeFile(t, ""), Environ: []string{"OPENAI_API_KEY=sk-from-env-secret"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range c.Settings() {
			if strings.Contains(s.Value, "sk-from-env") {
				t.Errorf("%s leaks the key: %s", s.Key, s.Value)
			}
			if s.Key == "llm.api_key" && s.Value != "[redacted]" {
				t.Errorf("llm.api_key shows %q", s.Value)
			}
		}
	})
}
