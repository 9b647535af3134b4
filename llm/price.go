package llm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input  float64 // prompt tokens
	Output float64 // completion tokens
}

// Prices maps model names to prices. A name ending in "*" matches every
// model with that prefix ("gpt-4o-mini*" matches "gpt-4o-mini-2024-07-18").
type Prices map[string]Price

// ParsePrices reads entries of the form "MODEL=INPUT/OUTPUT" (US dollars per
// million prompt and completion tokens), as the llm.prices setting holds
// them. It returns an error naming the first bad entry.
func ParsePrices(entries []string) (Prices, error) {
	p := Prices{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		model, rates, ok := strings.Cut(e, "=")
		model = strings.TrimSpace(model)
		in, out, ok2 := strings.Cut(rates, "/")
		if !ok || !ok2 || model == "" {
			return nil, fmt.Errorf("price %q: want MODEL=INPUT/OUTPUT (US dollars per million tokens)", e)
		}
		i, err1 := strconv.ParseFloat(strings.TrimSpace(in), 64)
		o, err2 := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err1 != nil || err2 != nil || !finite(i) || !finite(o) || i < 0 || o < 0 {
			return nil, fmt.Errorf("price %q: INPUT and OUTPUT must be non-negative numbers", e)
		}
		p[model] = Price{Input: i, Output: o}
	}
	return p, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Lookup returns the price of model: an exact entry, else the longest
// matching prefix entry. ok is false when the table does not know the model.
func (p Prices) Lookup(model string) (Price, bool) {
	if pr, ok := p[model]; ok {
		return pr, true
	}
	best, found := "", false
	var out Price
	for name, pr := range p {
		prefix, isPrefix := strings.CutSuffix(name, "*")
		if isPrefix && strings.HasPrefix(model, prefix) && len(prefix) >= len(best) {
			best, out, found = prefix, pr, true
		}
	}
	return out, found
}

// Cost returns the estimated cost of the usage in US dollars, and whether
// the model's price is known.
func (p Prices) Cost(model string, u Usage) (float64, bool) {
	pr, ok := p.Lookup(model)
	if !ok {
		return 0, false
	}
	return (float64(u.PromptTokens)*pr.Input + float64(u.CompletionTokens)*pr.Output) / 1e6, true
}
