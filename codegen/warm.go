package codegen

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/sandbox"
)

// A generated app's first build compiles its dependencies (modernc SQLite
// above all) into its owner's build cache: about 40 seconds on a small
// machine. Owners never share a writable cache (generated code could
// poison it), so without help every new user pays that. Instead the worker
// compiles a sample app of the template set once, from Kiln's own
// templates, into a seed cache; a new owner's cache starts as a copy of
// the seed. A copy, not links: an owner's build can write to its cache and
// must not reach the seed or anyone else's.

// seedMarker marks a complete seed cache.
const seedMarker = ".kiln-seed-complete"

// warmState tracks the one seed build of a Pipeline.
type warmState struct {
	once    sync.Once
	started atomic.Bool
	done    chan struct{} // closed when the seed build ended
	err     error
}

// warmTimeout is the least wall time each warm-up command gets.
const warmTimeout = 30 * time.Minute

func newWarmState() *warmState { return &warmState{done: make(chan struct{})} }

// seedSpec is the sample app compiled into the seed: one of every field
// type, a relation and every feature, so it imports what any app of the
// set imports.
func seedSpec() *kiln.AppSpec {
	var fields []kiln.Field
	for _, t := range kiln.FieldTypes {
		fields = append(fields, kiln.Field{Name: "f_" + string(t), Type: t})
	}
	return &kiln.AppSpec{
		KilnSpec: kiln.SpecVersion, Name: "warmup", Summary: "Compiles the template set's dependencies.",
		Entities: []kiln.Entity{
			{Name: "thing", Plural: "things", Fields: fields},
			{Name: "part", Plural: "parts", Fields: []kiln.Field{{Name: "name", Type: kiln.FieldString, Required: true}}},
		},
		Relations: []kiln.Relation{{From: "part", To: "thing", Kind: kiln.RelationBelongsTo, Field: "thing_id"}},
		Features:  kiln.Features,
	}
}

// seedDir is the seed cache of the template set for this toolchain.
func (p *Pipeline) seedDir() (string, error) {
	set, err := p.templateSet()
	if err != nil {
		return "", err
	}
	// "trimpath": the sandbox compiles with -trimpath, whose cache
	// entries a seed made before it does not hold.
	h := sha256.Sum256([]byte(set.Name + "\x00" + set.Version + "\x00" + set.Source + "\x00" + runtime.Version() + "\x00trimpath"))
	return filepath.Join(p.cfg.CacheDir, "go-build", "seed-"+hex.EncodeToString(h[:6])), nil
}

// Warm builds the seed cache unless it exists. Only the first call does
// the work; builds of new owners that start meanwhile wait for it (it
// compiles what they would). It returns why the seed could not be built;
// builds then simply start from an empty cache.
func (p *Pipeline) Warm(ctx context.Context) error {
	p.warm.once.Do(func() {
		p.warm.started.Store(true)
		start := time.Now()
		p.warm.err = p.buildSeed(ctx)
		close(p.warm.done)
		if p.warm.err == nil {
			p.cfg.Logger.Info("build cache warm", "took", time.Since(start).Round(time.Millisecond))
		}
	})
	return p.warm.err
}

// StartWarm runs Warm in the background and calls done with its result.
// Builds of new owners that start after StartWarm returns wait for it.
func (p *Pipeline) StartWarm(ctx context.Context, done func(error)) {
	p.warm.started.Store(true)
	go func() { done(p.Warm(ctx)) }()
}

