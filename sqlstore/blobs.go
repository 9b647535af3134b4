package sqlstore

import (
	"context"
	"fmt"
	"strconv"
)

// BuildBlobsInUse reports whether the artifact blobs stored under a
// build's folder ("builds/<id>/…") may still be read: the build still
// exists, or an artifact of any build points into that folder (a cached
// build reuses an earlier build's blobs).
func (db *DB) BuildBlobsInUse(ctx context.Context, buildID int64) (bool, error) {
	prefix := "builds/" + strconv.FormatInt(buildID, 10) + "/"
	var inUse bool
	err := db.read().row(ctx, `SELECT EXISTS (SELECT 1 FROM builds WHERE id = ?)
		OR EXISTS (SELECT 1 FROM artifacts WHERE location LIKE ?)`, buildID, prefix+"%").Scan(&inUse)
	if err != nil {
		return false, fmt.Errorf("check build blobs: %w", err)
	}
	return inUse, nil
}
