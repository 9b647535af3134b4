package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/eventbus"
	"github.com/kiln-build/kiln/sqlstore"
)

// startEvents starts what the live event streams of an API node need: the
// bus that fans events out, the listener that wakes it when events are
// committed (by this process, or on PostgreSQL by any), and the job that
// prunes old logs and expired stream tickets.
func (m *Main) startEvents(ctx context.Context) error {
	cfg := m.Config
	events := sqlstore.NewBuildEventService(m.DB)
	m.eventStore = events
	m.Events = eventbus.New(eventbus.Config{
		Source: events, PollInterval: cfg.Stream.PollInterval, Buffer: cfg.Stream.Buffer, Logger: m.Logger,
	})
	l, err := m.DB.Listen(ctx, m.Events.Publish, m.Events.Resync)
	if err != nil {
		return err
	}
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		l.Run(ctx)
	}()
	go func() {
		defer m.wg.Done()
		pruneEvents(ctx, events, cfg.Build.LogRetention, m.Logger)
	}()
	return nil
}

// pruneEvents deletes expired stream tickets and, when retention is set,
// the log lines of builds that ended longer ago, every hour.
func pruneEvents(ctx context.Context, events *sqlstore.BuildEventService, retention time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		if err := events.DeleteExpiredStreamTickets(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("delete expired stream tickets", slog.Any("error", err))
		}
		for retention > 0 && ctx.Err() == nil {
			const perPass = 100
			builds, lines, err := events.PruneLogs(ctx, now.Add(-retention), perPass)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("prune build logs", slog.Any("error", err))
				}
				break
			}
			if builds > 0 {
				log.Info("pruned build logs", slog.Int("builds", builds), slog.Int64("lines", lines), slog.Duration("retention", retention))
			}
			if builds < perPass {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// streamAPI gives the API what its event streams need.
func (m *Main) streamAPI(c *api.Config) {
	s := m.Config.Stream
	c.Events, c.Bus = m.eventStore, m.Events
	c.Stream = api.StreamConfig{
		PingInterval: s.PingInterval, IdleTimeout: s.IdleTimeout, WriteTimeout: s.WriteTimeout,
		MaxPerUser: s.MaxPerUser, TicketTTL: s.TicketTTL,
	}
}
