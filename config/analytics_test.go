package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/config"
)

func TestAnalyticsSettings(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		c, err := config.Load(config.Source{File: writeFile(t, "")})
		if err != nil {
			t.Fatal(err)
		}
		a := c.Analytics
		if a.RetentionDays != 30 || a.RollupRetentionDays != 400 || a.RateLimit != 5000 || a.RollupInterval != time.Second {
			t.Fatalf("defaults %+v", a)
		}
		if a.Retention() != 30*24*time.Hour {
			t.Fatalf("retention %s", a.Retention())
		}
	})
	t.Run("FileAndEnv", func(t *testing.T) {
		c, err := config.Load(config.Source{
			File:    writeFile(t, "analytics:\n  retention_days: 7\n  rollup_interval: 5s\n"),
			Environ: []string{"KILN_ANALYTICS_RATE_LIMIT=200"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if a := c.Analytics; a.RetentionDays != 7 || a.RateLimit != 200 || a.RollupInterval != 5*time.Second {
			t.Fatalf("%+v", a)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := config.Load(config.Source{
			File:    writeFile(t, ""),
			Environ: []string{"KILN_ANALYTICS_RETENTION_DAYS=0", "KILN_ANALYTICS_RATE_LIMIT=-1", "KILN_ANALYTICS_ROLLUP_INTERVAL=1ms"},
		})
		for _, field := range []string{"analytics.retention_days", "analytics.rate_limit", "analytics.rollup_interval"} {
			if err == nil || !strings.Contains(err.Error(), field) {
				t.Errorf("want an error naming %s, got %v", field, err)
			}
		}
		_, err = config.Load(config.Source{File: writeFile(t, "analytics:\n  retention_days: 60\n  rollup_retention_days: 30\n")})
		if err == nil || !strings.Contains(err.Error(), "analytics.rollup_retention_days") {
			t.Errorf("rollups kept shorter than events: %v", err)
		}
	})
}
