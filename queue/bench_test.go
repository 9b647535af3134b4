package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/queue"
	"github.com/kiln-build/kiln/sqlstore"
	"github.com/kiln-build/kiln/sqlstore/pgtest"
	"github.com/kiln-build/kiln/worker"
)

// benchConcurrency is the worker concurrency both sides run with (Kiln's
// default build.concurrency).
const (
	benchConcurrency = 2
	benchBatch       = 20 // jobs per round
)

// BenchmarkEnqueueDispatch compares enqueue + dispatch of no-op build jobs
// through Kiln (BuildService.CreateBuild inserts the build and its River
// job in one transaction; the worker claims the build under a lease, runs a
// pipeline that does nothing, and finishes it) with raw River inserting
// and working no-op jobs, on the same kind of database with the same queue
// settings. Each round enqueues benchBatch jobs and waits for all of them
// to be worked; Kiln and River rounds alternate so load from elsewhere on
// a shared machine hits both alike. kiln/river is the median per-round
// throughput ratio; the target is ≥ 0.5.
//
// Two polling settings: "poll200ms" is Kiln's default, where River's fetch
// cadence (a fetch at most every 100ms, MaxWorkers jobs each) bounds both
// sides alike; "poll5ms" makes fetching nearly free so the per-job
// database work of each side shows.
func BenchmarkEnqueueDispatch(b *testing.B) {
	for _, dialect := range []string{sqlstore.DialectSQLite, sqlstore.DialectPostgres} {
		for _, poll := range []time.Duration{200 * time.Millisecond, 5 * time.Millisecond} {
			b.Run(fmt.Sprintf("%s/poll%s", dialect, poll), func(b *testing.B) { benchEnqueueDispatch(b, dialect, poll) })
		}
	}
}

func benchEnqueueDispatch(b *testing.B, dialect string, poll time.Duration) {
	kilnRound := newKilnSide(b, dialect, poll)
	riverRound := newRiverSide(b, dialect, poll)
	ctx := context.Background()
	// Warm both: connections, prepared statements, the first poll.
	kilnRound(ctx)
	riverRound(ctx)
	var ratios []float64
	var kilnTotal, riverTotal time.Duration
	for b.Loop() {
		start := time.Now()
		riverRound(ctx)
		rd := time.Since(start)
		start = time.Now()
		kilnRound(ctx)
		kd := time.Since(start)
		riverTotal += rd
		kilnTotal += kd
		ratios = append(ratios, float64(rd)/float64(kd))
	}
	slices.Sort(ratios)
	n := float64(len(ratios) * benchBatch)
	b.ReportMetric(ratios[len(ratios)/2], "kiln/river")
	b.ReportMetric(float64(kilnTotal.Microseconds())/n, "kiln-µs/job")
	b.ReportMetric(float64(riverTotal.Microseconds())/n, "river-µs/job")
}

// openBenchDB opens a fresh, migrated database of the dialect.
func openBenchDB(b testing.TB, dialect string) *sqlstore.DB {
	b.Helper()
	url := filepath.Join(b.TempDir(), "kiln.db")
	if dialect == sqlstore.DialectPostgres {
		url, _ = pgtest.MustSchema(b)
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url, sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if err := queue.Migrate(ctx, db.Dialect(), db.Writer(), nil); err != nil {
		b.Fatal(err)
	}
	return db
}

type noopPipeline struct{}

func (noopPipeline) Run(context.Context, *kiln.Build, *kiln.App, kiln.Recorder) error { return nil }

// signalRunner runs builds with the worker and reports each one done.
type signalRunner struct {
	w    *worker.Worker
	done chan int64
}

func (r signalRunner) RunBuild(ctx context.Context, id int64) error {
	err := r.w.RunBuild(ctx, id)
	r.done <- id
	return err
}

// newKilnSide returns a function that creates benchBatch builds through
// the store and waits until the worker has run them all.
func newKilnSide(b *testing.B, dialect string, poll time.Duration) func(context.Context) {
	db := openBenchDB(b, dialect)
	discard := slog.New(slog.DiscardHandler)
	done := make(chan int64, 1024)
	w := worker.New(worker.Config{Work: sqlstore.NewBuildWork(db), Pipeline: noopPipeline{}, Logger: discard})
	q, err := queue.New(queue.Config{
		Dialect: db.Dialect(), DB: db.Writer(), Pool: db.PgxPool(), Runner: signalRunner{w, done},
		Concurrency: benchConcurrency, PollInterval: poll, Logger: discard,
	})
	if err != nil {
		b.Fatal(err)
	}
	db.SetEnqueue(q.Enqueue)
	ctx := context.Background()
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = q.Stop(context.Background()) })

	u := &kiln.User{Email: "bench@example.com", PasswordHash: "x", EmailVerified: true}
	if err := sqlstore.NewAuthStore(db).CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	uctx := kiln.NewContextWithUser(ctx, u)
	app, _, err := sqlstore.NewAppService(db).CreateApp(uctx, kiln.AppCreate{Description: "a todo app with tasks (title)"})
	if err != nil {
		b.Fatal(err)
	}
	<-done // build #1
	builds := sqlstore.NewBuildService(db)
	return func(ctx context.Context) {
		for range benchBatch {
			if _, err := builds.CreateBuild(kiln.NewContextWithUser(ctx, u), app.ID, kiln.BuildCreate{}); err != nil {
				b.Fatal(err)
			}
		}
		waitN(b, done, benchBatch)
	}
}

type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	done chan int64
}

func (w *noopWorker) Work(_ context.Context, job *river.Job[noopArgs]) error {
	w.done <- job.ID
	return nil
}

// newRiverSide returns a function that inserts benchBatch no-op jobs with
// a plain River client and waits until they have been worked.
func newRiverSide(b *testing.B, dialect string, poll time.Duration) func(context.Context) {
	db := openBenchDB(b, dialect)
	done := make(chan int64, 1024)
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{done: done})
	cfg := &river.Config{
		Logger:            slog.New(slog.DiscardHandler),
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{queue.QueueBuilds: {MaxWorkers: benchConcurrency}},
		FetchPollInterval: poll,
		FetchCooldown:     min(poll, 100*time.Millisecond),
	}
	ctx := context.Background()
	var insert func(ctx context.Context, n int) error
	var start, stop func(context.Context) error
	if dialect == sqlstore.DialectSQLite {
		cfg.PollOnly = true
		client, err := river.NewClient(riversqlite.New(db.Writer()), cfg)
		if err != nil {
			b.Fatal(err)
		}
		insert = func(ctx context.Context, n int) error {
			_, err := client.Insert(ctx, noopArgs{N: n}, &river.InsertOpts{Queue: queue.QueueBuilds})
			return err
		}
		start, stop = client.Start, client.Stop
	} else {
		client, err := river.NewClient[pgx.Tx](riverpgxv5.New(db.PgxPool()), cfg)
		if err != nil {
			b.Fatal(err)
		}
		insert = func(ctx context.Context, n int) error {
			_, err := client.Insert(ctx, noopArgs{N: n}, &river.InsertOpts{Queue: queue.QueueBuilds})
			return err
		}
		start, stop = client.Start, client.Stop
	}
	if err := start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stop(context.Background()) })
	return func(ctx context.Context) {
		for i := range benchBatch {
			if err := insert(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
		waitN(b, done, benchBatch)
	}
}

// waitN waits for n jobs to report done, failing after a minute.
func waitN(b *testing.B, done <-chan int64, n int) {
	timeout := time.After(time.Minute)
	for range n {
		select {
		case <-done:
		case <-timeout:
			b.Fatal("jobs not worked within a minute")
		}
	}
}
