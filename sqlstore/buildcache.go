package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	kiln "github.com/kiln-build/kiln"
)

// maxCacheKeyLen bounds a build's cache key (a hex sha256 is 64 bytes).
const maxCacheKeyLen = 128

// SetBuildCacheKey records the key of what the build makes. EInvalid for a
// key longer than 128 bytes, EConflict when the lease was lost, ENotFound
// when the build is gone.
func (w *BuildWork) SetBuildCacheKey(ctx context.Context, id int64, lease, key string) error {
	if len(key) > maxCacheKeyLen {
		return kiln.FieldErrorf("cache_key", "is longer than %d bytes", maxCacheKeyLen)
	}
	db := w.db
	var got int64
	err := db.write().row(ctx, "UPDATE builds SET cache_key = ?, heartbeat_at = ? WHERE id = ? AND lease = ? RETURNING id",
		key, db.ts(db.nowUTC()), id, lease).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return db.leaseError(ctx, db.read(), id)
	} else if err != nil {
		return fmt.Errorf("set build cache key: %w", err)
	}
	return nil
}

// FindCachedBuild returns the owner's newest succeeded build with the
// cache key. ENotFound when there is none.
func (w *BuildWork) FindCachedBuild(ctx context.Context, ownerID int64, key string) (*kiln.Build, error) {
	if key == "" {
		return nil, kiln.Errorf(kiln.ENotFound, "no cached build for an empty key")
	}
	b, err := scanBuild(w.db.read().row(ctx, "SELECT "+cols("", buildColumns...)+` FROM builds
		WHERE owner_id = ? AND cache_key = ? AND status = ? ORDER BY id DESC LIMIT 1`,
		ownerID, key, string(kiln.BuildSucceeded)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.ENotFound, "no succeeded build with this cache key")
	} else if err != nil {
		return nil, fmt.Errorf("find cached build: %w", err)
	}
	return b, nil
}

// FindBuildArtifacts returns the artifacts of any build in the order they
// were made (none for a build that made none or does not exist).
func (w *BuildWork) FindBuildArtifacts(ctx context.Context, buildID int64) ([]*kiln.Artifact, error) {
	return w.db.artifactsOf(ctx, w.db.read(), buildID)
}

// ReuseArtifacts copies the artifact rows of build from to build id (the
// blobs are shared, not copied) in place of any id has, sets id's cached_from and appends an
// artifact event per copy. EConflict when the lease was lost, when from is
// id itself, has not succeeded or belongs to another owner; ENotFound when
// from does not exist.
func (w *BuildWork) ReuseArtifacts(ctx context.Context, id int64, lease string, from int64) ([]*kiln.Artifact, error) {
	db := w.db
	var out []*kiln.Artifact
	err := db.inTx(ctx, func(c conn) error {
		now := db.nowUTC()
		src, err := db.getBuild(ctx, c, from)
		if err != nil {
			return err
		}
		var owner int64
		err = c.row(ctx, "UPDATE builds SET cached_from = ?, heartbeat_at = ? WHERE id = ? AND lease = ? RETURNING owner_id",
			from, db.ts(now), id, lease).Scan(&owner)
		if errors.Is(err, sql.ErrNoRows) {
			return db.leaseError(ctx, c, id)
		} else if err != nil {
			return fmt.Errorf("reuse artifacts: %w", err)
		}
		switch {
		case src.ID == id:
			return kiln.Errorf(kiln.EConflict, "build %d cannot reuse its own artifacts", id)
		case src.OwnerID != owner:
			return kiln.Errorf(kiln.EConflict, "build %d belongs to another owner; its artifacts are not shared", from)
		case src.Status != kiln.BuildSucceeded:
			return kiln.Errorf(kiln.EConflict, "build %d %s; only a succeeded build is reused", from, src.Status)
		}
		// A retried attempt may have copied them already.
		if _, err := c.exec(ctx, "DELETE FROM artifacts WHERE build_id = ?", id); err != nil {
			return fmt.Errorf("reuse artifacts: %w", err)
		}
		rows, err := c.query(ctx, `INSERT INTO artifacts (build_id, kind, name, size, sha256, location, created_at)
			SELECT ?, kind, name, size, sha256, location, ? FROM artifacts WHERE build_id = ? ORDER BY id
			RETURNING `+cols("", artifactColumns...), id, db.ts(now), from)
		if err != nil {
			return fmt.Errorf("reuse artifacts: %w", err)
		}
		if out, err = collect(rows, scanArtifact); err != nil {
			return fmt.Errorf("reuse artifacts: %w", err)
		}
		slices.SortFunc(out, func(a, b *kiln.Artifact) int { return cmp.Compare(a.ID, b.ID) })
		events := make([]*kiln.BuildEvent, len(out))
		for i, a := range out {
			stored := *a
			events[i] = &kiln.BuildEvent{Time: now, Kind: kiln.EventArtifact, Artifact: &stored}
		}
		return db.appendEvents(ctx, c, id, events)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
