package codegen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/templates"
)

// CacheRecorder is what a Recorder offers when its builds can reuse the
// output of an earlier identical build (the worker's recorder does; `kiln
// generate`'s does not). The pipeline checks for it with a type assertion.
type CacheRecorder interface {
	// SetCacheKey records the key of what the build makes.
	SetCacheKey(ctx context.Context, key string) error
	// CachedBuild returns the newest succeeded build of the same owner
	// made under key; an ENotFound error when there is none.
	CachedBuild(ctx context.Context, key string) (*kiln.Build, error)
	// CheckArtifacts checks that the blobs of from's artifacts are still
	// in the artifact store. ENotFound ("artifact X is missing") or
	// EConflict (a blob of another size) name the first that is not;
	// another error means it could not check.
	CheckArtifacts(ctx context.Context, from *kiln.Build) error
	// ReuseArtifacts records from's artifacts as the build's own.
	ReuseArtifacts(ctx context.Context, from *kiln.Build) ([]*kiln.Artifact, error)
}

// cacheFormat changes whenever what a build makes from the same inputs
// changes in a way the other parts of the key do not capture (a new
// artifact, a new check), so older entries stop matching.
const cacheFormat = 1

// cacheKeyInput is everything a build's checked output and artifacts
// depend on. Its canonical JSON's sha256 is the cache key.
type cacheKeyInput struct {
	Format          int    `json:"format"`
	Spec            string `json:"spec_sha256"` // the spec's canonical JSON
	TemplateSet     string `json:"template_set"`
	TemplateVersion string `json:"template_version"`
	Templates       string `json:"templates_sha256"` // every file of the set, so an override counts
	Go              string `json:"go"`               // the toolchain the checks use
	Sandbox         string `json:"sandbox"`
	Validate        bool   `json:"validate"`
	// With a model that customizes or repairs the app, its output also
	// depends on the model, the settings and the description (the
	// prompts are files of the template set).
	Model          string `json:"model,omitempty"`
	Customize      bool   `json:"customize,omitempty"`
	RepairAttempts int    `json:"repair_attempts,omitempty"`
	Description    string `json:"description,omitempty"`
}

// cacheKey returns the key of what this pipeline makes of spec for app.
func (p *Pipeline) cacheKey(set *templates.Set, spec *kiln.AppSpec, app *kiln.App) (string, error) {
	names, err := set.Files() // sorted
	if err != nil {
		return "", fmt.Errorf("cache key: %w", err)
	}
	th := sha256.New()
	for _, n := range names {
		b, err := set.ReadFile(n)
		if err != nil {
			return "", fmt.Errorf("cache key: %w", err)
		}
		fmt.Fprintf(th, "%d:%s%d:", len(n), n, len(b))
		th.Write(b)
	}
	in := cacheKeyInput{
		Format: cacheFormat, Spec: spec.Hash(),
		TemplateSet: set.Name, TemplateVersion: set.Version, Templates: hex.EncodeToString(th.Sum(nil)),
		Go: p.toolchainVersion(), Sandbox: string(p.cfg.Sandbox.Mode), Validate: p.cfg.Validate,
	}
	if l := p.cfg.LLM; l != nil && l.Assistant != nil && (l.Customize || l.RepairAttempts > 0) {
		in.Model, in.Customize, in.RepairAttempts = l.Model, l.Customize, l.RepairAttempts
		in.Description = app.Description
	}
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("cache key: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// toolchainVersion returns the version of the Go toolchain the checks run
// with: its GOROOT's VERSION file, or Kiln's own when it has none.
func (p *Pipeline) toolchainVersion() string {
	p.goVersionOnce.Do(func() {
		p.goVersion = runtime.Version()
		root := p.cfg.Sandbox.GOROOT
		if root == "" {
			return
		}
		if b, err := os.ReadFile(filepath.Join(root, "VERSION")); err == nil {
			if v, _, _ := strings.Cut(string(b), "\n"); strings.HasPrefix(v, "go") {
				p.goVersion = v
			}
		}
	})
	return p.goVersion
}

// goVersionCache holds the toolchain version, read once.
type goVersionCache struct {
	goVersionOnce sync.Once
	goVersion     string
}

// reuse looks for an earlier build with the same key and, when there is
// one whose artifact blobs are all still stored, makes its checked output
// and artifacts this build's. It reports whether the build is done. A
// failed lookup, a missing blob or a failed check of the blobs is logged
// and the build runs in full.
func (p *Pipeline) reuse(ctx context.Context, b *kiln.Build, key string, cr CacheRecorder, rec kiln.Recorder) (bool, error) {
	if err := cr.SetCacheKey(ctx, key); err != nil {
		return false, err
	}
	if b.NoCache {
		rec.Logf("cache: not used (no_cache): building everything")
		return false, nil
	}
	prev, err := cr.CachedBuild(ctx, key)
	if kiln.ErrorCode(err) == kiln.ENotFound {
		rec.Logf("cache: miss (key %s)", key[:12])
		return false, nil
	} else if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		rec.Logf("cache: lookup failed, building everything: %v", err)
		return false, nil
	}
	if err := cr.CheckArtifacts(ctx, prev); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		switch kiln.ErrorCode(err) {
		case kiln.ENotFound, kiln.EConflict:
			rec.Logf("cache: build %d's %s; building from scratch", prev.ID, kiln.ErrorMessage(err))
		default:
			// The store's error may name its folders or endpoint: the
			// server log gets it, the build's log only the outcome.
			p.cfg.Logger.WarnContext(ctx, "cache: check of a cached build's artifacts failed",
				slog.Int64("build_id", b.ID), slog.Int64("cached_build_id", prev.ID), slog.Any("error", err))
			rec.Logf("cache: could not check build %d's artifacts; building from scratch", prev.ID)
		}
		return false, nil
	}
	err = rec.Step(ctx, "reuse", kiln.BuildPackaging, func(ctx context.Context) error {
		arts, err := cr.ReuseArtifacts(ctx, prev)
		if err != nil {
			return err
		}
		rec.Logf("cache hit: build %d (#%d of app %d) made this spec with the same templates and toolchain and passed its checks; its checked output and %d artifacts are reused (rebuild with --no-cache to build everything)",
			prev.ID, prev.Number, prev.AppID, len(arts))
		return nil
	})
	return err == nil, err
}
