package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	kiln "github.com/kiln-build/kiln"
)

// AppService implements kiln.AppService.
type AppService struct {
	db *DB
}

var _ kiln.AppService = (*AppService)(nil)

// NewAppService returns the app service over db.
func NewAppService(db *DB) kiln.AppService { return &AppService{db: db} }

// errAppNotFound is what a caller gets for an app that is absent or not theirs.
func errAppNotFound(id int64) error {
	return kiln.Errorf(kiln.ENotFound, "app %d not found", id)
}

// checkName validates an app name the user typed.
func checkName(name string) error {
	if strings.TrimSpace(name) == "" {
		return kiln.FieldErrorf("name", "must not be empty")
	}
	return checkInputText("name", name, kiln.MaxAppNameLen, false)
}

// checkDescription validates an app description.
func checkDescription(desc string) error {
	if strings.TrimSpace(desc) == "" {
		return kiln.FieldErrorf("description", "is required")
	}
	return checkInputText("description", desc, kiln.MaxDescriptionLen, true)
}

// CreateApp creates the app, its build #1 and the build's queue job in one
// transaction. EInvalid for a bad name or description, EForbidden when the
// user's email is unverified and verification is required, EUnauthorized
// without a user.
func (s *AppService) CreateApp(ctx context.Context, in kiln.AppCreate) (*kiln.App, *kiln.Build, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, nil, err
	}
	desc := strings.TrimSpace(in.Description)
	if err := checkDescription(desc); err != nil {
		return nil, nil, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = deriveName(desc)
	} else if err := checkName(name); err != nil {
		return nil, nil, err
	}
	spec, err := createSpecArg(in.Spec)
	if err != nil {
		return nil, nil, err
	}

	db := s.db
	var app *kiln.App
	var build *kiln.Build
	err = db.inTx(ctx, func(c conn) error {
		if err := db.checkMayBuild(ctx, c, u.ID); err != nil {
			return err
		}
		now := db.nowUTC()
		app = &kiln.App{OwnerID: u.ID, Name: name, Description: desc, Spec: in.Spec, CreatedAt: now, UpdatedAt: now}
		err := c.row(ctx, `INSERT INTO apps (owner_id, name, description, spec, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			u.ID, name, desc, spec, db.ts(now), db.ts(now)).Scan(&app.ID)
		if err != nil {
			return fmt.Errorf("insert app: %w", err)
		}
		build, err = db.insertBuild(ctx, c, app, 1, in.NoCache)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	app.LatestBuild = build
	return app, build, nil
}

// createSpecArg validates the spec a new app starts with (nil for none)
// and returns its column value. Field paths start with "spec.".
func createSpecArg(spec *kiln.AppSpec) (any, error) {
	if spec == nil {
		return nil, nil
	}
	if err := spec.Validate(); err != nil {
		var ke *kiln.Error
		if errors.As(err, &ke) {
			fields := make([]kiln.FieldError, len(ke.Fields))
			for i, f := range ke.Fields {
				fields[i] = kiln.FieldError{Path: "spec." + f.Path, Message: f.Message}
			}
			return nil, &kiln.Error{Code: ke.Code, Message: "spec: " + ke.Message, Fields: fields}
		}
		return nil, err
	}
	return specArg(spec)
}

// checkMayBuild returns EForbidden when verification is required and the
// user's email is unverified. It reads the stored user, not the one in ctx,
// which may predate the verification.
func (db *DB) checkMayBuild(ctx context.Context, c conn, userID int64) error {
	if !db.requireVerified {
		return nil
	}
	var verified bool
	err := c.row(ctx, "SELECT email_verified FROM users WHERE id = ?", userID).Scan(boolScan{&verified})
	if errors.Is(err, sql.ErrNoRows) {
		return kiln.Errorf(kiln.EUnauthorized, "the user no longer exists")
	} else if err != nil {
		return fmt.Errorf("read user: %w", err)
	}
	if !verified {
		return kiln.Errorf(kiln.EForbidden, "verify your email address before building apps")
	}
	return nil
}

// insertBuild inserts a queued build of app with the app's current spec
// and enqueues its job, inside c's transaction.
func (db *DB) insertBuild(ctx context.Context, c conn, app *kiln.App, number int, noCache bool) (*kiln.Build, error) {
	spec, err := specArg(app.Spec)
	if err != nil {
		return nil, err
	}
	now := db.nowUTC()
	b := &kiln.Build{
		AppID: app.ID, OwnerID: app.OwnerID, Number: number, Status: kiln.BuildQueued,
		Spec: app.Spec, NoCache: noCache, CreatedAt: now,
	}
	err = c.row(ctx, `INSERT INTO builds (app_id, owner_id, number, status, spec, no_cache, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		app.ID, app.OwnerID, number, string(kiln.BuildQueued), spec, noCache, db.ts(now)).Scan(&b.ID)
	if err != nil {
		return nil, fmt.Errorf("insert build: %w", err)
	}
	if err := db.appendEvents(ctx, c, b.ID, []*kiln.BuildEvent{statusEvent(now, kiln.BuildQueued, "")}); err != nil {
		return nil, err
	}
	if err := db.enqueueBuild(ctx, c.tx, b.ID); err != nil {
		return nil, err
	}
	return b, nil
}

// findApp returns an app the user may see, or ENotFound. lock locks its row
// inside a transaction.
func (db *DB) findApp(ctx context.Context, c conn, u *kiln.User, id int64, lock bool) (*kiln.App, error) {
	cond, args := ownerClause(u, "owner_id")
	q := "SELECT " + cols("", appColumns...) + " FROM apps WHERE id = ? AND " + cond
	if lock {
		q += db.forUpdate()
	}
	app, err := scanApp(c.row(ctx, q, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errAppNotFound(id)
	} else if err != nil {
		return nil, fmt.Errorf("find app: %w", err)
	}
	return app, nil
}

// attachLatestBuilds sets LatestBuild on each app: its highest-numbered build.
func (db *DB) attachLatestBuilds(ctx context.Context, c conn, apps ...*kiln.App) error {
	if len(apps) == 0 {
		return nil
	}
	byID := make(map[int64]*kiln.App, len(apps))
	marks := make([]string, 0, len(apps))
	args := make([]any, 0, len(apps))
	for _, a := range apps {
		byID[a.ID] = a
		marks = append(marks, "?")
		args = append(args, a.ID)
	}
	rows, err := c.query(ctx, "SELECT "+cols("b", buildColumns...)+` FROM builds b
		WHERE b.app_id IN (`+strings.Join(marks, ", ")+`)
		AND b.number = (SELECT max(l.number) FROM builds l WHERE l.app_id = b.app_id)`, args...)
	if err != nil {
		return fmt.Errorf("find latest builds: %w", err)
	}
	builds, err := collect(rows, scanBuild)
	if err != nil {
		return fmt.Errorf("find latest builds: %w", err)
	}
	for _, b := range builds {
		if a := byID[b.AppID]; a != nil {
			a.LatestBuild = b
		}
	}
	return nil
}

// FindAppByID returns an app with its latest build. ENotFound when absent
// or not the caller's, EUnauthorized without a user.
func (s *AppService) FindAppByID(ctx context.Context, id int64) (*kiln.App, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	c := s.db.read()
	app, err := s.db.findApp(ctx, c, u, id, false)
	if err != nil {
		return nil, err
	}
	if err := s.db.attachLatestBuilds(ctx, c, app); err != nil {
		return nil, err
	}
	return app, nil
}

// FindApps lists the caller's apps (everyone's for an admin with All) newest
// first, each with its latest build, and returns the next cursor ("" at the
// end). EInvalid for a bad cursor, EForbidden for All without admin rights.
func (s *AppService) FindApps(ctx context.Context, f kiln.AppFilter) ([]*kiln.App, string, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, "", err
	}
	cond, args, err := listClause(u, f.All, "owner_id")
	if err != nil {
		return nil, "", err
	}
	pcond, pargs, limit, err := pageClause(f.Page, "id")
	if err != nil {
		return nil, "", err
	}
	args = append(append(args, pargs...), limit)
	c := s.db.read()
	rows, err := c.query(ctx, "SELECT "+cols("", appColumns...)+" FROM apps WHERE "+cond+" AND "+pcond+
		" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return nil, "", fmt.Errorf("find apps: %w", err)
	}
	apps, err := collect(rows, scanApp)
	if err != nil {
		return nil, "", fmt.Errorf("find apps: %w", err)
	}
	apps, next := trimPage(apps, f.Page, func(a *kiln.App) int64 { return a.ID })
	if err := s.db.attachLatestBuilds(ctx, c, apps...); err != nil {
		return nil, "", err
	}
	return apps, next, nil
}

// UpdateApp changes an app's name or description. EInvalid for a bad
// value, ENotFound when the app is not the caller's.
func (s *AppService) UpdateApp(ctx context.Context, id int64, upd kiln.AppUpdate) (*kiln.App, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	var name, desc string
	if upd.Name != nil {
		name = strings.TrimSpace(*upd.Name)
		if err := checkName(name); err != nil {
			return nil, err
		}
	}
	if upd.Description != nil {
		desc = strings.TrimSpace(*upd.Description)
		if err := checkDescription(desc); err != nil {
			return nil, err
		}
	}
	db := s.db
	var app *kiln.App
	err = db.inTx(ctx, func(c conn) error {
		var err error
		if app, err = db.findApp(ctx, c, u, id, true); err != nil {
			return err
		}
		if upd.Name != nil {
			app.Name = name
		}
		if upd.Description != nil {
			app.Description = desc
		}
		app.UpdatedAt = db.nowUTC()
		if _, err := c.exec(ctx, "UPDATE apps SET name = ?, description = ?, updated_at = ? WHERE id = ?",
			app.Name, app.Description, db.ts(app.UpdatedAt), id); err != nil {
			return fmt.Errorf("update app: %w", err)
		}
		return db.attachLatestBuilds(ctx, c, app)
	})
	if err != nil {
		return nil, err
	}
	return app, nil
}

// SetAppSpec replaces the app's current spec, which the next build uses.
// EInvalid (with Fields, from spec.Validate) when the spec is nil or does
// not validate; ENotFound when the app is not the caller's.
func (s *AppService) SetAppSpec(ctx context.Context, id int64, spec *kiln.AppSpec) (*kiln.App, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if spec == nil {
		return nil, kiln.FieldErrorf("spec", "is required")
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	arg, err := specArg(spec)
	if err != nil {
		return nil, err
	}
	db := s.db
	var app *kiln.App
	err = db.inTx(ctx, func(c conn) error {
		var err error
		if app, err = db.findApp(ctx, c, u, id, true); err != nil {
			return err
		}
		app.Spec, app.UpdatedAt = spec, db.nowUTC()
		if _, err := c.exec(ctx, "UPDATE apps SET spec = ?, updated_at = ? WHERE id = ?",
			arg, db.ts(app.UpdatedAt), id); err != nil {
			return fmt.Errorf("update app spec: %w", err)
		}
		return db.attachLatestBuilds(ctx, c, app)
	})
	if err != nil {
		return nil, err
	}
	return app, nil
}

// DeleteApp deletes an app with its builds, steps, logs and artifact
// records. The artifact files in the blob store are the caller's to remove.
// EConflict while one of its builds is running, ENotFound when the app is
// not the caller's.
func (s *AppService) DeleteApp(ctx context.Context, id int64) error {
	u, err := actor(ctx)
	if err != nil {
		return err
	}
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		if _, err := db.findApp(ctx, c, u, id, true); err != nil {
			return err
		}
		// Lock the app's builds so no worker claims one while it is deleted.
		rows, err := c.query(ctx, "SELECT number, status, lease FROM builds WHERE app_id = ? ORDER BY id"+db.forUpdate(), id)
		if err != nil {
			return fmt.Errorf("find app builds: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var number int
			var status kiln.BuildStatus
			var lease sql.NullString
			if err := rows.Scan(&number, &status, &lease); err != nil {
				return fmt.Errorf("find app builds: %w", err)
			}
			if status.Running() || (lease.Valid && !status.Terminal()) {
				return kiln.Errorf(kiln.EConflict, "build #%d of this app is running; cancel it first", number)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find app builds: %w", err)
		}
		if _, err := c.exec(ctx, "DELETE FROM apps WHERE id = ?", id); err != nil {
			return fmt.Errorf("delete app: %w", err)
		}
		return nil
	})
}

// collect scans every row with scan and closes rows.
func collect[T any](rows interface {
	rowScanner
	Next() bool
	Err() error
	Close() error
}, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := make([]T, 0)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
