// Package sqlstore implements Kiln's services on SQL databases: SQLite
// (modernc.org/sqlite, for one machine) and PostgreSQL (pgx, for many). The
// services are written once; the few dialect differences live in dialect.go
// and the schema in embedded goose migrations, one folder per dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect names returned by DB.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// sqliteReaders is the size of SQLite's read pool. WAL lets readers run
// beside the one writer; a few are plenty for one machine.
const sqliteReaders = 4

// sqliteBusyTimeout is how long a SQLite connection waits for a lock held
// by another connection or process before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// Options configures a DB. Zero values take the defaults.
type Options struct {
	Now                  func() time.Time // default time.Now
	Logger               *slog.Logger     // default slog.Default()
	RequireVerifiedEmail bool             // CreateApp/CreateBuild refuse unverified users with EForbidden
}

// EnqueueFunc is called inside the transaction that creates or requeues a
// build (CreateApp, CreateBuild, RescueStaleBuilds); the queue package sets
// it to insert the build's queue job in the same transaction, so there is
// never a build without its job nor a job without its build. An error rolls
// the whole transaction back.
type EnqueueFunc func(ctx context.Context, tx *sql.Tx, buildID int64) error

// DB is an open Kiln database. It is safe for concurrent use.
type DB struct {
	dialect string
	writer  *sql.DB // every write and transaction
	reader  *sql.DB // reads; the same as writer on PostgreSQL
	// readStmts runs reads through prepared statements on SQLite; nil on
	// PostgreSQL, where pgx caches statements itself.
	readStmts *stmtCache
	pool      *pgxpool.Pool

	now             func() time.Time
	log             *slog.Logger
	requireVerified bool

	mu          sync.RWMutex
	enqueue     EnqueueFunc
	mailEnqueue MailEnqueueFunc // see mail.go
	buildMail   BuildMailFunc

	events eventHooks // see events.go
}

// Open opens a database. A url starting with "postgres://" or
// "postgresql://" opens PostgreSQL through a pgx pool (a search_path in the
// URL is honored by migrations and queries alike); anything else is a
// SQLite file path, optionally prefixed with "sqlite:" or "file:", created
// with its parent folder when missing. Open checks that the database is
// reachable but does not migrate it: call Migrate.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	db := &DB{now: opts.Now, log: opts.Logger, requireVerified: opts.RequireVerifiedEmail}
	if db.now == nil {
		db.now = time.Now
	}
	if db.log == nil {
		db.log = slog.Default()
	}
	var err error
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		err = db.openPostgres(ctx, url)
	} else {
		err = db.openSQLite(ctx, url)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

func (db *DB) openPostgres(ctx context.Context, url string) error {
	db.dialect = DialectPostgres
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may echo the URL with its password; keep it out.
		return errors.New("open postgres: cannot parse the database URL")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("open postgres: %w", err)
	}
	if db.events.channel, err = pgEventChannel(ctx, pool); err != nil {
		pool.Close()
		return err
	}
	db.pool = pool
	db.writer = stdlib.OpenDBFromPool(pool)
	db.reader = db.writer
	return nil
}

func (db *DB) openSQLite(ctx context.Context, url string) error {
	db.dialect = DialectSQLite
	path := url
	for _, p := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if strings.HasPrefix(path, p) {
			path = strings.TrimPrefix(path, p)
			break
		}
	}
	switch {
	case path == "":
		return errors.New("open sqlite: empty database path")
	case path == ":memory:" || strings.HasPrefix(path, ":memory:"):
		return errors.New("open sqlite: in-memory databases are not supported; give a file path")
	case strings.ContainsAny(path, "?#"):
		return fmt.Errorf("open sqlite: the path %q must not contain '?' or '#'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("open sqlite: create folder: %w", err)
	}
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds())
	common := busy + "&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	// journal_mode=WAL is persistent in the file, so the writer sets it; the
	// readers only ever open a file the writer has opened first.
	writer, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("open sqlite writer: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		_ = writer.Close()
		return fmt.Errorf("open sqlite writer: %w", err)
	}
	reader, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		_ = writer.Close()
		return fmt.Errorf("open sqlite reader: %w", err)
	}
	reader.SetMaxOpenConns(sqliteReaders)
	reader.SetMaxIdleConns(sqliteReaders)
	if err := reader.PingContext(ctx); err != nil {
		_ = writer.Close()
		_ = reader.Close()
		return fmt.Errorf("open sqlite reader: %w", err)
	}
	db.writer, db.reader = writer, reader
	db.readStmts = newStmtCache(reader)
	return nil
}

// Close closes the database's pools.
func (db *DB) Close() error {
	var errs []error
	if db.readStmts != nil {
		errs = append(errs, db.readStmts.Close())
	}
	if db.reader != nil && db.reader != db.writer {
		errs = append(errs, db.reader.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	if db.pool != nil {
		db.pool.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Writer returns the pool used for writes. On SQLite it is the single
// writer connection (MaxOpenConns 1), which the queue shares: never call
// it while holding one of its transactions. On PostgreSQL it is a *sql.DB
// over the pgx pool.
func (db *DB) Writer() *sql.DB { return db.writer }

// PgxPool returns the PostgreSQL pool, or nil on SQLite.
func (db *DB) PgxPool() *pgxpool.Pool { return db.pool }

// SetEnqueue sets the function that inserts a build's queue job inside the
// transaction creating the build. Until it is set, creating a build fails.
func (db *DB) SetEnqueue(fn EnqueueFunc) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.enqueue = fn
}

// enqueueBuild calls the EnqueueFunc inside tx.
func (db *DB) enqueueBuild(ctx context.Context, tx *sql.Tx, buildID int64) error {
	db.mu.RLock()
	fn := db.enqueue
	db.mu.RUnlock()
	if fn == nil {
		return errors.New("enqueue build: no queue is attached to the store (SetEnqueue)")
	}
	if err := fn(ctx, tx, buildID); err != nil {
		return fmt.Errorf("enqueue build %d: %w", buildID, err)
	}
	return nil
}

// nowUTC returns the store's clock reading, in UTC at the microsecond
// precision both dialects keep.
func (db *DB) nowUTC() time.Time { return normTime(db.now()) }

// normTime returns t in UTC, cut to microseconds: what a stored time reads
// back as on both dialects.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs queries written with ? placeholders on a pool or transaction,
// rebinding them for the dialect.
type conn struct {
	db    *DB
	q     querier
	tx    *sql.Tx    // set inside a transaction
	notes *txNotices // events appended inside the transaction
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.db.rebind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, c.db.rebind(query), args...)
}

func (c conn) row(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.db.rebind(query), args...)
}

// execOne runs a statement and reports whether it changed any row.
func (c conn) execOne(ctx context.Context, query string, args ...any) (bool, error) {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// read returns a conn on the read pool.
func (db *DB) read() conn {
	if db.readStmts != nil {
		return conn{db: db, q: db.readStmts}
	}
	return conn{db: db, q: db.reader}
}

// inTx runs fn in a write transaction, committing when fn returns nil. On
// SQLite the transaction holds the single writer connection: fn must not
// use db.writer or call anything that does.
func (db *DB) inTx(ctx context.Context, fn func(c conn) error) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	c := conn{db: db, q: tx, tx: tx, notes: &txNotices{}}
	if err := fn(c); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := db.notifyInTx(ctx, c); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	db.notifyCommitted(c.notes)
	return nil
}
