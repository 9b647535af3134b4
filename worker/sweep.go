package worker

import (
	"context"
	"log/slog"
	"strconv"
	"time"
)

// BlobFolders lists and removes folders of blobs; blob.Local satisfies it.
type BlobFolders interface {
	Children(ctx context.Context, dir string) (map[string]time.Time, error)
	DeleteAll(ctx context.Context, dir string) error
}

// SweepConfig configures SweepBuildBlobs.
type SweepConfig struct {
	Blobs BlobFolders
	// InUse reports whether a build's blobs may still be read
	// (sqlstore.DB.BuildBlobsInUse).
	InUse func(ctx context.Context, buildID int64) (bool, error)
	// Grace spares folders modified more recently than this: a build that
	// is storing an artifact right now has blobs before its rows commit.
	Grace  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// SweepBuildBlobs deletes the artifact folders ("builds/<id>") of builds
// that no longer exist and whose blobs no other build reuses — what is
// left after an app is deleted. It returns how many folders it removed.
// Errors on one folder are logged and the sweep goes on.
func SweepBuildBlobs(ctx context.Context, cfg SweepConfig) (int, error) {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	folders, err := cfg.Blobs.Children(ctx, "builds")
	if err != nil {
		return 0, err
	}
	removed := 0
	for name, mod := range folders {
		id, err := strconv.ParseInt(name, 10, 64)
		if err != nil || id <= 0 || now().Sub(mod) < cfg.Grace {
			continue
		}
		inUse, err := cfg.InUse(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return removed, ctx.Err()
			}
			log.WarnContext(ctx, "blob sweep", slog.Int64("build_id", id), slog.Any("error", err))
			continue
		}
		if inUse {
			continue
		}
		if err := cfg.Blobs.DeleteAll(ctx, "builds/"+name); err != nil {
			log.WarnContext(ctx, "blob sweep", slog.Int64("build_id", id), slog.Any("error", err))
			continue
		}
		removed++
	}
	if removed > 0 {
		log.InfoContext(ctx, "deleted artifacts of deleted builds", slog.Int("folders", removed))
	}
	return removed, nil
}
