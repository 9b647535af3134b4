package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// Size limits on what workers store.
const (
	maxLeaseLen     = 200
	maxStepNameLen  = 64
	maxErrorLen     = kiln.MaxLogLineLen
	maxArtifactName = 255
	logInsertBatch  = 200 // rows per INSERT; 5 parameters each stays far below both dialects' limits
)

// terminalStatuses is the SQL list of the statuses a build ends in.
var terminalStatuses = "('" + string(kiln.BuildSucceeded) + "', '" + string(kiln.BuildFailed) + "', '" + string(kiln.BuildCanceled) + "')"

// BuildWork implements kiln.BuildWork, the worker's side of builds.
type BuildWork struct {
	db *DB
}

var _ kiln.BuildWork = (*BuildWork)(nil)

// NewBuildWork returns the worker's build store over db.
func NewBuildWork(db *DB) kiln.BuildWork { return &BuildWork{db: db} }

// write returns a conn on the writer for single statements outside a transaction.
func (db *DB) write() conn { return conn{db: db, q: db.writer} }

func checkLease(lease string) error {
	if lease == "" || len(lease) > maxLeaseLen {
		return kiln.FieldErrorf("lease", "must be 1 to %d bytes", maxLeaseLen)
	}
	return nil
}

// leaseError explains why a lease-guarded write changed nothing: ENotFound
// when the build is gone, else EConflict.
func (db *DB) leaseError(ctx context.Context, c conn, id int64) error {
	b, err := db.getBuild(ctx, c, id)
	if err != nil {
		return err
	}
	if b.Status.Terminal() {
		return kiln.Errorf(kiln.EConflict, "build %d has ended (%s); its lease is gone", id, b.Status)
	}
	return kiln.Errorf(kiln.EConflict, "build %d: lease lost to another worker", id)
}

