package codegen_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/plan"
)

// cacheRecorder is a memRecorder whose builds find an earlier build under
// any cache key, with CheckArtifacts answering checkErr.
type cacheRecorder struct {
	*memRecorder
	prev     *kiln.Build
	checkErr error
	checked  bool
	reused   bool
}

var _ codegen.CacheRecorder = (*cacheRecorder)(nil)

func (r *cacheRecorder) SetCacheKey(context.Context, string) error { return nil }

func (r *cacheRecorder) CachedBuild(context.Context, string) (*kiln.Build, error) { return r.prev, nil }

func (r *cacheRecorder) CheckArtifacts(_ context.Context, from *kiln.Build) error {
	if from != r.prev {
		return errors.New("checked another build than the cached one")
	}
	r.checked = true
	return r.checkErr
}

func (r *cacheRecorder) ReuseArtifacts(context.Context, *kiln.Build) ([]*kiln.Artifact, error) {
	r.reused = true
	return []*kiln.Artifact{{Name: "todo-source.tar.gz"}}, nil
}

// TestPipeline_CacheCheck runs the pipeline (render and package the
// source, no checks) against an earlier build with the same key: it is
// reused only when its blobs are all still stored, and otherwise the build
// runs in full, its log saying why.
func TestPipeline_CacheCheck(t *testing.T) {
	t.Parallel()
	p, err := codegen.New(codegen.Config{WorkDir: t.TempDir(), Planner: plan.Rules{}, Packager: codegen.SourcePackager{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name     string
		checkErr error
		wantLog  string // empty: a cache hit
	}{
		{"OK", nil, ""},
		{"ErrNotFound", kiln.Errorf(kiln.ENotFound, "artifact todo-source.tar.gz is missing"),
			"cache: build 12's artifact todo-source.tar.gz is missing; building from scratch"},
		{"ErrConflict", kiln.Errorf(kiln.EConflict, "artifact SHA256SUMS has 1 bytes in the store, not the 90 recorded"),
			"cache: build 12's artifact SHA256SUMS has 1 bytes in the store, not the 90 recorded; building from scratch"},
		{"CheckFailed", errors.New("store unreachable"),
			"cache: could not check build 12's artifacts; building from scratch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &cacheRecorder{memRecorder: newMemRecorder(), prev: &kiln.Build{ID: 12, AppID: 5, Number: 3}, checkErr: tc.checkErr}
			// A build id per case: the work folder is named after it.
			b := &kiln.Build{ID: int64(20 + i), AppID: 5, Number: 4, Attempt: 1}
			app := &kiln.App{ID: 5, Name: "todo", Description: "a todo app with tasks (title, done)"}
			if err := p.Run(t.Context(), b, app, rec); err != nil {
				t.Fatalf("run: %v\n%s", err, rec.log.String())
			}
			log := rec.log.String()
			if !rec.checked {
				t.Fatalf("the cached build's artifacts were not checked:\n%s", log)
			}
			if tc.wantLog == "" {
				if !rec.reused || len(rec.artifacts) != 0 || !strings.Contains(log, "cache hit: build 12 (#3 of app 5)") {
					t.Fatalf("not a cache hit (reused %v, %d new artifacts):\n%s", rec.reused, len(rec.artifacts), log)
				}
				return
			}
			if rec.reused || strings.Contains(log, "cache hit") {
				t.Fatalf("reused a build whose blobs are not all stored:\n%s", log)
			}
			if strings.Contains(log, "store unreachable") {
				t.Errorf("the store's error reached the build log:\n%s", log)
			}
			if !strings.Contains(log, tc.wantLog+"\n") {
				t.Errorf("the log does not say %q:\n%s", tc.wantLog, log)
			}
			if !strings.Contains(log, "▶ render") {
				t.Errorf("the full build did not render:\n%s", log)
			}
			rec.byKind(t, kiln.ArtifactSourceTarGz)
			rec.byKind(t, kiln.ArtifactChecksums)
		})
	}
}
