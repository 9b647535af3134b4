package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
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
func BenchmarkSummary(b *testing.B) {
	n := benchEvents(b)
	ctx := context.Background()
	db := MustOpenSQLite(b, sqlstore.Options{})
	store := sqlstore.NewEventStore(db)
	apps := sqlstore.NewAppService(db)
	db.SetEnqueue(func(context.Context, *sql.Tx, int64) error { return nil })
	u := &kiln.User{Email: "bench@example.com", EmailVerified: true}
	if err := sqlstore.NewAuthStore(db).CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	uctx := kiln.NewContextWithUser(ctx, u)
	app, _, err := apps.CreateApp(uctx, kiln.AppCreate{Description: "a busy app"})
	if err != nil {
		b.Fatal(err)
	}

	end := time.Now().UTC().Truncate(time.Hour)
	start := end.Add(-30 * 24 * time.Hour)
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