// ClaimBuild gives the build to a worker under lease when it is queued and
// unclaimed, its lease is stale (heartbeat before staleBefore) or already
// this lease. It sets the lease and heartbeat, counts the attempt, sets
// StartedAt on the first claim and leaves the status for the worker to
// change. EConflict when the build has ended or another worker holds it,
// ENotFound when it does not exist.
func (w *BuildWork) ClaimBuild(ctx context.Context, id int64, lease string, staleBefore time.Time) (*kiln.Build, *kiln.App, error) {
	if err := checkLease(lease); err != nil {
		return nil, nil, err
	}
	db := w.db
	var b *kiln.Build
	var app *kiln.App
	err := db.inTx(ctx, func(c conn) error {
		now := db.nowUTC()
		var err error
		b, err = scanBuild(c.row(ctx, `UPDATE builds
			SET lease = ?, heartbeat_at = ?, attempt = attempt + 1, started_at = COALESCE(started_at, ?)
			WHERE id = ? AND status NOT IN `+terminalStatuses+`
			AND (lease IS NULL OR lease = ? OR heartbeat_at < ?)
			RETURNING `+cols("", buildColumns...),
			lease, db.ts(now), db.ts(now), id, lease, db.ts(staleBefore)))
		if errors.Is(err, sql.ErrNoRows) {
			return db.leaseError(ctx, c, id)
		} else if err != nil {
			return fmt.Errorf("claim build: %w", err)
		}
		app, err = scanApp(c.row(ctx, "SELECT "+cols("", appColumns...)+" FROM apps WHERE id = ?", b.AppID))
		if err != nil {
			return fmt.Errorf("claim build: find app: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return b, app, nil
}

// Heartbeat refreshes the lease and reports whether a user asked to
// cancel. EConflict when the lease was lost, ENotFound when the build is gone.
func (w *BuildWork) Heartbeat(ctx context.Context, id int64, lease string) (bool, error) {
	db := w.db
	var cancel bool
	err := db.write().row(ctx, "UPDATE builds SET heartbeat_at = ? WHERE id = ? AND lease = ? RETURNING cancel_requested",
		db.ts(db.nowUTC()), id, lease).Scan(boolScan{&cancel})
	if errors.Is(err, sql.ErrNoRows) {
		return false, db.leaseError(ctx, db.read(), id)
	} else if err != nil {
		return false, fmt.Errorf("heartbeat: %w", err)
	}
	return cancel, nil
}

// SetBuildStatus records the build's status and current step and counts as
// a heartbeat. An empty status or step keeps the current one. EInvalid for
// queued or a terminal status (use ReleaseBuild or FinishBuild), EConflict
// when the lease was lost.
func (w *BuildWork) SetBuildStatus(ctx context.Context, id int64, lease string, status kiln.BuildStatus, step string) error {
	if status != "" && (!status.Valid() || !status.Running()) {
		return kiln.FieldErrorf("status", "must be a running status, not %q", status)
	}
	if len(step) > maxStepNameLen {
		return kiln.FieldErrorf("step", "is longer than %d bytes", maxStepNameLen)
	}
	step = cleanText(step, maxStepNameLen)
	db := w.db
	return db.inTx(ctx, func(c conn) error {
		var cur kiln.BuildStatus
		var curStep string
		err := c.row(ctx, "SELECT status, step FROM builds WHERE id = ? AND lease = ?"+db.forUpdate(), id, lease).Scan(&cur, &curStep)
		if errors.Is(err, sql.ErrNoRows) {
			return db.leaseError(ctx, c, id)
		} else if err != nil {
			return fmt.Errorf("set build status: %w", err)
		}
		now := db.nowUTC()
		set, args := []string{"heartbeat_at = ?"}, []any{db.ts(now)}
		if status != "" {
			set, args = append(set, "status = ?"), append(args, string(status))
		}
		if step != "" {
			set, args = append(set, "step = ?"), append(args, step)
		}
		if _, err := c.exec(ctx, "UPDATE builds SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, id)...); err != nil {
			return fmt.Errorf("set build status: %w", err)
		}
		if status == "" || (status == cur && (step == "" || step == curStep)) {
			return nil // no news for watchers
		}
		return db.appendEvents(ctx, c, id, []*kiln.BuildEvent{statusEvent(now, status, cmp.Or(step, curStep))})
	})
}

// SetBuildSpec records the spec the build uses and makes it the app's
// current spec. EInvalid when the spec does not validate, EConflict when
// the lease was lost.
func (w *BuildWork) SetBuildSpec(ctx context.Context, id int64, lease string, spec *kiln.AppSpec) error {
	if spec == nil {
		return kiln.FieldErrorf("spec", "is required")
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	arg, err := specArg(spec)
	if err != nil {
		return err
	}
	db := w.db
	return db.inTx(ctx, func(c conn) error {
		now := db.nowUTC()
		var appID int64
		err := c.row(ctx, "UPDATE builds SET spec = ?, heartbeat_at = ? WHERE id = ? AND lease = ? RETURNING app_id",
			arg, db.ts(now), id, lease).Scan(&appID)
		if errors.Is(err, sql.ErrNoRows) {
			return db.leaseError(ctx, c, id)
		} else if err != nil {
			return fmt.Errorf("set build spec: %w", err)
		}
		if _, err := c.exec(ctx, "UPDATE apps SET spec = ?, updated_at = ? WHERE id = ?", arg, db.ts(now), appID); err != nil {
			return fmt.Errorf("set app spec: %w", err)
		}
		return nil
	})
}

// StartStep records that a step started. EInvalid for an empty or long
// name, ENotFound when the build does not exist.
func (w *BuildWork) StartStep(ctx context.Context, buildID int64, name string) (*kiln.Step, error) {
	if name == "" || len(name) > maxStepNameLen {
		return nil, kiln.FieldErrorf("name", "must be 1 to %d bytes", maxStepNameLen)
	}
	db := w.db
	s := &kiln.Step{BuildID: buildID, Name: cleanText(name, maxStepNameLen), Outcome: kiln.StepRunning, StartedAt: db.nowUTC()}
	err := db.inTx(ctx, func(c conn) error {
		if _, err := db.getBuild(ctx, c, buildID); err != nil {
			return err
		}
		err := c.row(ctx, "INSERT INTO build_steps (build_id, name, outcome, started_at) VALUES (?, ?, ?, ?) RETURNING id",
			buildID, s.Name, string(s.Outcome), db.ts(s.StartedAt)).Scan(&s.ID)
		if err != nil {
			return fmt.Errorf("start step: %w", err)
		}
		return db.appendEvents(ctx, c, buildID, []*kiln.BuildEvent{{Time: s.StartedAt, Kind: kiln.EventStep, Step: &kiln.StepEvent{
			ID: s.ID, Name: s.Name, Phase: kiln.StepStarted, Outcome: kiln.StepRunning,
		}}})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// FinishStep records how a step ended. EInvalid for an outcome that is not
// an ending, ENotFound when the step does not exist, EConflict when it
// has already finished.
func (w *BuildWork) FinishStep(ctx context.Context, stepID int64, outcome kiln.StepOutcome, errMsg string) error {
	switch outcome {
	case kiln.StepSucceeded, kiln.StepFailed, kiln.StepSkipped, kiln.StepCanceled:
	default:
		return kiln.FieldErrorf("outcome", "must be succeeded, failed, skipped or canceled, not %q", outcome)
	}
	db := w.db
	return db.inTx(ctx, func(c conn) error {
		now := db.nowUTC()
		s, err := scanStep(c.row(ctx, "UPDATE build_steps SET outcome = ?, error = ?, finished_at = ? WHERE id = ? AND finished_at IS NULL RETURNING "+
			cols("", stepColumns...), string(outcome), cleanText(errMsg, maxErrorLen), db.ts(now), stepID))
		if err == nil {
			return db.appendEvents(ctx, c, s.BuildID, []*kiln.BuildEvent{stepFinishedEvent(now, s)})
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("finish step: %w", err)
		}
		var n int
		if err := c.row(ctx, "SELECT count(*) FROM build_steps WHERE id = ?", stepID).Scan(&n); err != nil {
			return fmt.Errorf("finish step: %w", err)
		} else if n == 0 {
			return kiln.Errorf(kiln.ENotFound, "step %d not found", stepID)
		}
		return kiln.Errorf(kiln.EConflict, "step %d has already finished", stepID)
	})
}

// AppendLogs stores lines in order, filling each one's BuildID and Seq
// (and Time when zero). Seqs come from the build's counter inside the
// transaction, so they are gapless and unique under concurrent appends.
// Text is made valid UTF-8 and cut to kiln.MaxLogLineLen with a note; an
// empty stream means system. EInvalid for an unknown stream, ENotFound
// when the build does not exist.
func (w *BuildWork) AppendLogs(ctx context.Context, buildID int64, lines []*kiln.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	for i, l := range lines {
		switch l.Stream {
		case "":
			l.Stream = kiln.StreamSystem
		case kiln.StreamStdout, kiln.StreamStderr, kiln.StreamSystem:
		default:
			return kiln.FieldErrorf(fmt.Sprintf("lines[%d].stream", i), "must be stdout, stderr or system")
		}
	}
	return w.db.inTx(ctx, func(c conn) error { return w.db.appendLogs(ctx, c, buildID, lines) })
}

// systemLine returns a system log line.
func systemLine(t time.Time, format string, args ...any) *kiln.LogLine {
	return &kiln.LogLine{Time: t, Stream: kiln.StreamSystem, Text: fmt.Sprintf(format, args...)}
}

// CreateArtifact records an artifact already written to the blob store and
// fills its ID and CreatedAt. EInvalid for a missing kind, name or
// location or a negative size, ENotFound when the build does not exist.
func (w *BuildWork) CreateArtifact(ctx context.Context, a *kiln.Artifact) error {
	switch {
	case a.Kind == "" || len(a.Kind) > maxStepNameLen:
		return kiln.FieldErrorf("kind", "must be 1 to %d bytes", maxStepNameLen)
	case a.Name == "" || len(a.Name) > maxArtifactName:
		return kiln.FieldErrorf("name", "must be 1 to %d bytes", maxArtifactName)
	case a.Location == "":
		return kiln.FieldErrorf("location", "is required")
	case a.Size < 0:
		return kiln.FieldErrorf("size", "must not be negative")
	}
	db := w.db
	return db.inTx(ctx, func(c conn) error {
		if _, err := db.getBuild(ctx, c, a.BuildID); err != nil {
			return err
		}
		now := db.nowUTC()
		err := c.row(ctx, `INSERT INTO artifacts (build_id, kind, name, size, sha256, location, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			a.BuildID, cleanText(a.Kind, maxStepNameLen), cleanText(a.Name, maxArtifactName), a.Size,
			cleanText(a.SHA256, 128), cleanText(a.Location, 4096), db.ts(now)).Scan(&a.ID)
		if err != nil {
			return fmt.Errorf("create artifact: %w", err)
		}
		a.CreatedAt = now
		stored := *a
		return db.appendEvents(ctx, c, a.BuildID, []*kiln.BuildEvent{{Time: now, Kind: kiln.EventArtifact, Artifact: &stored}})
	})
}

// endOpenSteps ends the build's steps still running with outcome and
// returns their step events, for the caller to append.
func (db *DB) endOpenSteps(ctx context.Context, c conn, buildID int64, outcome kiln.StepOutcome, errMsg string, now time.Time) ([]*kiln.BuildEvent, error) {
	rows, err := c.query(ctx, "UPDATE build_steps SET outcome = ?, error = ?, finished_at = ? WHERE build_id = ? AND finished_at IS NULL RETURNING "+
		cols("", stepColumns...), string(outcome), errMsg, db.ts(now), buildID)
	if err != nil {
		return nil, fmt.Errorf("end open steps: %w", err)
	}
	steps, err := collect(rows, scanStep)
	if err != nil {
		return nil, fmt.Errorf("end open steps: %w", err)
	}
	slices.SortFunc(steps, func(a, b *kiln.Step) int { return cmp.Compare(a.ID, b.ID) })
	events := make([]*kiln.BuildEvent, len(steps))
	for i, s := range steps {
		events[i] = stepFinishedEvent(now, s)
	}
	return events, nil
}

// FinishBuild ends the build with a terminal status and error text and
// releases the lease. Steps still running end as failed or canceled with
// it. EInvalid for a status that is not terminal, EConflict when the lease
// was lost.
func (w *BuildWork) FinishBuild(ctx context.Context, id int64, lease string, status kiln.BuildStatus, errMsg string) error {
	if !status.Terminal() {
		return kiln.FieldErrorf("status", "must be succeeded, failed or canceled, not %q", status)
	}
	db := w.db
	errMsg = cleanText(errMsg, maxErrorLen)
	return db.inTx(ctx, func(c conn) error {
		now := db.nowUTC()
		b, err := scanBuild(c.row(ctx, `UPDATE builds SET status = ?, error = ?, finished_at = ?, lease = NULL, heartbeat_at = NULL
			WHERE id = ? AND lease = ? RETURNING `+cols("", buildColumns...), string(status), errMsg, db.ts(now), id, lease))
		if errors.Is(err, sql.ErrNoRows) {
			return db.leaseError(ctx, c, id)
		} else if err != nil {
			return fmt.Errorf("finish build: %w", err)
		}
		var events []*kiln.BuildEvent
		switch status {
		case kiln.BuildFailed:
			events, err = db.endOpenSteps(ctx, c, id, kiln.StepFailed, "", now)
		case kiln.BuildCanceled:
			events, err = db.endOpenSteps(ctx, c, id, kiln.StepCanceled, "", now)
		}
		if err != nil {
			return err
		}
		if err := db.buildFinishedMail(ctx, c, b); err != nil {
			return err
		}
		return db.appendEvents(ctx, c, id, append(events, endEvent(now, b, status, errMsg)))
	})
}

// ReleaseBuild gives a build back to the queue after an infrastructure
// failure, so the queue's retry can claim it again: the status returns to
// queued, the lease is cleared, running steps fail with the reason and a
// system log line says why. A build whose cancel was requested is canceled
// instead. EConflict when the lease was lost.
func (w *BuildWork) ReleaseBuild(ctx context.Context, id int64, lease string, reason string) error {
	db := w.db
	reason = cleanText(reason, maxErrorLen)
	return db.inTx(ctx, func(c conn) error {
		var cancel bool
		err := c.row(ctx, "SELECT cancel_requested FROM builds WHERE id = ? AND lease = ?"+db.forUpdate(), id, lease).Scan(boolScan{&cancel})
		if errors.Is(err, sql.ErrNoRows) {
			return db.leaseError(ctx, c, id)
		} else if err != nil {
			return fmt.Errorf("release build: %w", err)
		}
		now := db.nowUTC()
		if cancel {
			return db.endBuild(ctx, c, id, kiln.BuildCanceled, "", now, "canceled (the worker gave it up: %s)", reason)
		}
		if _, err := c.exec(ctx, "UPDATE builds SET status = ?, lease = NULL, heartbeat_at = NULL WHERE id = ?",
			string(kiln.BuildQueued), id); err != nil {
			return fmt.Errorf("release build: %w", err)
		}
		return db.requeueEvents(ctx, c, id, reason, now, systemLine(now, "released back to the queue for a retry: %s", reason))
	})
}

// requeueEvents appends what watchers see when a build goes back to the
// queue: its open steps failing with reason, a system line, the queued
// status.
func (db *DB) requeueEvents(ctx context.Context, c conn, id int64, reason string, now time.Time, line *kiln.LogLine) error {
	events, err := db.endOpenSteps(ctx, c, id, kiln.StepFailed, reason, now)
	if err != nil {
		return err
	}
	events = append(events, logEvent(line), statusEvent(now, kiln.BuildQueued, ""))
	return db.appendEvents(ctx, c, id, events)
}

// endBuild ends a build without a lease check (the caller holds its row),
// ends its open steps and logs a system line before the end event.
func (db *DB) endBuild(ctx context.Context, c conn, id int64, status kiln.BuildStatus, errMsg string, now time.Time, format string, args ...any) error {
	b, err := scanBuild(c.row(ctx, `UPDATE builds SET status = ?, error = ?, finished_at = ?, lease = NULL, heartbeat_at = NULL
		WHERE id = ? RETURNING `+cols("", buildColumns...), string(status), errMsg, db.ts(now), id))
	if err != nil {
		return fmt.Errorf("end build: %w", err)
	}
	outcome := kiln.StepFailed
	if status == kiln.BuildCanceled {
		outcome = kiln.StepCanceled
	}
	events, err := db.endOpenSteps(ctx, c, id, outcome, errMsg, now)
	if err != nil {
		return err
	}
	if err := db.buildFinishedMail(ctx, c, b); err != nil {
		return err
	}
	events = append(events, logEvent(systemLine(now, format, args...)), endEvent(now, b, status, errMsg))
	return db.appendEvents(ctx, c, id, events)
}

// RescueStaleBuilds finds builds held under a lease whose heartbeat is
// older than staleBefore: their worker died. Each is handled in its own
// transaction: with fewer than maxAttempts attempts it is queued again
// (lease cleared, a system log line, a new queue job through the
// EnqueueFunc); otherwise it fails with the reason. A build whose cancel
// was requested is canceled and counted with the failed. One call handles
// at most 1000 builds, oldest first. It returns the ids of both groups; an error with one build does not stop the others and
// is returned joined with the rest.
func (w *BuildWork) RescueStaleBuilds(ctx context.Context, staleBefore time.Time, maxAttempts int) (requeued, failed []int64, err error) {
	db := w.db
	maxAttempts = max(maxAttempts, 1)
	const stale = "lease IS NOT NULL AND heartbeat_at < ? AND status NOT IN "
	rows, err := db.read().query(ctx, "SELECT id FROM builds WHERE "+stale+terminalStatuses+" ORDER BY id LIMIT 1000",
		db.ts(staleBefore))
	if err != nil {
		return nil, nil, fmt.Errorf("find stale builds: %w", err)
	}
	ids, err := collect(rows, func(r rowScanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("find stale builds: %w", err)
	}
	var errs []error
	for _, id := range ids {
		var requeue, ended bool
		err := db.inTx(ctx, func(c conn) error {
			var attempt int
			var cancel bool
			err := c.row(ctx, "SELECT attempt, cancel_requested FROM builds WHERE id = ? AND "+stale+terminalStatuses+db.forUpdate(),
				id, db.ts(staleBefore)).Scan(&attempt, boolScan{&cancel})
			if errors.Is(err, sql.ErrNoRows) {
				return nil // its worker came back, or it ended meanwhile
			} else if err != nil {
				return fmt.Errorf("rescue build %d: %w", id, err)
			}
			now := db.nowUTC()
			switch {
			case cancel:
				ended = true
				return db.endBuild(ctx, c, id, kiln.BuildCanceled, "", now, "canceled: the worker was lost after a cancel was requested")
			case attempt >= maxAttempts:
				ended = true
				msg := fmt.Sprintf("the worker running this build was lost %d times (no heartbeat); giving up", attempt)
				return db.endBuild(ctx, c, id, kiln.BuildFailed, msg, now, "%s", msg)
			}
			requeue = true
			if _, err := c.exec(ctx, "UPDATE builds SET status = ?, lease = NULL, heartbeat_at = NULL WHERE id = ?",
				string(kiln.BuildQueued), id); err != nil {
				return fmt.Errorf("requeue build %d: %w", id, err)
			}
			line := systemLine(now, "worker lost; retrying, attempt %d of %d", attempt+1, maxAttempts)
			if err := db.requeueEvents(ctx, c, id, "worker lost", now, line); err != nil {
				return err
			}
			return db.enqueueBuild(ctx, c.tx, id)
		})
		switch {
		case err != nil:
			errs = append(errs, err)
		case requeue:
			requeued = append(requeued, id)
			db.log.InfoContext(ctx, "stale build requeued", slog.Int64("build_id", id))
		case ended:
			failed = append(failed, id)
			db.log.WarnContext(ctx, "stale build ended", slog.Int64("build_id", id))
		}
	}
	return requeued, failed, errors.Join(errs...)
}
