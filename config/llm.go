package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kiln-build/kiln/llm"
)

// defaultLLM is the LLM section when nothing is configured: no model, so
// the offline planner and templates run alone.
func defaultLLM() LLM {
	return LLM{
		Timeout:               2 * time.Minute,
		MaxRetries:            4,
		MaxOutputTokens:       16384,
		MaxTokensPerBuild:     300_000,
		MaxTokensPerUserMonth: 5_000_000,
		RepairAttempts:        3,
		Customize:             true,
		Cache:                 true,
		// Public list prices in US dollars per million tokens; set
		// llm.prices to correct them or to price other models.
		Prices: []string{
			"gpt-4o*=2.50/10.00", "gpt-4o-mini*=0.15/0.60",
			"gpt-4.1*=2.00/8.00", "gpt-4.1-mini*=0.40/1.60", "gpt-4.1-nano*=0.10/0.40",
			"gpt-5*=1.25/10.00", "gpt-5-mini*=0.25/2.00", "gpt-5-nano*=0.05/0.40",
			"o4-mini*=1.10/4.40",
		},
	}
}

// Configured reports whether a model is set, which turns the LLM steps on
// (planner auto picks the LLM planner, builds customize and repair).
func (l LLM) Configured() bool { return strings.TrimSpace(l.Model) != "" }

// applyOpenAIEnv takes the key from OPENAI_API_KEY when llm.api_key is
// unset, the variable every OpenAI client reads.
func (l *LLM) applyOpenAIEnv(environ []string) {
	if l.APIKey != "" {
		return
	}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "OPENAI_API_KEY="); ok {
			l.APIKey = strings.TrimSpace(v)
		}
	}
}

// PriceTable returns llm.prices parsed.
func (l LLM) PriceTable() (llm.Prices, error) { return llm.ParsePrices(l.Prices) }

// validateLLM checks the llm section and the planner choice that depends on it.
func (c *Config) validateLLM() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	l := c.LLM
	if c.Planner == "llm" && !l.Configured() {
		bad("planner", "llm needs llm.model (and llm.api_key, OPENAI_API_KEY or the llm.base_url of a local server)")
	}
	if l.BaseURL != "" {
		if u, err := url.Parse(l.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("llm.base_url", "must be an http(s) URL, got %q", l.BaseURL)
		} else if u.User != nil {
			bad("llm.base_url", "must not hold credentials; set llm.api_key")
		}
	}
	if l.Configured() && l.APIKey == "" && l.BaseURL == "" {
		bad("llm.api_key", "llm.model is set but there is no API key (llm.api_key or OPENAI_API_KEY) and no llm.base_url of a local server")
	}
	if l.Timeout < time.Second || l.Timeout > 30*time.Minute {
		bad("llm.timeout", "must be between 1s and 30m")
	}
	if l.MaxRetries < 0 || l.MaxRetries > 10 {
		bad("llm.max_retries", "must be between 0 and 10")
	}
	if l.MaxOutputTokens < 256 || l.MaxOutputTokens > 1_000_000 {
		bad("llm.max_output_tokens", "must be between 256 and 1000000")
	}
	if l.MaxTokensPerBuild < 0 {
		bad("llm.max_tokens_per_build", "must be 0 (no limit) or more")
	}
	if l.MaxTokensPerUserMonth < 0 {
		bad("llm.max_tokens_per_user_month", "must be 0 (no limit) or more")
	}
	if l.RepairAttempts < 0 || l.RepairAttempts > 10 {
		bad("llm.repair_attempts", "must be between 0 and 10")
	}
	if _, err := l.PriceTable(); err != nil {
		bad("llm.prices", "%v", err)
	}
	return errs
}
