package srcdiff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/pack"
)

// Blobs opens stored artifacts, verifying their SHA-256 (blob.Store).
type Blobs interface {
	Open(ctx context.Context, key string, wantSHA256 string) (io.ReadCloser, error)
}

// Builds finds the caller's builds and their artifacts (kiln.BuildService).
type Builds interface {
	FindBuildByID(ctx context.Context, id int64) (*kiln.Build, error)
	FindArtifacts(ctx context.Context, buildID int64) ([]*kiln.Artifact, error)
}

// Limits on what one source archive may unpack to: generated apps are a
// few hundred kilobytes, so these only stop a hostile archive.
var archiveLimits = pack.Limits{MaxFiles: 5000, MaxFileSize: 16 << 20, MaxTotalSize: 128 << 20}

// Sources compares builds by their stored source archives.
type Sources struct {
	Builds Builds
	Blobs  Blobs
	// TempDir is where archives are extracted (each into a fresh folder,
	// removed afterwards); os.TempDir() when "".
	TempDir string
	Options Options
}

// Diff returns the changes in the generated files from build against to
// build id. Both must be the caller's: ENotFound otherwise (whichever it
// is, so a diff reveals nothing of other users' builds). EConflict, with a
// message saying why, when a build has no stored source archive (it has
// not been packaged yet, or failed or was canceled before packaging) or
// the archive is missing from the store.
func (s *Sources) Diff(ctx context.Context, id, against int64) (*kiln.BuildDiff, error) {
	from, err := s.buildTree(ctx, against)
	if err != nil {
		return nil, err
	}
	to, err := s.buildTree(ctx, id)
	if err != nil {
		return nil, err
	}
	d := Compare(from, to, s.Options)
	d.BuildID, d.Against = id, against
	return d, nil
}

// buildTree reads the generated files of one build.
func (s *Sources) buildTree(ctx context.Context, id int64) (Tree, error) {
	b, err := s.Builds.FindBuildByID(ctx, id)
	if err != nil {
		return nil, err
	}
	arts, err := s.Builds.FindArtifacts(ctx, id)
	if err != nil {
		return nil, err
	}
	var src *kiln.Artifact
	for _, a := range arts {
		if a.Kind == kiln.ArtifactSourceTarGz {
			src = a
			break
		}
	}
	if src == nil {
		switch {
		case !b.Status.Terminal():
			return nil, kiln.Errorf(kiln.EConflict, "build %d is %s: its source archive is stored when it is packaged; diff it once it has succeeded", id, b.Status)
		case b.Status != kiln.BuildSucceeded:
			return nil, kiln.Errorf(kiln.EConflict, "build %d %s before its source was packaged, so it has no source archive to compare", id, b.Status)
		default:
			return nil, kiln.Errorf(kiln.EConflict, "build %d has no source archive to compare", id)
		}
	}
	return s.ReadArchive(ctx, src)
}

// ReadArchive reads a source .tar.gz artifact into a Tree. The archive is
// read through the blob store with its SHA-256 checked, extracted into a
// fresh temporary folder with pack.ExtractTarGz (which refuses entries that
// would leave it: "..", absolute paths, links out, devices) and removed
// afterwards. The archive's single top folder (the app name) is dropped
// from the paths. EConflict when the blob is missing from the store; a
// corrupt or hostile archive is a plain (internal) error.
func (s *Sources) ReadArchive(ctx context.Context, a *kiln.Artifact) (Tree, error) {
	rc, err := s.Blobs.Open(ctx, a.Location, a.SHA256)
	if kiln.ErrorCode(err) == kiln.ENotFound {
		return nil, kiln.Errorf(kiln.EConflict, "the source archive of build %d (%s) is missing from the artifact store", a.BuildID, a.Name)
	} else if err != nil {
		return nil, fmt.Errorf("open source archive %d: %w", a.ID, err)
	}
	defer rc.Close()
	tmp, err := os.MkdirTemp(s.TempDir, "kiln-srcdiff-*")
	if err != nil {
		return nil, fmt.Errorf("read source archive: %w", err)
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "src")

	r := &errReader{r: rc}
	if err := pack.ExtractTarGz(r, root, archiveLimits); err != nil {
		if r.err != nil && !errors.Is(r.err, io.EOF) {
			err = r.err // the checksum or the store failed, not the archive
		}
		return nil, fmt.Errorf("extract source archive %d of build %d: %s", a.ID, a.BuildID, err)
	}
	// Read to the end so the checksum is checked even when the archive
	// ended before the stream did.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("read source archive %d of build %d: %w", a.ID, a.BuildID, err)
	}
	return readTree(root)
}

// errReader remembers the first error its reader returned.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// readTree reads the regular files under root (links are not followed),
// dropping a top folder that holds everything.
func readTree(root string) (Tree, error) {
	t := Tree{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		t[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read extracted source: %w", err)
	}
	return stripTop(t), nil
}

// stripTop drops the first path element when every file is under one
// folder, so two builds of a renamed app still compare path for path.
func stripTop(t Tree) Tree {
	top := ""
	for p := range t {
		dir, _, ok := strings.Cut(p, "/")
		if !ok || (top != "" && dir != top) {
			return t
		}
		top = dir
	}
	if top == "" {
		return t
	}
	out := make(Tree, len(t))
	for p, b := range t {
		out[strings.TrimPrefix(p, top+"/")] = b
	}
	return out
}
