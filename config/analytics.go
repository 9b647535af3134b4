package config

import (
	"fmt"
	"time"
)

// Analytics settings.
type Analytics struct {
	RetentionDays       int           `koanf:"retention_days" help:"days raw analytics events and minute rollups are kept (1-365)"`
	RollupRetentionDays int           `koanf:"rollup_retention_days" help:"days hourly and daily analytics rollups are kept"`
	RateLimit           int           `koanf:"rate_limit" help:"events per second an ingest key may send unless it has its own limit"`
	RollupInterval      time.Duration `koanf:"rollup_interval" help:"how often new analytics events are folded into rollups"`
}

// defaultAnalytics returns the analytics defaults.
func defaultAnalytics() Analytics {
	return Analytics{RetentionDays: 30, RollupRetentionDays: 400, RateLimit: 5000, RollupInterval: time.Second}
}

// Retention returns how long raw events are kept.
func (a Analytics) Retention() time.Duration { return time.Duration(a.RetentionDays) * 24 * time.Hour }

// RollupRetention returns how long hourly and daily rollups are kept.
func (a Analytics) RollupRetention() time.Duration {
	return time.Duration(a.RollupRetentionDays) * 24 * time.Hour
}

// validate returns one error per bad setting.
func (a Analytics) validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("analytics.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if a.RetentionDays < 1 || a.RetentionDays > 365 {
		bad("retention_days", "must be between 1 and 365, got %d", a.RetentionDays)
	}
	if a.RollupRetentionDays < a.RetentionDays || a.RollupRetentionDays > 3650 {
		bad("rollup_retention_days", "must be between analytics.retention_days and 3650, got %d", a.RollupRetentionDays)
	}
	if a.RateLimit < 1 || a.RateLimit > 1_000_000 {
		bad("rate_limit", "must be between 1 and 1000000 events per second, got %d", a.RateLimit)
	}
	if a.RollupInterval < 100*time.Millisecond || a.RollupInterval > time.Minute {
		bad("rollup_interval", "must be between 100ms and 1m, got %s", a.RollupInterval)
	}
	return errs
}
