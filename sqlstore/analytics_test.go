package sqlstore_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/analytics"
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

// TestPostgresAnalyticsPartitions runs the analytics maintenance job on
// PostgreSQL: it creates a day partition of analytics_events for every day
// from the retention window to a week ahead, and drops the partitions past
// retention once their events are rolled up, with their events; the
// events inside the window stay.
func TestPostgresAnalyticsPartitions(t *testing.T) {
	t.Parallel()
	postgresURL(t)
	ctx := context.Background()
	db := MustOpenPostgres(t, sqlstore.Options{})
	db.SetEnqueue(func(context.Context, *sql.Tx, int64) error { return nil })
	store := sqlstore.NewEventStore(db)
	u := &kiln.User{Email: "ada@example.com", EmailVerified: true}
	require.NoError(t, sqlstore.NewAuthStore(db).CreateUser(ctx, u))
	app, _, err := sqlstore.NewAppService(db).CreateApp(kiln.NewContextWithUser(ctx, u), kiln.AppCreate{Description: "a busy app"})
	require.NoError(t, err)

	partitions := func() map[string]int {
		t.Helper()
		rows, err := db.PgxPool().Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'analytics_events'::regclass`)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var name string
			require.NoError(t, rows.Scan(&name))
			out[name] = 0
		}
		require.NoError(t, rows.Err())
		for name := range out {
			var n int
			require.NoError(t, db.PgxPool().QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&n))
			out[name] = n
		}
		return out
	}
	part := func(d time.Time) string { return "analytics_events_p" + d.Format("20060102") }
	day := 24 * time.Hour

	// Events older than the retention window, stored before the job first
	// runs: the insert creates their partition.
	now := time.Now().UTC()
	today := now.Truncate(day)
	old := today.Add(-10 * day).Add(3 * time.Hour)
	require.NoError(t, store.InsertEvents(ctx, storetest.MustEvents(app.ID, old, 40, 4)))
	require.Equal(t, 40, partitions()[part(old)], "an insert creates the missing partition")

	jobs := analytics.NewJobs(analytics.JobsConfig{
		Store: store, Retention: 3 * day, RollupRetention: 30 * day,
		Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	// window is the partitions the job keeps at now: every day that
	// overlaps the retention window, up to a week ahead.
	window := func() []string {
		var out []string
		for d := now.Add(-3 * day).Truncate(day); d.Before(now.Add(7 * day)); d = d.Add(day) {
			out = append(out, part(d))
		}
		return out
	}
	names := func(m map[string]int) []string {
		var out []string
		for name := range m {
			out = append(out, name)
		}
		return out
	}
	require.NoError(t, jobs.Maintain(ctx))
	got := partitions()
	require.Equal(t, 40, got[part(old)], "events the rollups lack are not dropped")
	require.ElementsMatch(t, append(window(), part(old)), names(got))

	// Events inside the window go to their existing partitions.
	require.NoError(t, store.InsertEvents(ctx, storetest.MustEvents(app.ID, today, 25, 5)))
	require.Equal(t, 25, partitions()[part(today)])

	_, err = jobs.RollUpAll(ctx)
	require.NoError(t, err)
	require.NoError(t, jobs.Maintain(ctx))
	got = partitions()
	require.NotContains(t, got, part(old), "past retention and rolled up: dropped")
	require.Equal(t, 25, got[part(today)])
	require.ElementsMatch(t, window(), names(got))

	// The dropped events still count in the hour rollups.
	uctx := kiln.NewContextWithUser(ctx, u)
	sum, err := store.Summary(uctx, app.ID, kiln.SummaryQuery{From: old.Truncate(day), To: old.Truncate(day).Add(day), Interval: kiln.IntervalHour})
	require.NoError(t, err)
	require.EqualValues(t, 40, sum.Totals.Count)

	// A run a day later moves the window: the day that fell out of it is
	// dropped and the next day ahead is created.
	first := window()[0]
	now = now.Add(day)
	require.NoError(t, jobs.Maintain(ctx))
	got = partitions()
	require.NotContains(t, got, first)
	require.Contains(t, got, part(today.Add(8*day)))
	require.ElementsMatch(t, window(), names(got))
	require.Equal(t, 25, got[part(today)])
}
