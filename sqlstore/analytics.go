package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	kiln "github.com/kiln-build/kiln"
)

// EventStore keeps analytics events, folds them into rollups and answers
// summaries from both. It implements kiln.AnalyticsService.
//
// Event ids give the ingest order, and rollups record the highest id they
// include (analytics_state.rolled_up_to). Inserts are serialized (SQLite
// has one writer; on PostgreSQL each insert transaction takes an advisory
// lock before drawing ids), so the committed ids are always a prefix of
// the id order: a reader that sees id n sees every id below it. That makes
// "rollups up to W, plus the raw events above W" an exact, double-count
// free view of every committed event.
type EventStore struct {
	db *DB

	lockOnce sync.Once
	lockID   int64
	lockErr  error

	stmtMu sync.Mutex
	stmts  map[int]*sql.Stmt // prepared SQLite INSERTs by row count
}

var _ kiln.AnalyticsService = (*EventStore)(nil)

// NewEventStore returns the event store over db.
func NewEventStore(db *DB) *EventStore { return &EventStore{db: db} }

// insertChunk is the most events one INSERT statement carries on SQLite;
// a batch is inserted in power-of-two chunks so that a few prepared
// statements serve every batch size.
const insertChunk = 256

// insertEventsSQL returns the INSERT of n events.
func insertEventsSQL(n int) string {
	return "INSERT INTO analytics_events (app_id, ts, name, user_id, session_id, value, props) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?),", n), ",")
}

// chunks splits n into the power-of-two sizes of insertChunk and below.
func chunks(n int) []int {
	var out []int
	for size := insertChunk; n > 0; size /= 2 {
		for n >= size {
			out = append(out, size)
			n -= size
		}
	}
	return out
}

// insertStmts returns the prepared INSERTs for sizes. They are prepared
// on the writer pool once and kept: on SQLite it is one connection, so a
// transaction reuses them without parsing the statement again. Call it
// outside a transaction, which would hold that connection.
func (s *EventStore) insertStmts(ctx context.Context, sizes []int) (map[int]*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.stmts == nil {
		s.stmts = map[int]*sql.Stmt{}
	}
	out := make(map[int]*sql.Stmt, len(sizes))
	for _, n := range sizes {
		st := s.stmts[n]
		if st == nil {
			var err error
			if st, err = s.db.writer.PrepareContext(ctx, insertEventsSQL(n)); err != nil {
				return nil, fmt.Errorf("prepare insert: %w", err)
			}
			s.stmts[n] = st
		}
		out[n] = st
	}
	return out, nil
}

// evTime is the query argument for an event time: unix microseconds on
// SQLite, timestamptz on PostgreSQL.
func (db *DB) evTime(t time.Time) any {
	if db.dialect == DialectSQLite {
		return t.UnixMicro()
	}
	return t.UTC()
}

// evTimeScan scans an event time of either dialect.
type evTimeScan struct{ t *time.Time }

func (s evTimeScan) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("scan event time: unsupported type %T", src)
	}
	return nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// eventArgs returns the seven column values of an event.
func (db *DB) eventArgs(e *kiln.Event) ([]any, error) {
	var props any
	if len(e.PropertiesJSON) > 0 {
		props = string(e.PropertiesJSON)
	} else if len(e.Properties) > 0 {
		b, err := json.Marshal(e.Properties)
		if err != nil {
			return nil, fmt.Errorf("encode event properties: %w", err)
		}
		props = string(b)
	}
	var value any
	if e.Value != nil {
		value = *e.Value
	}
	return []any{e.AppID, db.evTime(e.Time), e.Name, nullString(e.UserID), nullString(e.SessionID), value, props}, nil
}

// InsertEvents stores events in one transaction and marks their keys as
// used; when it returns nil they are committed. On PostgreSQL it creates a
// missing day partition and retries once.
func (s *EventStore) InsertEvents(ctx context.Context, events []kiln.Event) error {
	if len(events) == 0 {
		return nil
	}
	keys := make([]int64, 0, 4)
	for i := range events {
		if k := events[i].KeyID; k != 0 && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if s.db.dialect == DialectPostgres {
		err := s.insertPostgres(ctx, events, keys)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition") {
			lo, hi := events[0].Time, events[0].Time
			for i := range events {
				lo, hi = minTime(lo, events[i].Time), maxTime(hi, events[i].Time)
			}
			if err := s.EnsurePartitions(ctx, lo, hi.Add(24*time.Hour)); err != nil {
				return err
			}
			err = s.insertPostgres(ctx, events, keys)
		}
		return err
	}
	db := s.db
	sizes := chunks(len(events))
	stmts, err := s.insertStmts(ctx, sizes)
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(c conn) error {
		args := make([]any, 0, 7*insertChunk)
		i := 0
		for _, n := range sizes {
			args = args[:0]
			for _, e := range events[i : i+n] {
				a, err := db.eventArgs(&e)
				if err != nil {
					return err
				}
				args = append(args, a...)
			}
			i += n
			if _, err := c.tx.StmtContext(ctx, stmts[n]).ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		}
		return s.touchKeys(ctx, c, keys)
	})
}

// touchKeys sets the keys' last use, inside the insert transaction.
func (s *EventStore) touchKeys(ctx context.Context, c conn, keys []int64) error {
	if len(keys) == 0 {
		return nil
	}
	args := []any{s.db.ts(s.db.now())}
	for _, k := range keys {
		args = append(args, k)
	}
	q := "UPDATE ingest_keys SET last_used_at = ? WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ") + ")"
	if _, err := c.exec(ctx, q, args...); err != nil {
		return fmt.Errorf("mark ingest keys used: %w", err)
	}
	return nil
}

