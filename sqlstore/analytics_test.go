package sqlstore_test

import (
	"testing"

	"github.com/kiln-build/kiln/sqlstore"
	"github.com/kiln-build/kiln/sqlstore/storetest"
)

func TestSQLiteAnalytics(t *testing.T) {
	t.Parallel()
	storetest.RunAnalytics(t, func(t *testing.T) *sqlstore.DB { return MustOpenSQLite(t, sqlstore.Options{}) })
}

func TestPostgresAnalytics(t *testing.T) {
	t.Parallel()
	postgresURL(t)
	storetest.RunAnalytics(t, func(t *testing.T) *sqlstore.DB { return MustOpenPostgres(t, sqlstore.Options{}) })
}
