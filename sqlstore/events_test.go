package sqlstore_test

import (
	"testing"

	"github.com/kiln-build/kiln/sqlstore"
	"github.com/kiln-build/kiln/sqlstore/storetest"
)

func TestSQLiteEvents(t *testing.T) {
	t.Parallel()
	storetest.RunEvents(t, func(t *testing.T, opts sqlstore.Options) *sqlstore.DB { return MustOpenSQLite(t, opts) })
}

func TestPostgresEvents(t *testing.T) {
	t.Parallel()
	postgresURL(t)
	storetest.RunEvents(t, func(t *testing.T, opts sqlstore.Options) *sqlstore.DB { return MustOpenPostgres(t, opts) })
}
