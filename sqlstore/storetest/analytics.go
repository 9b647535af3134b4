package storetest

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// MustEvents returns n request events for app, spread over hours from
// base: event i has value i, user "u<i%users>", a route and a status
// property.
func MustEvents(app int64, base time.Time, n, users int) []kiln.Event {
	out := make([]kiln.Event, n)
	for i := range out {
		v := float64(i)
		out[i] = kiln.Event{
			AppID: app, Name: "request", Time: base.Add(time.Duration(i%3)*time.Hour + time.Duration(i)*time.Second),
			UserID: fmt.Sprintf("u%d", i%users), Value: &v,
			Properties: map[string]any{"route": []string{"GET /a", "POST /b"}[i%2], "status": float64(200 + i%2), "ok": i%2 == 0},
		}
	}
	return out
}

func testEvents(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Parallel()
	e := newEnv(t, open)
	store := sqlstore.NewEventStore(e.DB)
	bob := MustCreateUser(t, e, "bob@example.com")
	app, _ := MustCreateApp(t, e, bob, "a todo list")
	ctx := e.ctx(bob)
	bg := context.Background()
	base := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)

	events := MustEvents(app.ID, base, 300, 7)
	events = append(events, kiln.Event{AppID: app.ID, Name: "signup", Time: base.Add(90 * time.Minute), UserID: "u1", SessionID: "s1"})
	for i := 0; i < len(events); i += 100 {
		require.NoError(t, store.InsertEvents(bg, events[i:min(i+100, len(events))]))
	}
	q := kiln.SummaryQuery{From: base, To: base.Add(3 * time.Hour), Interval: kiln.IntervalHour}

	// The summary is the same whether the rollups include none, some or
	// all of the events.
	first, err := store.Summary(ctx, app.ID, q)
	require.NoError(t, err)
	checkSummary(t, first)
	fq := q
	fq.Event = "request"
	filtered, err := store.Summary(ctx, app.ID, fq)
	require.NoError(t, err)
	require.EqualValues(t, 300, filtered.Totals.Count)
	require.Equal(t, first.TopEvents, filtered.TopEvents, "top events count every name")
	for {
		n, err := store.RollUp(bg, 37)
		require.NoError(t, err)
		got, err := store.Summary(ctx, app.ID, q)
		require.NoError(t, err)
		require.Equal(t, first, got, "after rolling up %d more", n)
		got, err = store.Summary(ctx, app.ID, fq)
		require.NoError(t, err)
		require.Equal(t, filtered, got, "filtered, after rolling up %d more", n)
		if n == 0 {
			break
		}
	}
	upTo, err := store.RolledUpTo(bg)
	require.NoError(t, err)
	require.Positive(t, upTo)

	t.Run("EventFilter", func(t *testing.T) {
		f := q
		f.Event = "signup"
		got, err := store.Summary(ctx, app.ID, f)
		require.NoError(t, err)
		require.EqualValues(t, 1, got.Totals.Count)
		require.EqualValues(t, 1, got.Totals.Users)
		require.Zero(t, got.Totals.Values)
		require.Nil(t, got.Totals.P50)
		require.EqualValues(t, 1, got.Series[1].Count)
		require.Len(t, got.TopEvents, 2, "top events list every name")
		require.Empty(t, got.TopProperties)
	})

	t.Run("MinuteAndDay", func(t *testing.T) {
		m := kiln.SummaryQuery{From: base.Add(10 * time.Second), To: base.Add(2*time.Minute + time.Second), Interval: kiln.IntervalMinute}
		got, err := store.Summary(ctx, app.ID, m)
		require.NoError(t, err)
		require.Equal(t, base, got.From, "from is floored to the interval")
		require.Equal(t, base.Add(3*time.Minute), got.To, "to is rounded up")
		require.Len(t, got.Series, 3)
		// Events 0, 3, 6 … land in hour 0 at second i: minute 0 holds
		// i = 0..57 step 3, minute 1 i = 60..117, minute 2 i = 120..177.
		require.EqualValues(t, 20, got.Series[0].Count)
		require.EqualValues(t, 20, got.Series[1].Count)

		// A fraction of a second past a bucket's start reaches into it.
		frac := kiln.SummaryQuery{From: base, To: base.Add(2*time.Hour + 500*time.Millisecond), Interval: kiln.IntervalHour}
		got, err = store.Summary(ctx, app.ID, frac)
		require.NoError(t, err)
		require.Len(t, got.Series, 3)

		d := kiln.SummaryQuery{From: base, To: base.Add(time.Hour), Interval: kiln.IntervalDay}
		got, err = store.Summary(ctx, app.ID, d)
		require.NoError(t, err)
		var total int64
		for _, p := range got.Series {
			total += p.Count
		}
		require.EqualValues(t, 301, total, "the days covering the range hold every event")
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, bad := range []kiln.SummaryQuery{
			{From: base, To: base, Interval: kiln.IntervalHour},
			{From: base, To: base.Add(time.Hour), Interval: "week"},
			{To: base},
			{From: base, To: base.Add(time.Duration(kiln.MaxSummaryPoints+1) * time.Minute), Interval: kiln.IntervalMinute},
			{From: base, To: base.Add(time.Hour), Event: " padded"},
			{From: base, To: base.Add(time.Hour), Top: 101},
		} {
			_, err := store.Summary(ctx, app.ID, bad)
			RequireCode(t, err, kiln.EInvalid)
		}
	})

	t.Run("ErrNotFoundForOthers", func(t *testing.T) {
		admin := MustCreateUser(t, e, "admin@example.com")
		_, err := store.Summary(e.ctx(admin), app.ID, q)
		RequireCode(t, err, kiln.ENotFound)
		_, err = store.Summary(ctx, app.ID+1000, q)
		RequireCode(t, err, kiln.ENotFound)
		_, err = store.Summary(bg, app.ID, q)
		RequireCode(t, err, kiln.EUnauthorized)
	})

	t.Run("Prune", func(t *testing.T) {
		other, _ := MustCreateApp(t, e, bob, "an app with old events")
		old := time.Now().UTC().Truncate(24 * time.Hour).Add(-10 * 24 * time.Hour)
		require.NoError(t, store.InsertEvents(bg, MustEvents(other.ID, old, 50, 5)))
		oq := kiln.SummaryQuery{From: old, To: old.Add(24 * time.Hour), Interval: kiln.IntervalHour}
		before, err := store.Summary(ctx, other.ID, oq)
		require.NoError(t, err)
		require.EqualValues(t, 50, before.Totals.Count)

		// Events the rollups lack are kept.
		cut := old.Add(5 * 24 * time.Hour)
		_, err = store.Prune(bg, cut, old.Add(-24*time.Hour))
		require.NoError(t, err)
		got, err := store.Summary(ctx, other.ID, oq)
		require.NoError(t, err)
		require.Equal(t, before, got)

		for {
			n, err := store.RollUp(bg, 1000)
			require.NoError(t, err)
			if n == 0 {
				break
			}
		}
		deleted, err := store.Prune(bg, cut, old.Add(-24*time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 50, deleted)
		got, err = store.Summary(ctx, other.ID, oq)
		require.NoError(t, err)
		require.Equal(t, before, got, "hourly rollups outlive the raw events")
		mq := kiln.SummaryQuery{From: old, To: old.Add(time.Hour), Interval: kiln.IntervalMinute}
		got, err = store.Summary(ctx, other.ID, mq)
		require.NoError(t, err)
		require.Zero(t, got.Totals.Count, "minute rollups go with the raw events")

		_, err = store.Prune(bg, cut, cut)
		require.NoError(t, err)
		got, err = store.Summary(ctx, other.ID, oq)
		require.NoError(t, err)
		require.Zero(t, got.Totals.Count, "hour rollups go at their own retention")

		// The recent app's events are untouched.
		got, err = store.Summary(ctx, app.ID, q)
		require.NoError(t, err)
		require.Equal(t, first, got)
	})

	t.Run("DeletedWithApp", func(t *testing.T) {
		gone, _ := MustCreateApp(t, e, bob, "an app to delete")
		require.NoError(t, store.InsertEvents(bg, MustEvents(gone.ID, base, 10, 2)))
		_, err := store.RollUp(bg, 1000)
		require.NoError(t, err)
		require.NoError(t, e.Apps.DeleteApp(ctx, gone.ID))
		var n int
		require.NoError(t, e.DB.Writer().QueryRowContext(bg, rebind(e.DB, "SELECT count(*) FROM analytics_events WHERE app_id = ?"), gone.ID).Scan(&n))
		require.Zero(t, n)
		require.NoError(t, e.DB.Writer().QueryRowContext(bg, rebind(e.DB, "SELECT count(*) FROM analytics_rollups WHERE app_id = ?"), gone.ID).Scan(&n))
		require.Zero(t, n)
	})
}

