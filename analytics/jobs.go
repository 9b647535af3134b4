package analytics

import (
	"context"
	"log/slog"
	"time"
)

// Store is what the background jobs need from storage;
// sqlstore.EventStore implements it.
type Store interface {
	// RollUp folds up to limit events into the rollups and returns how
	// many it folded.
	RollUp(ctx context.Context, limit int) (int, error)
	// Prune deletes events and minute rollups before eventsBefore and
	// hour and day rollups before rollupsBefore.
	Prune(ctx context.Context, eventsBefore, rollupsBefore time.Time) (int64, error)
	// EnsurePartitions prepares storage for events in [from, to).
	EnsurePartitions(ctx context.Context, from, to time.Time) error
}

// Job defaults.
const (
	DefaultRetention           = 30 * 24 * time.Hour
	DefaultRollupRetention     = 400 * 24 * time.Hour
	DefaultRollupInterval      = time.Second
	DefaultMaintenanceInterval = time.Hour
	// RollupBatch is how many events one rollup transaction folds, so
	// that it never holds SQLite's writer for long.
	RollupBatch = 20000
	// partitionsAhead is how far ahead of now partitions exist.
	partitionsAhead = 7 * 24 * time.Hour
)

// JobsConfig configures Jobs.
type JobsConfig struct {
	Store Store
	// Retention keeps raw events and minute rollups; RollupRetention
	// keeps hour and day rollups.
	Retention, RollupRetention time.Duration
	// RollupInterval is the longest events wait to be rolled up, and the
	// shortest gap between two rollup runs.
	RollupInterval      time.Duration
	MaintenanceInterval time.Duration
	Now                 func() time.Time
	Logger              *slog.Logger
}

// Jobs runs the rollup and maintenance loops.
type Jobs struct {
	cfg  JobsConfig
	poke chan struct{}
}

// NewJobs returns Jobs with defaults filled in.
func NewJobs(cfg JobsConfig) *Jobs {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.RollupRetention <= 0 {
		cfg.RollupRetention = DefaultRollupRetention
	}
	if cfg.RollupInterval <= 0 {
		cfg.RollupInterval = DefaultRollupInterval
	}
	if cfg.MaintenanceInterval <= 0 {
		cfg.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Jobs{cfg: cfg, poke: make(chan struct{}, 1)}
}

// Committed tells the rollup loop that events arrived; the Committer calls
// it after each commit. It never blocks.
func (j *Jobs) Committed(int) {
	select {
	case j.poke <- struct{}{}:
	default:
	}
}

// RollUpAll folds every event not yet rolled up, in batches, and returns
// how many it folded.
func (j *Jobs) RollUpAll(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := j.cfg.Store.RollUp(ctx, RollupBatch)
		total += n
		if err != nil || n < RollupBatch {
			return total, err
		}
	}
}

// Maintain creates the partitions events will need and deletes what
// retention no longer keeps.
func (j *Jobs) Maintain(ctx context.Context) error {
	now := j.cfg.Now()
	// From the oldest day an accepted event can have (at most the
	// retention old) to a week ahead.
	if err := j.cfg.Store.EnsurePartitions(ctx, now.Add(-j.cfg.Retention), now.Add(partitionsAhead)); err != nil {
		return err
	}
	n, err := j.cfg.Store.Prune(ctx, now.Add(-j.cfg.Retention), now.Add(-j.cfg.RollupRetention))
	if n > 0 {
		j.cfg.Logger.InfoContext(ctx, "analytics events pruned", slog.Int64("events", n))
	}
	return err
}

// Run runs both loops until ctx ends. A rollup runs when events were
// committed, at most once per RollupInterval; maintenance runs every
// MaintenanceInterval.
func (j *Jobs) Run(ctx context.Context) {
	maint := time.NewTicker(j.cfg.MaintenanceInterval)
	defer maint.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-maint.C:
			if err := j.Maintain(ctx); err != nil && ctx.Err() == nil {
				j.cfg.Logger.WarnContext(ctx, "analytics maintenance", slog.Any("error", err))
			}
			continue
		case <-j.poke:
		}
		if wait := j.cfg.RollupInterval - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		if _, err := j.RollUpAll(ctx); err != nil && ctx.Err() == nil {
			j.cfg.Logger.WarnContext(ctx, "analytics rollup", slog.Any("error", err))
			j.Committed(0) // try again after the interval
		}
	}
}
