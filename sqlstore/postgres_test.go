package sqlstore_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln/sqlstore"
	"github.com/kiln-build/kiln/sqlstore/pgtest"
	"github.com/kiln-build/kiln/sqlstore/storetest"
)

// postgresURL returns KILN_TEST_POSTGRES_URL or skips the test.
func postgresURL(tb testing.TB) string { return pgtest.URL(tb) }

// mustCreateSchema creates a fresh schema, dropped when the test ends, and
// returns the database URL with search_path set to it.
func mustCreateSchema(tb testing.TB) (dbURL, schema string) { return pgtest.MustSchema(tb) }

// mustOpenURL opens a database, closed when the test ends (before its
// schema is dropped).
func mustOpenURL(tb testing.TB, dbURL string, opts sqlstore.Options) *sqlstore.DB {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := sqlstore.Open(context.Background(), dbURL, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, db.Close()) })
	return db
}

// MustOpenPostgres opens and migrates a database in a fresh schema, which
// is dropped when the test ends.
func MustOpenPostgres(tb testing.TB, opts sqlstore.Options) *sqlstore.DB {
	tb.Helper()
	ctx := context.Background()
	dbURL, schema := mustCreateSchema(tb)
	db := mustOpenURL(tb, dbURL, opts)
	require.NoError(tb, db.Migrate(ctx))

	// Everything landed in the test's schema, goose's table too.
	var n int
	require.NoError(tb, db.PgxPool().QueryRow(ctx, `SELECT count(*) FROM pg_tables
		WHERE schemaname = $1 AND tablename IN ('builds', 'goose_db_version')`, schema).Scan(&n))
	require.Equal(tb, 2, n)
	return db
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	postgresURL(t)
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return MustOpenPostgres(t, sqlstore.Options{}) })
}

func TestPostgresRequireVerifiedEmail(t *testing.T) {
	t.Parallel()
	postgresURL(t)
	storetest.RunRequireVerifiedEmail(t, func(t *testing.T, opts sqlstore.Options) *sqlstore.DB {
		return MustOpenPostgres(t, opts)
	})
}

func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	db := MustOpenPostgres(t, sqlstore.Options{})
	require.Equal(t, sqlstore.DialectPostgres, db.Dialect())
	require.NotNil(t, db.PgxPool())
	require.NoError(t, db.PgxPool().Ping(context.Background()))

	_, err := sqlstore.Open(context.Background(), "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", sqlstore.Options{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret", "the password stays out of errors")
}

func TestPostgresConcurrentMigrate(t *testing.T) {
	t.Parallel()
	dbURL, _ := mustCreateSchema(t)
	ctx := context.Background()
	const nodes = 3
	errs := make(chan error, nodes)
	for range nodes {
		db := mustOpenURL(t, dbURL, sqlstore.Options{})
		go func() { errs <- db.Migrate(ctx) }()
	}
	for range nodes {
		require.NoError(t, <-errs, "nodes starting together migrate in turn")
	}
	db := mustOpenURL(t, dbURL, sqlstore.Options{})
	require.NoError(t, db.Ping(ctx))
}
