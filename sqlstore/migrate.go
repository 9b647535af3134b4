package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// gooseTable is the table where goose records applied migrations.
const gooseTable = "goose_db_version"

// migrations returns the dialect's migration folder.
func (db *DB) migrations() (fs.FS, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+db.dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return sub, nil
}

// provider returns a goose provider over the writer. On PostgreSQL it
// holds an advisory lock while migrating, keyed by the current schema, so
// nodes starting together migrate one at a time.
func (db *DB) provider(ctx context.Context) (*goose.Provider, error) {
	fsys, err := db.migrations()
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(db.log),
		// Features land migrations in their own version ranges, so a
		// database migrated by a newer binary may lack a lower version
		// added later; apply it rather than refuse to start.
		goose.WithAllowOutofOrder(true),
	}
	dialect := goose.DialectSQLite3
	if db.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
		var schema string
		if err := db.writer.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return nil, fmt.Errorf("read current schema: %w", err)
		}
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(migrationLockID(schema)),
			lock.WithLockTimeout(1, 300), // try every second for five minutes
		)
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// The provider is never closed: Close would close db.writer.
	p, err := goose.NewProvider(dialect, db.writer, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Migrate applies the migrations the database lacks. It is idempotent and
// safe to run from several processes at once.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.provider(ctx)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		db.log.InfoContext(ctx, "migration applied",
			"version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// schemaVersion returns the newest migration version embedded in the binary.
func (db *DB) schemaVersion() (int64, error) {
	fsys, err := db.migrations()
	if err != nil {
		return 0, err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	var latest int64
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return 0, fmt.Errorf("migrations: %s: %w", name, err)
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// Ping reports whether the database is reachable and its schema is the one
// this binary expects. The error says which check failed. It writes
// nothing, so a readiness probe may call it often.
func (db *DB) Ping(ctx context.Context) error {
	// The read pool: on SQLite the single writer connection may be busy
	// with a transaction, and a probe should not queue behind it.
	if err := db.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	want, err := db.schemaVersion()
	if err != nil {
		return err
	}
	var got *int64
	if err := db.read().row(ctx, "SELECT max(version_id) FROM "+gooseTable+" WHERE is_applied").Scan(&got); err != nil {
		return fmt.Errorf("database not migrated: cannot read migration version: %w", err)
	}
	switch {
	case got == nil || *got < want:
		have := int64(0)
		if got != nil {
			have = *got
		}
		return fmt.Errorf("database not migrated: schema version %d, this binary needs %d (run kiln migrate)", have, want)
	case *got > want:
		// A newer binary migrated ahead of this one, as in a rolling
		// upgrade; migrations only add, so this one still works.
		db.log.WarnContext(ctx, "database schema is newer than this binary", "have", *got, "want", want)
	}
	return nil
}
