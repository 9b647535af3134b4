package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// benchEvents is how many events BenchmarkSummary stores: 1,000,000 by
// default, KILN_BENCH_EVENTS=10000000 for the figure in docs/ANALYTICS.md
// (storing and rolling them up takes minutes).
func benchEvents(b *testing.B) int {
	if s := os.Getenv("KILN_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("KILN_BENCH_EVENTS=%q", s)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkSummary stores events spread over 30 days (five names, 50,000
// users, three properties, a value each) through InsertEvents, rolls them
// all up, then times a 30-day hourly summary of every event and of one
// event name.
//
// With KILN_BENCH_DB=PATH the database is kept at PATH: a later run with
// the same PATH times the summaries over the events stored there (their
// 30 days, whatever KILN_BENCH_EVENTS says), so the 10-million-event
// figure can be measured again without storing them again:
//
//	KILN_BENCH_EVENTS=10000000 KILN_BENCH_DB=/tmp/summary10m.db go test ./sqlstore -run '^$' -bench Summary -benchtime 20x -timeout 2h
func BenchmarkSummary(b *testing.B) {
	n := benchEvents(b)
	ctx := context.Background()
	path := os.Getenv("KILN_BENCH_DB")
	reuse := false
	if path == "" {
		path = filepath.Join(b.TempDir(), "kiln.db")
	} else if _, err := os.Stat(path); err == nil {
		reuse = true
	}
	db, err := sqlstore.Open(ctx, path, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	store := sqlstore.NewEventStore(db)
	apps := sqlstore.NewAppService(db)
	db.SetEnqueue(func(context.Context, *sql.Tx, int64) error { return nil })
	var start, end time.Time
	var app *kiln.App
	var uctx context.Context
	if reuse {
		start, end, app, uctx, n = reuseSummaryDB(b, db, apps)
	} else {
		start, end, app, uctx = fillSummaryDB(b, db, store, apps, n)
	}

	for _, event := range []string{"", "purchase"} {
		b.Run("Event="+event, func(b *testing.B) {
			q := kiln.SummaryQuery{From: start, To: end, Interval: kiln.IntervalHour, Event: event}
			var sum *kiln.Summary
			for b.Loop() {
				if sum, err = store.Summary(uctx, app.ID, q); err != nil {
					b.Fatal(err)
				}
			}
			if len(sum.Series) != 720 || event == "" && sum.Totals.Count != int64(n) {
				b.Fatalf("%d points, %d events", len(sum.Series), sum.Totals.Count)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/summary")
		})
	}
}

// fillSummaryDB stores n events over the 30 days before the current hour
// and rolls them up.
func fillSummaryDB(b *testing.B, db *sqlstore.DB, store *sqlstore.EventStore, apps kiln.AppService, n int) (start, end time.Time, app *kiln.App, uctx context.Context) {
	ctx := context.Background()
	u := &kiln.User{Email: "bench@example.com", EmailVerified: true}
	if err := sqlstore.NewAuthStore(db).CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	uctx = kiln.NewContextWithUser(ctx, u)
	app, _, err := apps.CreateApp(uctx, kiln.AppCreate{Description: "a busy app"})
	if err != nil {
		b.Fatal(err)
	}

	end = time.Now().UTC().Truncate(time.Hour)
	start = end.Add(-30 * 24 * time.Hour)
	span := end.Sub(start)
	names := []string{"request", "request", "request", "request", "request", "request", "request", "signup", "purchase", "error"}
	routes := make([]string, 20)
	for i := range routes {
		routes[i] = fmt.Sprintf("GET /api/things%d/{id}", i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now()
	const batch = 5000
	events := make([]kiln.Event, 0, batch)
	for i := range n {
		v := rng.ExpFloat64() * 20
		events = append(events, kiln.Event{
			AppID: app.ID, Name: names[rng.IntN(len(names))], Time: start.Add(time.Duration(rng.Int64N(int64(span)))),
			UserID: "u" + strconv.Itoa(rng.IntN(50000)), Value: &v,
			Properties: map[string]any{"route": routes[rng.IntN(len(routes))], "method": []string{"GET", "POST", "PUT", "DELETE"}[rng.IntN(4)], "status": float64([]int{200, 201, 204, 404, 500}[rng.IntN(5)])},
		})
		if len(events) == batch || i == n-1 {
			if err := store.InsertEvents(ctx, events); err != nil {
				b.Fatal(err)
			}
			events = events[:0]
		}
	}
	stored := time.Since(t0)
	t0 = time.Now()
	for {
		k, err := store.RollUp(ctx, 50000)
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	b.Logf("%d events: stored in %s (%.0f/s), rolled up in %s (%.0f/s)", n, stored.Round(time.Second),
		float64(n)/stored.Seconds(), time.Since(t0).Round(time.Second), float64(n)/time.Since(t0).Seconds())
	return start, end, app, uctx
}

// reuseSummaryDB finds the app, its 30 days and its event count in a
// database fillSummaryDB filled in an earlier run.
func reuseSummaryDB(b *testing.B, db *sqlstore.DB, apps kiln.AppService) (start, end time.Time, app *kiln.App, uctx context.Context, n int) {
	ctx := context.Background()
	var owner, appID int64
	var first int64
	if err := db.Writer().QueryRowContext(ctx, "SELECT a.owner_id, a.id FROM apps a ORDER BY a.id LIMIT 1").Scan(&owner, &appID); err != nil {
		b.Fatalf("KILN_BENCH_DB holds no app: %v", err)
	}
	if err := db.Writer().QueryRowContext(ctx, "SELECT count(*), min(ts) FROM analytics_events WHERE app_id = ?", appID).Scan(&n, &first); err != nil {
		b.Fatal(err)
	}
	u, err := sqlstore.NewUserService(db).FindUserByID(kiln.NewContextWithUser(ctx, &kiln.User{ID: owner, Role: kiln.RoleAdmin}), owner)
	if err != nil {
		b.Fatal(err)
	}
	uctx = kiln.NewContextWithUser(ctx, u)
	if app, err = apps.FindAppByID(uctx, appID); err != nil {
		b.Fatal(err)
	}
	start = time.UnixMicro(first).UTC().Truncate(time.Hour)
	end = start.Add(30 * 24 * time.Hour)
	b.Logf("reusing %d events of %s to %s", n, start.Format(time.RFC3339), end.Format(time.RFC3339))
	return start, end, app, uctx, n
}