// checkSummary checks the summary of the events testEvents inserts.
func checkSummary(t *testing.T, s *kiln.Summary) {
	t.Helper()
	require.Len(t, s.Series, 3)
	require.EqualValues(t, 301, s.Totals.Count)
	require.EqualValues(t, 7, s.Totals.Users, "users are counted exactly while few")
	require.EqualValues(t, 300, s.Totals.Values)
	require.InDelta(t, 299*300/2, s.Totals.Sum, 1e-6)
	require.Equal(t, 0.0, *s.Totals.Min)
	require.Equal(t, 299.0, *s.Totals.Max)
	require.InEpsilon(t, 149, *s.Totals.P50, 0.011)
	require.InEpsilon(t, 269, *s.Totals.P90, 0.011)
	for i, want := range []int64{100, 101, 100} {
		require.Equal(t, want, s.Series[i].Count, "bucket %d", i)
	}
	require.Equal(t, []kiln.NameCount{{Name: "request", Count: 300}, {Name: "signup", Count: 1}}, s.TopEvents)
	require.Len(t, s.TopProperties, 3)
	byKey := map[string]kiln.PropertyValues{}
	for _, p := range s.TopProperties {
		byKey[p.Key] = p
	}
	require.Equal(t, []kiln.ValueCount{{Value: "GET /a", Count: 150}, {Value: "POST /b", Count: 150}}, byKey["route"].Values)
	require.Equal(t, []kiln.ValueCount{{Value: "200", Count: 150}, {Value: "201", Count: 150}}, byKey["status"].Values)
	require.Equal(t, []kiln.ValueCount{{Value: "false", Count: 150}, {Value: "true", Count: 150}}, byKey["ok"].Values)
	require.False(t, math.IsNaN(*s.Series[0].P99))
}

