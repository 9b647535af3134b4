package sqlstore_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln/sqlstore"
	"github.com/kiln-build/kiln/sqlstore/storetest"
)

// MustOpenSQLite opens and migrates a fresh SQLite database in a temporary
// folder, closed when the test ends.
func MustOpenSQLite(tb testing.TB, opts sqlstore.Options) *sqlstore.DB {
	tb.Helper()
	ctx := context.Background()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := sqlstore.Open(ctx, filepath.Join(tb.TempDir(), "kiln.db"), opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, db.Close()) })
	require.NoError(tb, db.Migrate(ctx))
	return db
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *sqlstore.DB { return MustOpenSQLite(t, sqlstore.Options{}) })
}

func TestSQLiteRequireVerifiedEmail(t *testing.T) {
	t.Parallel()
	storetest.RunRequireVerifiedEmail(t, func(t *testing.T, opts sqlstore.Options) *sqlstore.DB {
		return MustOpenSQLite(t, opts)
	})
}

func TestOpenSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("CreatesFolderWithPrefix", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "a", "b", "kiln.db")
		db, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{})
		require.NoError(t, err)
		defer db.Close()
		require.Equal(t, sqlstore.DialectSQLite, db.Dialect())
		require.Nil(t, db.PgxPool())
		require.Equal(t, 1, db.Writer().Stats().MaxOpenConnections, "one writer connection")
		_, err = os.Stat(path)
		require.NoError(t, err)

		var mode string
		require.NoError(t, db.Writer().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
		require.Equal(t, "wal", mode)
		var fk int
		require.NoError(t, db.Writer().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
		require.Equal(t, 1, fk)
	})

	t.Run("PingBeforeMigrate", func(t *testing.T) {
		t.Parallel()
		db, err := sqlstore.Open(ctx, "file:"+filepath.Join(t.TempDir(), "kiln.db"), sqlstore.Options{})
		require.NoError(t, err)
		defer db.Close()
		err = db.Ping(ctx)
		require.Error(t, err)
		require.Contains(t, err.Error(), "not migrated")
		require.NoError(t, db.Migrate(ctx))
		require.NoError(t, db.Ping(ctx))
	})

	t.Run("ErrBadPath", func(t *testing.T) {
		t.Parallel()
		for _, url := range []string{"", ":memory:", "sqlite:", filepath.Join(t.TempDir(), "x?mode=ro")} {
			_, err := sqlstore.Open(ctx, url, sqlstore.Options{})
			require.Error(t, err, url)
		}
	})

	t.Run("ReopenKeepsData", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "kiln.db")
		db, err := sqlstore.Open(ctx, path, sqlstore.Options{})
		require.NoError(t, err)
		require.NoError(t, db.Migrate(ctx))
		_, err = db.Writer().ExecContext(ctx, "INSERT INTO users (email, email_key, role, created_at, updated_at) VALUES ('a@b.c', 'a@b.c', 'admin', 'x', 'x')")
		require.NoError(t, err)
		require.NoError(t, db.Close())

		db, err = sqlstore.Open(ctx, path, sqlstore.Options{})
		require.NoError(t, err)
		defer db.Close()
		require.NoError(t, db.Migrate(ctx))
		var n int
		require.NoError(t, db.Writer().QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n))
		require.Equal(t, 1, n, "reopening and migrating again keeps the data")
	})
}
