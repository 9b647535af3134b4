package sqlstore

import (
	"encoding/json"
	"fmt"
	"hash/crc64"
	"strconv"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// This file holds every difference between the dialects that queries see:
// placeholders, how times and JSON travel, and row locking. Queries are
// written once, with ? placeholders.

// sqliteTimeFormat is how SQLite stores times: UTC, fixed width, so that
// text comparison and ORDER BY agree with time order.
const sqliteTimeFormat = "2006-01-02T15:04:05.000000Z"

// rebind turns ? placeholders into $1, $2 … for PostgreSQL. Queries in this
// package never put a ? inside a string literal.
func (db *DB) rebind(query string) string {
	if db.dialect != DialectPostgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// ts returns the query argument for a timestamp.
func (db *DB) ts(t time.Time) any {
	t = normTime(t)
	if db.dialect == DialectSQLite {
		return t.Format(sqliteTimeFormat)
	}
	return t
}

// nts returns the query argument for a nullable timestamp.
func (db *DB) nts(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.ts(*t)
}

// forUpdate is appended to a SELECT inside a transaction to lock the rows
// it reads. SQLite needs nothing: its transactions take the write lock at
// BEGIN (_txlock=immediate).
func (db *DB) forUpdate() string {
	if db.dialect == DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// lockUsersStmt returns the statement that serializes user creation so the
// first-user-is-admin decision is atomic, or "" when transactions are
// already serial (SQLite).
func (db *DB) lockUsersStmt() string {
	if db.dialect == DialectPostgres {
		return "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"
	}
	return ""
}

// migrationLockID returns the PostgreSQL advisory lock id that serializes
// migrations of one schema across processes, so concurrent nodes migrate
// in turn while separate schemas (tests) do not wait on each other.
func migrationLockID(schema string) int64 {
	const base = 4097083626 // goose's lock.DefaultLockID
	if schema == "" || schema == "public" {
		return base
	}
	return int64(crc64.Checksum([]byte(schema), crc64.MakeTable(crc64.ECMA)) >> 1)
}

// timeScan scans a NOT NULL timestamp of either dialect into *t.
type timeScan struct{ t *time.Time }

func (s timeScan) Scan(src any) error {
	t, ok, err := parseDBTime(src)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("scan time: unexpected NULL")
	}
	*s.t = t
	return nil
}

// nullTimeScan scans a nullable timestamp into **t (nil for NULL).
type nullTimeScan struct{ t **time.Time }

func (s nullTimeScan) Scan(src any) error {
	t, ok, err := parseDBTime(src)
	if err != nil {
		return err
	}
	if !ok {
		*s.t = nil
		return nil
	}
	*s.t = &t
	return nil
}

func parseDBTime(src any) (time.Time, bool, error) {
	var s string
	switch v := src.(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		return normTime(v), true, nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return time.Time{}, false, fmt.Errorf("scan time: unsupported type %T", src)
	}
	for _, layout := range []string{sqliteTimeFormat, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return normTime(t), true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("scan time: cannot parse %q", s)
}

// specArg returns the query argument for a spec column: NULL or JSON text.
func specArg(spec *kiln.AppSpec) (any, error) {
	if spec == nil {
		return nil, nil
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	return string(b), nil
}

// specScan scans a nullable JSON spec column into **kiln.AppSpec.
type specScan struct{ spec **kiln.AppSpec }

func (s specScan) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*s.spec = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan spec: unsupported type %T", src)
	}
	spec := new(kiln.AppSpec)
	if err := json.Unmarshal(b, spec); err != nil {
		return fmt.Errorf("scan spec: %w", err)
	}
	*s.spec = spec
	return nil
}

// boolScan scans a boolean stored as boolean (PostgreSQL) or 0/1 (SQLite).
type boolScan struct{ b *bool }

func (s boolScan) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*s.b = v
	case int64:
		*s.b = v != 0
	default:
		return fmt.Errorf("scan bool: unsupported type %T", src)
	}
	return nil
}
