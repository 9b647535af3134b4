// Package worker runs builds: it claims a build under a lease, keeps the
// lease alive with heartbeats (which also carry cancel requests), runs the
// Pipeline with a Recorder that stores steps, logs and artifacts, and ends
// the build in a terminal state. It also rescues builds whose worker died.
package worker

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// Blobs stores artifact content and tells whether a blob is still there;
// blob.Store satisfies it.
type Blobs interface {
	Put(ctx context.Context, key string, r io.Reader) (size int64, sha256hex string, err error)
	// Stat returns the blob's size; ENotFound when it is gone.
	Stat(ctx context.Context, key string) (size int64, err error)
}

// Config configures a Worker. Zero durations take the defaults.
type Config struct {
	Work     kiln.BuildWork
	Pipeline kiln.Pipeline
	Blobs    Blobs
	Logger   *slog.Logger
	Now      func() time.Time
	// Metrics, when set, is told about every build this worker ends.
	Metrics Observer

	// BuildTimeout bounds one build (default 15m).
	BuildTimeout time.Duration
	// Heartbeat is how often a running build renews its lease and checks
	// for cancel (default 1s).
	Heartbeat time.Duration
	// StaleAfter is how old a heartbeat must be before the build counts as
	// lost (default 30s).
	StaleAfter time.Duration
	// MaxAttempts bounds tries after infrastructure failures and lost
	// workers (default 3).
	MaxAttempts int
	// FlushInterval is how often buffered log lines are written (default 100ms).
	FlushInterval time.Duration
	// RescueInterval is how often Rescue looks for lost builds (default 10s).
	RescueInterval time.Duration
}

// Observer records finished builds (telemetry.Metrics satisfies it).
type Observer interface {
	ObserveBuild(status string, d time.Duration)
}

// Worker runs builds. It implements queue.Runner.
type Worker struct {
	cfg Config
	log *slog.Logger
}

// New returns a Worker with defaults filled in.
func New(cfg Config) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BuildTimeout = cmp.Or(cfg.BuildTimeout, 15*time.Minute)
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, time.Second)
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, 30*time.Second)
	cfg.FlushInterval = cmp.Or(cfg.FlushInterval, 100*time.Millisecond)
	cfg.RescueInterval = cmp.Or(cfg.RescueInterval, 10*time.Second)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	return &Worker{cfg: cfg, log: cfg.Logger}
}

var (
	errCanceledByUser = errors.New("canceled by user")
	errLeaseLost      = errors.New("lease lost to another worker")
)

// RunBuild claims the build and runs it to a terminal state. It returns nil
// when the build ended (succeeded, failed, canceled) or is not this
// worker's to run, and an error after an infrastructure failure that the
// queue should retry.
func (w *Worker) RunBuild(ctx context.Context, buildID int64) error {
	log := w.log.With(slog.Int64("build_id", buildID))
	lease := newLease()
	b, app, err := w.cfg.Work.ClaimBuild(ctx, buildID, lease, w.cfg.Now().Add(-w.cfg.StaleAfter))
	switch kiln.ErrorCode(err) {
	case "":
	case kiln.ENotFound, kiln.EConflict:
		log.InfoContext(ctx, "build not claimable, skipping", slog.String("reason", kiln.ErrorMessage(err)))
		return nil
	default:
		return fmt.Errorf("claim build: %w", err)
	}
	log = log.With(slog.Int("attempt", b.Attempt))
	log.InfoContext(ctx, "build started")

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	runCtx, cancelTimeout := context.WithTimeoutCause(runCtx, w.cfg.BuildTimeout, context.DeadlineExceeded)
	defer cancelTimeout()

	rec := newRecorder(w, b, lease)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.heartbeat(runCtx, b.ID, lease, cancel, log)
	}()

	rec.Logf("build #%d of %q started (attempt %d)", b.Number, app.Name, b.Attempt)
	start := w.cfg.Now()
	runErr := runPipeline(runCtx, w.cfg.Pipeline, b, app, rec)
	cancel(nil)
	<-hbDone

	cause := context.Cause(runCtx)
	// The build's own context ended; its end must still be written.
	endCtx := context.WithoutCancel(ctx)
	elapsed := w.cfg.Now().Sub(start).Round(time.Millisecond)
	var status kiln.BuildStatus
	var msg string
	switch {
	case errors.Is(cause, errLeaseLost):
		rec.close(endCtx)
		log.WarnContext(ctx, "build lease lost; another worker owns it")
		return nil
	case errors.Is(cause, errCanceledByUser):
		status, msg = kiln.BuildCanceled, "canceled by user"
	case runErr == nil:
		status = kiln.BuildSucceeded
	case errors.Is(cause, context.DeadlineExceeded):
		status, msg = kiln.BuildFailed, fmt.Sprintf("timed out after %s", w.cfg.BuildTimeout)
	case ctx.Err() != nil:
		// The worker is shutting down: give the build back for another try.
		rec.Logf("worker stopping; the build will be retried")
		rec.close(endCtx)
		if err := w.cfg.Work.ReleaseBuild(endCtx, b.ID, lease, "worker stopped"); err != nil {
			log.ErrorContext(ctx, "release build", slog.Any("error", err))
		}
		return ctx.Err()
	case isBuildFailure(runErr):
		status, msg = kiln.BuildFailed, kiln.ErrorMessage(runErr)
	default:
		// An infrastructure failure: retry while attempts remain.
		log.ErrorContext(ctx, "build infrastructure failure", slog.Any("error", runErr))
		if b.Attempt < w.cfg.MaxAttempts {
			rec.Logf("internal error (attempt %d of %d); retrying", b.Attempt, w.cfg.MaxAttempts)
			rec.close(endCtx)
			if err := w.cfg.Work.ReleaseBuild(endCtx, b.ID, lease, "internal error"); err != nil {
				log.ErrorContext(ctx, "release build", slog.Any("error", err))
			}
			return fmt.Errorf("build %d attempt %d: %w", b.ID, b.Attempt, runErr)
		}
		status, msg = kiln.BuildFailed, fmt.Sprintf("internal error after %d attempts", b.Attempt)
	}
	switch status {
	case kiln.BuildSucceeded:
		rec.Logf("build succeeded in %s", elapsed)
	default:
		rec.Logf("build %s after %s: %s", status, elapsed, msg)
	}
	rec.close(endCtx)
	if err := w.cfg.Work.FinishBuild(endCtx, b.ID, lease, status, msg); err != nil {
		if kiln.ErrorCode(err) == kiln.EConflict {
			log.WarnContext(ctx, "finish build: lease lost", slog.Any("error", err))
			return nil
		}
		return fmt.Errorf("finish build: %w", err)
	}
	if w.cfg.Metrics != nil {
		w.cfg.Metrics.ObserveBuild(string(status), elapsed)
	}
	log.InfoContext(ctx, "build ended", slog.String("status", string(status)), slog.Duration("duration", elapsed))
	return nil
}

