// Package pgtest gives tests their own PostgreSQL schema on the server
// named by KILN_TEST_POSTGRES_URL, so tests run in parallel without seeing
// each other's rows. Tests that need PostgreSQL skip, with a message saying
// how to run them, when the variable is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable holding the test server's URL.
const EnvURL = "KILN_TEST_POSTGRES_URL"

// URL returns the test server's URL, or skips tb when it is not set.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		tb.Skip(EnvURL + " is not set; set it (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests")
	}
	return u
}

// MustSchema creates a fresh schema, dropped with everything in it when the
// test ends, and returns the database URL with search_path set to it, and
// the schema's name. Register cleanups that close connections to it after
// calling MustSchema, so they run before the drop.
func MustSchema(tb testing.TB) (dbURL, schema string) {
	tb.Helper()
	ctx := context.Background()
	base := URL(tb)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "kiln_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}