// testEventsConcurrent inserts from several goroutines while rollups run,
// then checks that every event is counted exactly once.
func testEventsConcurrent(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Parallel()
	e := newEnv(t, open)
	store := sqlstore.NewEventStore(e.DB)
	bob := MustCreateUser(t, e, "bob@example.com")
	app, _ := MustCreateApp(t, e, bob, "a busy app")
	bg := context.Background()
	base := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	const writers, batches, size = 4, 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range batches {
				if err := store.InsertEvents(bg, MustEvents(app.ID, base, size, 3)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	rolled := make(chan error, 1)
	go func() {
		for {
			select {
			case <-writersDone:
				rolled <- nil
				return
			default:
			}
			if _, err := store.RollUp(bg, 70); err != nil {
				rolled <- err
				return
			}
		}
	}()
	require.NoError(t, <-rolled)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for {
		n, err := store.RollUp(bg, 1000)
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	got, err := store.Summary(e.ctx(bob), app.ID, kiln.SummaryQuery{From: base, To: base.Add(3 * time.Hour), Interval: kiln.IntervalHour})
	require.NoError(t, err)
	require.EqualValues(t, writers*batches*size, got.Totals.Count)
	upTo, err := store.RolledUpTo(bg)
	require.NoError(t, err)
	var maxID int64
	require.NoError(t, e.DB.Writer().QueryRowContext(bg, "SELECT max(id) FROM analytics_events").Scan(&maxID))
	require.Equal(t, maxID, upTo, "everything is rolled up")
}
