// Package queue wires Kiln's build and mail jobs onto River: job arguments, the
// workers that hand a job to the build runner or the mail sender, and client setup for SQLite
// (riversqlite) and PostgreSQL (riverpgxv5 for working, riverdatabasesql for
// inserting inside the store's database/sql transactions).
package queue

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// QueueBuilds is the River queue build jobs run on.
const QueueBuilds = "builds"

// BuildArgs is the job that runs one build.
type BuildArgs struct {
	BuildID int64 `json:"build_id"`
}

// Kind implements river.JobArgs.
func (BuildArgs) Kind() string { return "kiln_build" }

// Runner runs one build; the worker package implements it.
type Runner interface {
	// RunBuild runs the build to a terminal state. A nil error completes
	// the job; an error makes River retry it.
	RunBuild(ctx context.Context, buildID int64) error
}

// Config configures a Queue.
type Config struct {
	// Dialect is "sqlite" or "postgres".
	Dialect string
	// DB is the database/sql handle (SQLite: the single writer connection).
	DB *sql.DB
	// Pool is the pgx pool (PostgreSQL only); it works the jobs.
	Pool *pgxpool.Pool
	// Runner runs builds. When nil the queue only inserts jobs.
	Runner Runner
	// Concurrency is how many builds run at once (default 2).
	Concurrency int
	// JobTimeout bounds one job; the runner enforces the build timeout
	// itself, so this is a backstop a little above it.
	JobTimeout time.Duration
	// MaxAttempts is how often River tries a job (default 4).
	MaxAttempts int
	// PollInterval is how often workers look for jobs when no notification
	// wakes them (SQLite always polls). Default 200ms on SQLite, 1s on PostgreSQL.
	PollInterval time.Duration
	// Mail, when set, makes this queue deliver outbox messages.
	Mail *MailConfig
	// MailMaxAttempts is how often a message is tried before it fails
	// (default DefaultMailMaxAttempts); it is fixed when the job is
	// inserted.
	MailMaxAttempts int
	// ID names this client (host/process) in River's tables.
	ID     string
	Logger *slog.Logger
}

// Queue inserts build jobs and, when it has a Runner, works them.
type Queue struct {
	cfg          Config
	insertFn     func(ctx context.Context, tx *sql.Tx, args BuildArgs) error
	insertMailFn func(ctx context.Context, tx *sql.Tx, args MailArgs) error
	working      bool
	start        func(ctx context.Context) error
	stop         func(ctx context.Context) error
	stopCancel   func(ctx context.Context) error
}

// New sets up the River clients for the dialect.
func New(cfg Config) (*Queue, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 20 * time.Minute
	}
	cfg.MailMaxAttempts = cmp.Or(max(cfg.MailMaxAttempts, 0), DefaultMailMaxAttempts)
	q := &Queue{cfg: cfg}
	var workers *river.Workers
	var queues map[string]river.QueueConfig
	if cfg.Runner != nil || cfg.Mail != nil {
		workers = river.NewWorkers()
		queues = map[string]river.QueueConfig{}
	}
	if cfg.Runner != nil {
		river.AddWorker(workers, &buildWorker{runner: cfg.Runner, timeout: cfg.JobTimeout})
		queues[QueueBuilds] = river.QueueConfig{MaxWorkers: cfg.Concurrency}
	}
	if mc := cfg.Mail; mc != nil {
		if mc.Outbox == nil || mc.Sender == nil {
			return nil, errors.New("queue: mail needs an outbox and a sender")
		}
		mc.RetryBase = cmp.Or(max(mc.RetryBase, 0), DefaultMailRetryBase)
		mc.RetryMax = cmp.Or(max(mc.RetryMax, 0), DefaultMailRetryMax)
		mc.Concurrency = cmp.Or(max(mc.Concurrency, 0), DefaultMailConcurrency)
		mc.Timeout = cmp.Or(max(mc.Timeout, 0), DefaultMailTimeout)
		river.AddWorker(workers, &mailWorker{cfg: *mc, logger: cfg.Logger})
		queues[QueueMail] = river.QueueConfig{MaxWorkers: mc.Concurrency}
	}
	mailOpts := &river.InsertOpts{Queue: QueueMail, MaxAttempts: cfg.MailMaxAttempts}
	rcfg := func(poll time.Duration) *river.Config {
		c := &river.Config{
			ID:                cfg.ID,
			Logger:            quietLogger(cfg.Logger),
			MaxAttempts:       cfg.MaxAttempts,
			JobTimeout:        cfg.JobTimeout,
			FetchPollInterval: poll,
			FetchCooldown:     min(poll, 100*time.Millisecond),
			// A node works some kinds and inserts others (an API node that
			// sends mail but runs no builds still queues builds).
			SkipUnknownJobCheck: true,
			// Lost builds are found by their heartbeat (worker package);
			// River's own rescue is only the backstop for the job row.
			RescueStuckJobsAfter: cfg.JobTimeout + 10*time.Minute,
		}
		if workers != nil {
			c.Workers, c.Queues = workers, queues
		}
		return c
	}
	switch cfg.Dialect {
	case "sqlite":
		poll := cmp.Or(cfg.PollInterval, 200*time.Millisecond)
		c := rcfg(poll)
		c.PollOnly = true
		client, err := river.NewClient(riversqlite.New(cfg.DB), c)
		if err != nil {
			return nil, fmt.Errorf("river sqlite client: %w", err)
		}
		q.insertFn = func(ctx context.Context, tx *sql.Tx, args BuildArgs) error {
			_, err := client.InsertTx(ctx, tx, args, &river.InsertOpts{Queue: QueueBuilds})
			return err
		}
		q.insertMailFn = func(ctx context.Context, tx *sql.Tx, args MailArgs) error {
			_, err := client.InsertTx(ctx, tx, args, mailOpts)
			return err
		}
		q.setLifecycle(client.Start, client.Stop, client.StopAndCancel, workers != nil)
	case "postgres":
		if cfg.Pool == nil {
			return nil, errors.New("queue: postgres needs a pgx pool")
		}
		inserter, err := river.NewClient(riverdatabasesql.New(cfg.DB), &river.Config{Logger: quietLogger(cfg.Logger)})
		if err != nil {
			return nil, fmt.Errorf("river database/sql client: %w", err)
		}
		q.insertFn = func(ctx context.Context, tx *sql.Tx, args BuildArgs) error {
			_, err := inserter.InsertTx(ctx, tx, args, &river.InsertOpts{Queue: QueueBuilds})
			return err
		}
		q.insertMailFn = func(ctx context.Context, tx *sql.Tx, args MailArgs) error {
			_, err := inserter.InsertTx(ctx, tx, args, mailOpts)
			return err
		}
		if workers != nil {
			worker, err := river.NewClient[pgx.Tx](riverpgxv5.New(cfg.Pool), rcfg(cmp.Or(cfg.PollInterval, time.Second)))
			if err != nil {
				return nil, fmt.Errorf("river pgx client: %w", err)
			}
			q.setLifecycle(worker.Start, worker.Stop, worker.StopAndCancel, true)
		} else {
			q.setLifecycle(nil, nil, nil, false)
		}
	default:
		return nil, fmt.Errorf("queue: unknown dialect %q", cfg.Dialect)
	}
	return q, nil
}

