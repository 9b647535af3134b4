package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// pruneChunk is how many events one SQLite delete removes, so that
// pruning never holds the single writer for long.
const pruneChunk = 5000

// maxPartitionDays bounds how many day partitions one call creates.
const maxPartitionDays = 400

// day is 24 hours; partitions and day rollups are UTC days.
const day = 24 * time.Hour

// Prune deletes what retention no longer keeps: raw events and minute
// rollups from before eventsBefore, hour and day rollups from before
// rollupsBefore. Events the rollups do not include yet stay. On
// PostgreSQL whole day partitions are dropped. It returns how many events
// it deleted (on PostgreSQL, of the dropped partitions).
func (s *EventStore) Prune(ctx context.Context, eventsBefore, rollupsBefore time.Time) (int64, error) {
	upTo, err := s.RolledUpTo(ctx)
	if err != nil {
		return 0, err
	}
	var deleted int64
	if s.db.dialect == DialectPostgres {
		deleted, err = s.dropPartitions(ctx, eventsBefore, upTo)
	} else {
		deleted, err = s.deleteEvents(ctx, eventsBefore, upTo)
	}
	if err != nil {
		return deleted, err
	}
	err = s.db.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, "DELETE FROM analytics_rollups WHERE granularity = 60 AND bucket < ?", eventsBefore.Unix()); err != nil {
			return fmt.Errorf("prune minute rollups: %w", err)
		}
		if _, err := c.exec(ctx, "DELETE FROM analytics_rollups WHERE granularity > 60 AND bucket < ?", rollupsBefore.Unix()); err != nil {
			return fmt.Errorf("prune rollups: %w", err)
		}
		return nil
	})
	return deleted, err
}

// deleteEvents deletes old events on SQLite, app by app through the
// (app_id, ts) index, a chunk per transaction.
func (s *EventStore) deleteEvents(ctx context.Context, before time.Time, upTo int64) (int64, error) {
	rows, err := s.db.read().query(ctx, "SELECT id FROM apps")
	if err != nil {
		return 0, fmt.Errorf("list apps: %w", err)
	}
	var apps []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list apps: %w", err)
		}
		apps = append(apps, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list apps: %w", err)
	}
	var total int64
	for _, app := range apps {
		for {
			var n int64
			err := s.db.inTx(ctx, func(c conn) error {
				res, err := c.exec(ctx, `DELETE FROM analytics_events WHERE id IN (
					SELECT id FROM analytics_events WHERE app_id = ? AND ts < ? AND id <= ? LIMIT ?)`,
					app, s.db.evTime(before), upTo, pruneChunk)
				if err != nil {
					return fmt.Errorf("prune events: %w", err)
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < pruneChunk {
				break
			}
		}
	}
	return total, nil
}

// partitionName names the partition of one UTC day.
func partitionName(d time.Time) string { return "analytics_events_p" + d.Format("20060102") }

// EnsurePartitions creates the day partitions of analytics_events that
// cover [from, to) on PostgreSQL; on SQLite it does nothing. Nodes may call
// it at the same time.
func (s *EventStore) EnsurePartitions(ctx context.Context, from, to time.Time) error {
	if s.db.dialect != DialectPostgres {
		return nil
	}
	lock, err := s.ingestLockID(ctx)
	if err != nil {
		return err
	}
	first := from.UTC().Truncate(day)
	if days := to.Sub(first) / day; days > maxPartitionDays {
		return fmt.Errorf("ensure partitions: %d days from %s is too many", days, first.Format(time.DateOnly))
	}
	return s.db.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, "SELECT pg_advisory_xact_lock(?)", lock+1); err != nil {
			return fmt.Errorf("lock partitions: %w", err)
		}
		existing, err := s.partitions(ctx, c)
		if err != nil {
			return err
		}
		for d := first; d.Before(to); d = d.Add(day) {
			name := partitionName(d)
			if _, ok := existing[name]; ok {
				continue
			}
			q := fmt.Sprintf("CREATE TABLE %s PARTITION OF analytics_events FOR VALUES FROM ('%s') TO ('%s')",
				name, d.Format("2006-01-02 15:04:05Z07:00"), d.Add(day).Format("2006-01-02 15:04:05Z07:00"))
			if _, err := c.exec(ctx, q); err != nil {
				return fmt.Errorf("create partition %s: %w", name, err)
			}
		}
		return nil
	})
}

// partitions returns the day partitions of analytics_events by name, with
// their day.
func (s *EventStore) partitions(ctx context.Context, c conn) (map[string]time.Time, error) {
	rows, err := c.query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'analytics_events'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list partitions: %w", err)
		}
		d, err := time.Parse("20060102", strings.TrimPrefix(name, "analytics_events_p"))
		if err != nil {
			continue // not one of ours
		}
		out[name] = d
	}
	return out, rows.Err()
}

// dropPartitions drops the day partitions that end at or before before and
// whose events are all rolled up.
func (s *EventStore) dropPartitions(ctx context.Context, before time.Time, upTo int64) (int64, error) {
	lock, err := s.ingestLockID(ctx)
	if err != nil {
		return 0, err
	}
	var dropped int64
	err = s.db.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, "SELECT pg_advisory_xact_lock(?)", lock+1); err != nil {
			return fmt.Errorf("lock partitions: %w", err)
		}
		parts, err := s.partitions(ctx, c)
		if err != nil {
			return err
		}
		for name, d := range parts {
			if d.Add(day).After(before) {
				continue
			}
			var n, maxID int64
			if err := c.row(ctx, "SELECT count(*), coalesce(max(id), 0) FROM "+name).Scan(&n, &maxID); err != nil {
				return fmt.Errorf("inspect partition %s: %w", name, err)
			}
			if maxID > upTo {
				continue // not rolled up yet: the next run drops it
			}
			if _, err := c.exec(ctx, "DROP TABLE "+name); err != nil {
				return fmt.Errorf("drop partition %s: %w", name, err)
			}
			dropped += n
		}
		return nil
	})
	return dropped, err
}