func (p *Pipeline) buildSeed(ctx context.Context) error {
	seed, err := p.seedDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(seed, seedMarker)); err == nil {
		return nil
	}
	set, err := p.templateSet()
	if err != nil {
		return err
	}
	files, err := render.Render(set, seedSpec())
	if err != nil {
		return fmt.Errorf("warm: render the sample app: %w", err)
	}
	work := filepath.Join(p.cfg.WorkDir, "warm-"+randomSuffix())
	defer os.RemoveAll(work)
	app := filepath.Join(work, "app")
	if err := render.WriteDir(files, app); err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	if err := p.goCommand(ctx, app, "mod", "download"); err != nil {
		return fmt.Errorf("warm: go mod download: %w", err)
	}
	tmp := seed + ".tmp-" + randomSuffix()
	defer os.RemoveAll(tmp)
	scfg := p.cfg.Sandbox
	scfg.BuildCache = tmp
	// The warm-up runs beside the server, not in anyone's build: on a busy
	// machine compiling the sample app's dependencies (modernc SQLite) can
	// take longer than one build step may, and cutting it off would leave
	// every new owner's first build to do the same work inside its limit.
	scfg.Timeout = max(scfg.Timeout, warmTimeout)
	runner, err := sandbox.New(scfg)
	if err != nil {
		return fmt.Errorf("warm: sandbox: %w", err)
	}
	for _, args := range [][]string{
		{"go", "build", "./..."},
		{"go", "vet", "./..."},
		{"go", "test", "-count=1", "-run", "^$", "./..."}, // compiles the tests' imports too
	} {
		var stderr bytes.Buffer
		res, err := runner.Run(ctx, app, io.Discard, &stderr, args[0], args[1:]...)
		if err != nil {
			return fmt.Errorf("warm: %s: %w", strings.Join(args, " "), err)
		}
		if res.ExitCode != 0 || res.TimedOut {
			return fmt.Errorf("warm: %s failed (exit %d): %s", strings.Join(args, " "), res.ExitCode, lastLines(stderr.String(), 5))
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, seedMarker), nil, 0o644); err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	if err := os.Rename(tmp, seed); err != nil {
		if _, statErr := os.Stat(filepath.Join(seed, seedMarker)); statErr == nil {
			return nil // another process finished first
		}
		return fmt.Errorf("warm: %w", err)
	}
	return nil
}

// ownerCache returns the build cache folder of the build's owner. A new
// owner's cache starts as a copy of the seed when there is one (waiting
// for a seed being built).
func (p *Pipeline) ownerCache(ctx context.Context, ownerID int64, rec kiln.Recorder) string {
	dir := filepath.Join(p.cfg.CacheDir, "go-build", "owner-"+strconv.FormatInt(ownerID, 10))
	if _, err := os.Stat(dir); err == nil || p.cfg.CacheDir == "" {
		return dir
	}
	if p.warm.started.Load() {
		select {
		case <-p.warm.done:
		case <-ctx.Done():
			return dir
		}
	}
	seed, err := p.seedDir()
	if err != nil {
		return dir
	}
	if _, err := os.Stat(filepath.Join(seed, seedMarker)); err != nil {
		return dir
	}
	start := time.Now()
	tmp := dir + ".tmp-" + randomSuffix()
	if err := copyTree(seed, tmp); err != nil {
		os.RemoveAll(tmp)
		rec.Logf("build cache: could not copy the warm cache, starting empty: %v", err)
		return dir
	}
	_ = os.Remove(filepath.Join(tmp, seedMarker))
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp) // a concurrent build of the same owner made it first
		return dir
	}
	rec.Logf("build cache: a copy of the server's warm cache (%s)", time.Since(start).Round(time.Millisecond))
	return dir
}

// copyTree copies the regular files and folders under src to dst, which
// must not exist. Anything else (links, devices) is an error: a seed cache
// holds only files Go wrote.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(path, target)
		default:
			return fmt.Errorf("copy %s: not a regular file or folder", rel)
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// goCommand runs the trusted toolchain outside the sandbox (for `go mod
// download`, which executes no code from the app).
func (p *Pipeline) goCommand(ctx context.Context, dir string, args ...string) error {
	goBin := "go"
	if root := p.cfg.Sandbox.GOROOT; root != "" {
		goBin = filepath.Join(root, "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local", "GOWORK=off")
	if mc := p.cfg.Sandbox.ModCache; mc != "" {
		cmd.Env = append(cmd.Env, "GOMODCACHE="+mc)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("exit %d: %s", ee.ExitCode(), lastLines(stderr.String(), 5))
		}
		return err
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
