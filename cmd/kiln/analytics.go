package main

import (
	"context"
	"fmt"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/analytics"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/sqlstore"
)

// wireAnalytics gives the API the analytics services and starts the
// group-commit writer and the rollup and retention jobs. They stop when
// ctx ends; by then Close has let in-flight ingest requests finish, and
// the writer commits whatever is still queued before it returns.
func (m *Main) wireAnalytics(ctx context.Context, cfg *api.Config) error {
	ac := m.Config.Analytics
	events := sqlstore.NewEventStore(m.DB)
	jobs := analytics.NewJobs(analytics.JobsConfig{
		Store: events, Retention: ac.Retention(), RollupRetention: ac.RollupRetention(),
		RollupInterval: ac.RollupInterval, Logger: m.Logger,
	})
	// Partitions for today's events exist before the first request.
	if err := jobs.Maintain(ctx); err != nil {
		return fmt.Errorf("analytics maintenance: %w", err)
	}
	committer := analytics.NewCommitter(analytics.CommitterConfig{Writer: events, Committed: jobs.Committed, Logger: m.Logger})
	keys := sqlstore.NewIngestKeyService(m.DB)
	cfg.IngestKeys = keys
	cfg.Analytics = events
	cfg.Ingester = analytics.NewIngester(analytics.IngesterConfig{
		Keys: keys, Committer: committer, DefaultRateLimit: ac.RateLimit, MaxAge: min(ac.Retention(), kiln.MaxEventAge),
	})
	m.wg.Add(3)
	go func() {
		defer m.wg.Done()
		committer.Run()
	}()
	go func() {
		defer m.wg.Done()
		<-ctx.Done()
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := committer.Stop(stopCtx); err != nil {
			m.Logger.Error("stop analytics writer", "error", err)
		}
	}()
	go func() {
		defer m.wg.Done()
		jobs.Run(ctx)
	}()
	return nil
}