// ingestLockID returns the advisory lock that serializes event inserts on
// PostgreSQL, one per schema.
func (s *EventStore) ingestLockID(ctx context.Context) (int64, error) {
	s.lockOnce.Do(func() {
		var schema string
		if err := s.db.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			s.lockErr = fmt.Errorf("read current schema: %w", err)
			return
		}
		s.lockID = int64(crc64.Checksum([]byte("kiln.analytics_events."+schema), crc64.MakeTable(crc64.ECMA)) >> 1)
	})
	return s.lockID, s.lockErr
}

func (s *EventStore) insertPostgres(ctx context.Context, events []kiln.Event, keys []int64) error {
	lock, err := s.ingestLockID(ctx)
	if err != nil {
		return err
	}
	tx, err := s.db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after commit
	// Held until commit: ids are drawn and committed in order.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lock); err != nil {
		return fmt.Errorf("lock event inserts: %w", err)
	}
	rows := make([][]any, len(events))
	for i := range events {
		if rows[i], err = s.db.eventArgs(&events[i]); err != nil {
			return err
		}
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"analytics_events"},
		[]string{"app_id", "ts", "name", "user_id", "session_id", "value", "props"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if len(keys) > 0 {
		if _, err := tx.Exec(ctx, "UPDATE ingest_keys SET last_used_at = $1 WHERE id = ANY($2)", s.db.nowUTC(), keys); err != nil {
			return fmt.Errorf("mark ingest keys used: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// RollUp folds up to limit events that the rollups lack into the minute,
// hour and day rollups, in one transaction, and returns how many it
// folded (0 when the rollups are current). Concurrent calls, from this
// process or another node, run one after the other.
func (s *EventStore) RollUp(ctx context.Context, limit int) (int, error) {
	db := s.db
	n := 0
	err := db.inTx(ctx, func(c conn) error {
		var from int64
		if err := c.row(ctx, "SELECT rolled_up_to FROM analytics_state WHERE id = 1"+db.forUpdate()).Scan(&from); err != nil {
			return fmt.Errorf("read rollup state: %w", err)
		}
		rows, err := c.query(ctx, "SELECT id, app_id, ts, name, user_id, value, props FROM analytics_events WHERE id > ? ORDER BY id LIMIT ?", from, limit)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		defer rows.Close()
		groups := map[rollupKey]*rollup{}
		last := from
		for rows.Next() {
			var app int64
			var ts time.Time
			var name string
			var user sql.NullString
			var value *float64
			var props []byte
			if err := rows.Scan(&last, &app, evTimeScan{&ts}, &name, &user, &value, &props); err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			m, err := decodeProps(props)
			if err != nil {
				return err
			}
			sec := ts.Unix()
			for _, g := range granularities {
				k := rollupKey{app: app, granularity: g, bucket: sec - mod(sec, g), name: name}
				r := groups[k]
				if r == nil {
					r = new(rollup)
					groups[k] = r
				}
				r.addEvent(value, user.String, m)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		rows.Close()
		if n == 0 {
			return nil
		}
		// Every group reads and writes one row: prepare both statements once.
		read, err := c.tx.PrepareContext(ctx, db.rebind("SELECT "+rollupColumns+
			" FROM analytics_rollups WHERE app_id = ? AND granularity = ? AND bucket = ? AND name = ?"+db.forUpdate()))
		if err != nil {
			return fmt.Errorf("prepare rollup read: %w", err)
		}
		defer read.Close()
		write, err := c.tx.PrepareContext(ctx, db.rebind(`INSERT INTO analytics_rollups
			(app_id, granularity, bucket, name, count, value_count, value_sum, value_min, value_max, sketch, users, props)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (app_id, granularity, bucket, name) DO UPDATE SET
			count = excluded.count, value_count = excluded.value_count, value_sum = excluded.value_sum,
			value_min = excluded.value_min, value_max = excluded.value_max,
			sketch = excluded.sketch, users = excluded.users, props = excluded.props`))
		if err != nil {
			return fmt.Errorf("prepare rollup write: %w", err)
		}
		defer write.Close()
		for k, r := range groups {
			stored, err := scanRollup(read.QueryRowContext(ctx, k.app, k.granularity, k.bucket, k.name))
			if err == nil {
				r.merge(stored)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read rollup: %w", err)
			}
			values, users, props, err := r.encoded()
			if err != nil {
				return err
			}
			var minV, maxV any
			if r.valueCount > 0 {
				minV, maxV = r.min, r.max
			}
			_, err = write.ExecContext(ctx, k.app, k.granularity, k.bucket, k.name, r.count, r.valueCount, r.sum, minV, maxV, values, users, props)
			if err != nil {
				return fmt.Errorf("write rollup: %w", err)
			}
		}
		if _, err := c.exec(ctx, "UPDATE analytics_state SET rolled_up_to = ? WHERE id = 1", last); err != nil {
			return fmt.Errorf("write rollup state: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// mod is the floor modulus, so that times before 1970 bucket downward.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// RolledUpTo returns the highest event id the rollups include.
func (s *EventStore) RolledUpTo(ctx context.Context) (int64, error) {
	var w int64
	if err := s.db.read().row(ctx, "SELECT rolled_up_to FROM analytics_state WHERE id = 1").Scan(&w); err != nil {
		return 0, fmt.Errorf("read rollup state: %w", err)
	}
	return w, nil
}
