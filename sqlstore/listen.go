package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	kiln "github.com/kiln-build/kiln"
)

// How the store tells listeners that events were committed. On SQLite the
// writer is this process, so listeners registered here hear every commit
// directly. On PostgreSQL, writers may be other processes (workers, API
// nodes): each transaction that appended events sends a NOTIFY on the
// schema's channel, which PostgreSQL delivers to every LISTENing session
// only after the commit, and each Listener relays those notices.

// eventHooks is the DB's part of event notification.
type eventHooks struct {
	channel string // PostgreSQL NOTIFY channel of the schema

	mu        sync.Mutex
	listeners map[*Listener]struct{}
}

// pgEventChannel names the NOTIFY channel of the connection's schema:
// channels are per database, and tests run many schemas in one.
func pgEventChannel(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("open postgres: read current schema: %w", err)
	}
	name := "kiln_events_" + schema
	if len(name) > 63 { // NAMEDATALEN - 1
		sum := sha256.Sum256([]byte(schema))
		name = "kiln_events_" + hex.EncodeToString(sum[:12])
	}
	return name, nil
}

// notifyInTx sends the transaction's notices on PostgreSQL; the server
// holds them until commit and drops them on rollback.
func (db *DB) notifyInTx(ctx context.Context, c conn) error {
	if db.dialect != DialectPostgres || c.notes == nil {
		return nil
	}
	for _, n := range c.notes.list {
		payload, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("notify events: %w", err)
		}
		if _, err := c.exec(ctx, "SELECT pg_notify(?, ?)", db.events.channel, string(payload)); err != nil {
			return fmt.Errorf("notify events: %w", err)
		}
	}
	return nil
}

// notifyCommitted tells this process's listeners on SQLite.
func (db *DB) notifyCommitted(notes *txNotices) {
	if db.dialect != DialectSQLite || notes == nil || len(notes.list) == 0 {
		return
	}
	db.events.mu.Lock()
	ls := make([]*Listener, 0, len(db.events.listeners))
	for l := range db.events.listeners {
		ls = append(ls, l)
	}
	db.events.mu.Unlock()
	for _, l := range ls {
		for _, n := range notes.list {
			l.fn(n)
		}
	}
}

// Listener relays the notices of committed events to a function.
type Listener struct {
	db     *DB
	fn     func(kiln.EventNotice)
	resync func()
	conn   *pgx.Conn // PostgreSQL: the LISTENing session
}

// Listen starts listening for committed events: fn is called with a
// notice after each commit that appended events, and resync after the
// listener (re)connected, when notices may have been missed. Both must be
// quick and must not block. On PostgreSQL Listen opens a dedicated
// session and fails when it cannot LISTEN; call Run to relay.
func (db *DB) Listen(ctx context.Context, fn func(kiln.EventNotice), resync func()) (*Listener, error) {
	l := &Listener{db: db, fn: fn, resync: resync}
	if db.dialect == DialectSQLite {
		db.events.mu.Lock()
		if db.events.listeners == nil {
			db.events.listeners = map[*Listener]struct{}{}
		}
		db.events.listeners[l] = struct{}{}
		db.events.mu.Unlock()
		return l, nil
	}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	l.conn = conn
	return l, nil
}

func (l *Listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("listen for events: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.db.events.channel}.Sanitize()); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen for events: %w", err)
	}
	return conn, nil
}

// Run relays notices until ctx ends. On PostgreSQL a lost session is
// reopened with backoff, and resync is called each time it is back. On
// SQLite Run only waits for ctx and then stops the relaying.
func (l *Listener) Run(ctx context.Context) {
	if l.db.dialect == DialectSQLite {
		<-ctx.Done()
		l.db.events.mu.Lock()
		delete(l.db.events.listeners, l)
		l.db.events.mu.Unlock()
		return
	}
	log := l.db.log
	wait := 100 * time.Millisecond
	for {
		if l.conn == nil {
			conn, err := l.connect(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.WarnContext(ctx, "event listener: reconnect failed", slog.Any("error", err), slog.Duration("retry_in", wait))
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				wait = min(2*wait, 10*time.Second)
				continue
			}
			l.conn, wait = conn, 100*time.Millisecond
			log.InfoContext(ctx, "event listener reconnected")
			l.resync()
		}
		n, err := l.conn.WaitForNotification(ctx)
		if err != nil {
			_ = l.conn.Close(context.WithoutCancel(ctx))
			l.conn = nil
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return
			}
			log.WarnContext(ctx, "event listener: session lost", slog.Any("error", err))
			continue
		}
		var note kiln.EventNotice
		if err := json.Unmarshal([]byte(n.Payload), &note); err != nil {
			log.WarnContext(ctx, "event listener: bad notice", slog.String("payload", n.Payload), slog.Any("error", err))
			continue
		}
		l.fn(note)
	}
}