func (q *Queue) setLifecycle(start, stop, stopCancel func(context.Context) error, working bool) {
	q.working = working
	if !working {
		noop := func(context.Context) error { return nil }
		q.start, q.stop, q.stopCancel = noop, noop, noop
		return
	}
	q.start, q.stop, q.stopCancel = start, stop, stopCancel
}

// Enqueue inserts the job for a build inside tx; it has the signature of
// sqlstore.EnqueueFunc so the store calls it in the transaction that
// creates the build.
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, buildID int64) error {
	if err := q.insertFn(ctx, tx, BuildArgs{BuildID: buildID}); err != nil {
		return fmt.Errorf("insert build job: %w", err)
	}
	return nil
}

// Working reports whether this queue works jobs (builds or mail), so it
// must be started and stopped.
func (q *Queue) Working() bool { return q.working }

// Start starts working jobs (a no-op for an insert-only queue).
func (q *Queue) Start(ctx context.Context) error { return q.start(ctx) }

// Stop stops fetching jobs and waits for running ones to finish or ctx to
// end.
func (q *Queue) Stop(ctx context.Context) error { return q.stop(ctx) }

// StopAndCancel stops fetching jobs and cancels the running ones, whose
// builds go back to the queue for another worker.
func (q *Queue) StopAndCancel(ctx context.Context) error { return q.stopCancel(ctx) }

// Migrate applies River's own migrations to the database.
func Migrate(ctx context.Context, dialect string, db *sql.DB, logger *slog.Logger) error {
	var err error
	switch dialect {
	case "sqlite":
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(db), &rivermigrate.Config{Logger: quietLogger(logger)}); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	case "postgres":
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{Logger: quietLogger(logger)}); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	default:
		err = fmt.Errorf("unknown dialect %q", dialect)
	}
	if err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

// quietLogger passes River's logs on at warn level and above: its info
// logs are per-job noise for Kiln's users.
func quietLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn}).With(slog.String("component", "river"))
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}

func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(n), f.min}
}

// buildWorker hands build jobs to the runner.
type buildWorker struct {
	river.WorkerDefaults[BuildArgs]
	runner  Runner
	timeout time.Duration
}

func (w *buildWorker) Timeout(*river.Job[BuildArgs]) time.Duration { return w.timeout }

// NextRetry retries infrastructure failures soon: a user is waiting.
func (w *buildWorker) NextRetry(job *river.Job[BuildArgs]) time.Time {
	return time.Now().Add(time.Duration(job.Attempt) * 2 * time.Second)
}

func (w *buildWorker) Work(ctx context.Context, job *river.Job[BuildArgs]) error {
	return w.runner.RunBuild(ctx, job.Args.BuildID)
}