// runPipeline runs p and turns a panic into an error, so one bad template
// cannot take the worker down.
func runPipeline(ctx context.Context, p kiln.Pipeline, b *kiln.Build, app *kiln.App, rec kiln.Recorder) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pipeline panic: %v", r)
		}
	}()
	return p.Run(ctx, b, app, rec)
}

// isBuildFailure reports whether err is the build's own fault (the app
// failed its checks, the spec is invalid, …): not worth a retry.
func isBuildFailure(err error) bool {
	switch kiln.ErrorCode(err) {
	case kiln.EBuildFailed, kiln.EInvalid, kiln.ETooLarge, kiln.EForbidden, kiln.ECanceled:
		return true
	}
	return false
}

// heartbeat renews the lease until ctx ends, canceling the build when a user
// asks or the lease is lost.
func (w *Worker) heartbeat(ctx context.Context, id int64, lease string, cancel context.CancelCauseFunc, log *slog.Logger) {
	t := time.NewTicker(w.cfg.Heartbeat)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		canceled, err := w.cfg.Work.Heartbeat(ctx, id, lease)
		switch {
		case err == nil:
			failures = 0
			if canceled {
				cancel(errCanceledByUser)
				return
			}
		case kiln.ErrorCode(err) == kiln.EConflict:
			cancel(errLeaseLost)
			return
		case ctx.Err() != nil:
			return
		default:
			failures++
			log.WarnContext(ctx, "heartbeat failed", slog.Any("error", err), slog.Int("failures", failures))
			// Past the stale limit another worker may take the build: stop.
			if time.Duration(failures)*w.cfg.Heartbeat >= w.cfg.StaleAfter/2 {
				cancel(errLeaseLost)
				return
			}
		}
	}
}

// Rescue runs until ctx ends, every RescueInterval giving builds whose
// worker stopped heartbeating to another try (or failing them).
func (w *Worker) Rescue(ctx context.Context) {
	t := time.NewTicker(w.cfg.RescueInterval)
	defer t.Stop()
	for {
		w.RescueOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RescueOnce makes one rescue pass.
func (w *Worker) RescueOnce(ctx context.Context) {
	requeued, failed, err := w.cfg.Work.RescueStaleBuilds(ctx, w.cfg.Now().Add(-w.cfg.StaleAfter), w.cfg.MaxAttempts)
	if err != nil {
		if ctx.Err() == nil {
			w.log.ErrorContext(ctx, "rescue stale builds", slog.Any("error", err))
		}
		return
	}
	if len(requeued)+len(failed) > 0 {
		w.log.WarnContext(ctx, "rescued builds of lost workers", slog.Any("requeued", requeued), slog.Any("failed", failed))
	}
}

func newLease() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
