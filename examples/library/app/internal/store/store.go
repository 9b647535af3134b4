// Package store keeps the records of Library in SQLite
// (modernc.org/sqlite, pure Go). The schema is created by the embedded SQL
// migrations in migrations/, applied in name order once each.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Kinds of failure the API reports to clients; an *Error wraps one of them.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// Error is a failure caused by the request: Kind is ErrNotFound,
// ErrConflict or ErrInvalid; Fields names the JSON fields at fault.
type Error struct {
	Kind    error
	Message string
	Fields  map[string]string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the kind, so that errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

// Paging limits of list calls.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ListOptions selects one page of a list, in id order. Filter keeps the
// records whose foreign key column (the key) equals the value.
type ListOptions struct {
	Limit  int
	Offset int
	Filter map[string]int64
}

// timeFormat is RFC 3339 in UTC with a fixed number of digits, so that
// stored times sort as text.
const timeFormat = "2006-01-02T15:04:05.000000Z07:00"

// DB is the app's database.
type DB struct {
	db  *sql.DB
	now func() time.Time
}

// Open opens (creating if needed) the SQLite database at path and applies
// the migrations it has not seen yet.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	dsn := path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// SQLite has one writer; one connection avoids "database is locked".
	sdb.SetMaxOpenConns(1)
	db := &DB{db: sdb, now: time.Now}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS "schema_migrations" ("version" TEXT PRIMARY KEY, "applied_at" TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		if err := db.apply(ctx, name, version); err != nil {
			return fmt.Errorf("migrate %s: %w", version, err)
		}
	}
	return nil
}

func (db *DB) apply(ctx context.Context, name, version string) error {
	script, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM "schema_migrations" WHERE "version" = ?`, version).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(script)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO "schema_migrations" ("version", "applied_at") VALUES (?, ?)`, version, db.now().UTC().Format(timeFormat)); err != nil {
		return err
	}
	return tx.Commit()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// exists reports whether table holds a row with the id.
func exists(ctx context.Context, tx *sql.Tx, table string, id int64) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`" WHERE "id" = ?`, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check %s %d: %w", table, id, err)
	}
	return n > 0, nil
}

// taken reports whether another row than id holds value in column.
func taken(ctx context.Context, tx *sql.Tx, table, column string, value any, id int64) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`" WHERE "`+column+`" = ? AND "id" <> ?`, value, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check unique %s.%s: %w", table, column, err)
	}
	return n > 0, nil
}

// count returns how many rows of table have column = id.
func count(ctx context.Context, tx *sql.Tx, table, column string, id int64) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`" WHERE "`+column+`" = ?`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// where builds the WHERE clause of a list from its filter, accepting only
// the allowed columns.
func where(opts ListOptions, searchable []string, allowed ...string) (string, []any, error) {
	filter := opts.Filter
	keys := make([]string, 0, len(filter))
	for k := range filter {
		if !slices.Contains(allowed, k) {
			return "", nil, &Error{Kind: ErrInvalid, Message: "cannot filter by " + k}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var conds []string
	var args []any
	for _, k := range keys {
		conds = append(conds, `"`+k+`" = ?`)
		args = append(args, filter[k])
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// page returns the limit and offset of opts with defaults applied.
func page(opts ListOptions) (int, int) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	return min(limit, MaxLimit), max(opts.Offset, 0)
}

// constraintError turns a constraint violation that slipped past the
// checks (a concurrent writer, say) into a conflict.
func constraintError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &Error{Kind: ErrConflict, Message: "conflicts with an existing record"}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &Error{Kind: ErrConflict, Message: "refers to a missing record, or is still referred to"}
		}
	}
	return err
}
