package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	kiln "github.com/kiln-build/kiln"
)

// Log read limits of FindLogs.
const (
	DefaultLogLimit = 1000
	MaxLogLimit     = 5000
)

// BuildService implements kiln.BuildService.
type BuildService struct {
	db *DB
}

var _ kiln.BuildService = (*BuildService)(nil)

// NewBuildService returns the build service over db.
func NewBuildService(db *DB) kiln.BuildService { return &BuildService{db: db} }

func errBuildNotFound(id int64) error {
	return kiln.Errorf(kiln.ENotFound, "build %d not found", id)
}

// findBuild returns a build the user may see, or ENotFound. lock locks its
// row inside a transaction.
func (db *DB) findBuild(ctx context.Context, c conn, u *kiln.User, id int64, lock bool) (*kiln.Build, error) {
	cond, args := ownerClause(u, "owner_id")
	q := "SELECT " + cols("", buildColumns...) + " FROM builds WHERE id = ? AND " + cond
	if lock {
		q += db.forUpdate()
	}
	b, err := scanBuild(c.row(ctx, q, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBuildNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("find build: %w", err)
	}
	return b, nil
}

// getBuild returns a build by id for the system, ENotFound when absent.
func (db *DB) getBuild(ctx context.Context, c conn, id int64) (*kiln.Build, error) {
	b, err := scanBuild(c.row(ctx, "SELECT "+cols("", buildColumns...)+" FROM builds WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBuildNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("find build: %w", err)
	}
	return b, nil
}

// CreateBuild queues a new build of the app from its current spec, with
// its queue job in the same transaction. ENotFound when the app is not the
// caller's, EForbidden when the caller must verify their email first.
func (s *BuildService) CreateBuild(ctx context.Context, appID int64, in kiln.BuildCreate) (*kiln.Build, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	db := s.db
	var b *kiln.Build
	err = db.inTx(ctx, func(c conn) error {
		// Locking the app row serializes concurrent builds of one app, so
		// their numbers do not collide.
		app, err := db.findApp(ctx, c, u, appID, true)
		if err != nil {
			return err
		}
		if err := db.checkMayBuild(ctx, c, u.ID); err != nil {
			return err
		}
		var number int
		if err := c.row(ctx, "SELECT COALESCE(max(number), 0) + 1 FROM builds WHERE app_id = ?", appID).Scan(&number); err != nil {
			return fmt.Errorf("next build number: %w", err)
		}
		b, err = db.insertBuild(ctx, c, app, number, in.NoCache)
		return err
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// FindBuildByID returns a build. ENotFound when absent or not the caller's.
func (s *BuildService) FindBuildByID(ctx context.Context, id int64) (*kiln.Build, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	return s.db.findBuild(ctx, s.db.read(), u, id, false)
}

// FindBuilds lists builds newest first with the next cursor ("" at the
// end), filtered by app and status. ENotFound when the app is not the
// caller's, EInvalid for a bad status or cursor, EForbidden for All
// without admin rights.
func (s *BuildService) FindBuilds(ctx context.Context, f kiln.BuildFilter) ([]*kiln.Build, string, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, "", err
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", kiln.FieldErrorf("status", "must be one of %v", kiln.BuildStatuses)
	}
	c := s.db.read()
	var cond string
	var args []any
	if f.AppID != 0 {
		// Anyone who may see the app may see all its builds.
		if _, err := s.db.findApp(ctx, c, u, f.AppID, false); err != nil {
			return nil, "", err
		}
		cond, args = "app_id = ?", []any{f.AppID}
	} else if cond, args, err = listClause(u, f.All, "owner_id"); err != nil {
		return nil, "", err
	}
	if f.Status != "" {
		cond += " AND status = ?"
		args = append(args, string(f.Status))
	}
	pcond, pargs, limit, err := pageClause(f.Page, "id")
	if err != nil {
		return nil, "", err
	}
	args = append(append(args, pargs...), limit)
	rows, err := c.query(ctx, "SELECT "+cols("", buildColumns...)+" FROM builds WHERE "+cond+" AND "+pcond+
		" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return nil, "", fmt.Errorf("find builds: %w", err)
	}
	builds, err := collect(rows, scanBuild)
	if err != nil {
		return nil, "", fmt.Errorf("find builds: %w", err)
	}
	builds, next := trimPage(builds, f.Page, func(b *kiln.Build) int64 { return b.ID })
	return builds, next, nil
}

// CancelBuild asks a build to stop. A queued build no worker holds is
// canceled at once; otherwise cancel_requested is set and the worker sees
// it on its next heartbeat. EConflict when the build has already ended,
// ENotFound when it is not the caller's.
func (s *BuildService) CancelBuild(ctx context.Context, id int64) (*kiln.Build, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	db := s.db
	var b *kiln.Build
	err = db.inTx(ctx, func(c conn) error {
		var err error
		if b, err = db.findBuild(ctx, c, u, id, true); err != nil {
			return err
		}
		if b.Status.Terminal() {
			return kiln.Errorf(kiln.EConflict, "build %d has already ended (%s)", id, b.Status)
		}
		var leased bool
		if err := c.row(ctx, "SELECT lease IS NOT NULL FROM builds WHERE id = ?", id).Scan(boolScan{&leased}); err != nil {
			return fmt.Errorf("cancel build: %w", err)
		}
		now := db.nowUTC()
		b.CancelRequested = true
		if b.Status == kiln.BuildQueued && !leased {
			b.Status, b.FinishedAt = kiln.BuildCanceled, &now
			if _, err := c.exec(ctx, `UPDATE builds SET status = ?, cancel_requested = TRUE, finished_at = ?
				WHERE id = ?`, string(kiln.BuildCanceled), db.ts(now), id); err != nil {
				return fmt.Errorf("cancel build: %w", err)
			}
			return db.appendEvents(ctx, c, id, []*kiln.BuildEvent{
				logEvent(systemLine(now, "canceled by the user before it started")),
				endEvent(now, b, kiln.BuildCanceled, ""),
			})
		}
		if _, err := c.exec(ctx, "UPDATE builds SET cancel_requested = TRUE WHERE id = ?", id); err != nil {
			return fmt.Errorf("request build cancel: %w", err)
		}
		return db.appendLogs(ctx, c, id, []*kiln.LogLine{systemLine(now, "cancel requested by the user")})
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// FindSteps returns the build's steps in the order they started. ENotFound
// when the build is not the caller's.
func (s *BuildService) FindSteps(ctx context.Context, buildID int64) ([]*kiln.Step, error) {
	_, steps, err := s.FindBuildWithSteps(ctx, buildID)
	if err != nil {
		return nil, err
	}
	return steps, nil
}

// FindBuildWithSteps returns the build and its steps in order, read in
// one query. ENotFound when the build is not the caller's.
func (s *BuildService) FindBuildWithSteps(ctx context.Context, id int64) (*kiln.Build, []*kiln.Step, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, nil, err
	}
	// The LEFT JOIN yields one row with a zero step id for a visible build
	// without steps, and no row for a build the caller may not see.
	cond, args := ownerClause(u, "b.owner_id")
	rows, err := s.db.read().query(ctx, "SELECT "+cols("b", buildColumns...)+`,
		COALESCE(s.id, 0), b.id, COALESCE(s.name, ''), COALESCE(s.outcome, ''), COALESCE(s.error, ''),
		COALESCE(s.started_at, b.created_at), s.finished_at,
		EXISTS (SELECT 1 FROM llm_calls l WHERE l.build_id = b.id)
		FROM builds b LEFT JOIN build_steps s ON s.build_id = b.id
		WHERE b.id = ? AND `+cond+" ORDER BY s.id", append([]any{id}, args...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("find build: %w", err)
	}
	defer rows.Close()
	var b *kiln.Build
	steps := make([]*kiln.Step, 0, 8)
	var skip []any // the build's columns again on every row after the first
	var usedLLM bool
	for rows.Next() {
		st := new(kiln.Step)
		stepDest := []any{&st.ID, &st.BuildID, &st.Name, &st.Outcome, &st.Error,
			timeScan{&st.StartedAt}, nullTimeScan{&st.FinishedAt}, &usedLLM}
		if b == nil {
			if b, err = scanBuild(extraScanner{r: rows, extra: stepDest}); err != nil {
				return nil, nil, fmt.Errorf("find build: %w", err)
			}
		} else {
			if skip == nil {
				skip = make([]any, len(buildColumns))
				for i := range skip {
					skip[i] = new(any)
				}
			}
			if err := rows.Scan(append(skip[:len(skip):len(skip)], stepDest...)...); err != nil {
				return nil, nil, fmt.Errorf("find build steps: %w", err)
			}
		}
		if st.ID != 0 {
			steps = append(steps, st)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("find build: %w", err)
	}
	if b == nil {
		return nil, nil, errBuildNotFound(id)
	}
	b.UsedLLM = usedLLM
	return b, steps, nil
}

// FindLogs returns up to limit log lines with Seq > after, in order. A
// limit of 0 or less means DefaultLogLimit; at most MaxLogLimit lines come
// back. ENotFound when the build is not the caller's.
func (s *BuildService) FindLogs(ctx context.Context, buildID, after int64, limit int) ([]*kiln.LogLine, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case limit <= 0:
		limit = DefaultLogLimit
	case limit > MaxLogLimit:
		limit = MaxLogLimit
	}
	c := s.db.read()
	if _, err := s.db.findBuild(ctx, c, u, buildID, false); err != nil {
		return nil, err
	}
	rows, err := c.query(ctx, `SELECT build_id, seq, time, stream, text FROM build_events
		WHERE build_id = ? AND seq > ? AND kind = 'log' ORDER BY seq LIMIT ?`, buildID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("find logs: %w", err)
	}
	lines, err := collect(rows, func(r rowScanner) (*kiln.LogLine, error) {
		l := new(kiln.LogLine)
		return l, r.Scan(&l.BuildID, &l.Seq, timeScan{&l.Time}, &l.Stream, &l.Text)
	})
	if err != nil {
		return nil, fmt.Errorf("find logs: %w", err)
	}
	return lines, nil
}

// FindArtifacts returns the build's artifacts in the order they were made.
// ENotFound when the build is not the caller's.
func (s *BuildService) FindArtifacts(ctx context.Context, buildID int64) ([]*kiln.Artifact, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	c := s.db.read()
	if _, err := s.db.findBuild(ctx, c, u, buildID, false); err != nil {
		return nil, err
	}
	return s.db.artifactsOf(ctx, c, buildID)
}

// artifactsOf returns a build's artifacts in the order they were made,
// for whoever owns it.
func (db *DB) artifactsOf(ctx context.Context, c conn, buildID int64) ([]*kiln.Artifact, error) {
	rows, err := c.query(ctx, "SELECT "+cols("", artifactColumns...)+" FROM artifacts WHERE build_id = ? ORDER BY id", buildID)
	if err != nil {
		return nil, fmt.Errorf("find artifacts: %w", err)
	}
	arts, err := collect(rows, scanArtifact)
	if err != nil {
		return nil, fmt.Errorf("find artifacts: %w", err)
	}
	return arts, nil
}

// FindArtifactByID returns one artifact. ENotFound when absent or when its
// build is not the caller's.
func (s *BuildService) FindArtifactByID(ctx context.Context, id int64) (*kiln.Artifact, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	cond, args := ownerClause(u, "b.owner_id")
	a, err := scanArtifact(s.db.read().row(ctx, "SELECT "+cols("a", artifactColumns...)+
		" FROM artifacts a JOIN builds b ON b.id = a.build_id WHERE a.id = ? AND "+cond,
		append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.ENotFound, "artifact %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find artifact: %w", err)
	}
	return a, nil
}
