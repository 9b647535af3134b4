package worker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path"
	"regexp"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// maxPendingLines bounds the log lines held while the database is
// unreachable; older lines are dropped with a note past it.
const maxPendingLines = 20000

// recorder implements kiln.Recorder for one build run. Log lines are
// buffered and written in batches by a flusher goroutine.
type recorder struct {
	w     *Worker
	b     *kiln.Build
	lease string

	flushMu sync.Mutex // one flush at a time, so batches land in order
	mu      sync.Mutex
	pending []*kiln.LogLine
	dropped int

	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

var _ kiln.Recorder = (*recorder)(nil)

func newRecorder(w *Worker, b *kiln.Build, lease string) *recorder {
	r := &recorder{w: w, b: b, lease: lease, stop: make(chan struct{}), stopped: make(chan struct{})}
	go r.flushLoop()
	return r
}

func (r *recorder) flushLoop() {
	defer close(r.stopped)
	t := time.NewTicker(r.w.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.flush(context.Background())
		}
	}
}

// flush writes the pending lines. On failure they stay pending for the next
// try.
func (r *recorder) flush(ctx context.Context) {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	lines := r.pending
	r.pending = nil
	dropped := r.dropped
	r.dropped = 0
	r.mu.Unlock()
	if dropped > 0 {
		lines = append([]*kiln.LogLine{r.line(kiln.StreamSystem, fmt.Sprintf("[%d log lines dropped while the database was unreachable]", dropped))}, lines...)
	}
	if len(lines) == 0 {
		return
	}
	if err := r.w.cfg.Work.AppendLogs(ctx, r.b.ID, lines); err != nil {
		r.w.log.WarnContext(ctx, "append build logs", slog.Int64("build_id", r.b.ID), slog.Any("error", err))
		r.mu.Lock()
		r.pending = append(lines, r.pending...)
		r.trimLocked()
		r.mu.Unlock()
	}
}

// close stops the flusher and writes what is left.
func (r *recorder) close(ctx context.Context) {
	r.once.Do(func() {
		close(r.stop)
		<-r.stopped
		r.flush(ctx)
	})
}

func (r *recorder) line(stream, text string) *kiln.LogLine {
	return &kiln.LogLine{BuildID: r.b.ID, Time: r.w.cfg.Now().UTC(), Stream: stream, Text: text}
}

func (r *recorder) append(stream, text string) {
	r.mu.Lock()
	r.pending = append(r.pending, r.line(stream, text))
	r.trimLocked()
	r.mu.Unlock()
}

func (r *recorder) trimLocked() {
	if over := len(r.pending) - maxPendingLines; over > 0 {
		r.pending = r.pending[over:]
		r.dropped += over
	}
}

// Logf appends a system line.
func (r *recorder) Logf(format string, args ...any) {
	r.append(kiln.StreamSystem, fmt.Sprintf(format, args...))
}

// Step runs fn as a named step. Pending log lines are written before each
// change of status or step, so that in the build's event sequence a step's
// lines sit between its start and its end.
func (r *recorder) Step(ctx context.Context, name string, status kiln.BuildStatus, fn func(ctx context.Context) error) error {
	r.flush(ctx)
	if status != "" {
		if err := r.w.cfg.Work.SetBuildStatus(ctx, r.b.ID, r.lease, status, name); err != nil {
			return fmt.Errorf("set build status: %w", err)
		}
		r.b.Status, r.b.Step = status, name
	}
	step, err := r.w.cfg.Work.StartStep(ctx, r.b.ID, name)
	if err != nil {
		return fmt.Errorf("start step %s: %w", name, err)
	}
	r.Logf("▶ %s", name)
	start := r.w.cfg.Now()
	err = fn(ctx)
	took := r.w.cfg.Now().Sub(start).Round(time.Millisecond)
	outcome, msg := kiln.StepSucceeded, ""
	switch {
	case err == nil:
		r.Logf("✓ %s (%s)", name, took)
	case ctx.Err() != nil:
		outcome, msg = kiln.StepCanceled, "canceled"
		r.Logf("■ %s stopped after %s", name, took)
	default:
		outcome, msg = kiln.StepFailed, kiln.ErrorMessage(err)
		r.Logf("✗ %s failed after %s: %s", name, took, msg)
	}
	r.flush(context.WithoutCancel(ctx))
	if ferr := r.w.cfg.Work.FinishStep(context.WithoutCancel(ctx), step.ID, outcome, msg); ferr != nil && err == nil {
		return fmt.Errorf("finish step %s: %w", name, ferr)
	}
	return err
}

// Writer returns a line-splitting writer onto the log.
func (r *recorder) Writer(stream string) io.WriteCloser {
	return &lineWriter{r: r, stream: stream}
}

// SetSpec records the build's spec.
func (r *recorder) SetSpec(ctx context.Context, spec *kiln.AppSpec) error {
	if err := r.w.cfg.Work.SetBuildSpec(ctx, r.b.ID, r.lease, spec); err != nil {
		return fmt.Errorf("set build spec: %w", err)
	}
	r.b.Spec = spec
	return nil
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// AddArtifact stores the content in the blob store and records it.
func (r *recorder) AddArtifact(ctx context.Context, kind, name string, content io.Reader) (*kiln.Artifact, error) {
	clean := unsafeName.ReplaceAllString(path.Base(name), "_")
	if clean == "" || clean == "." || clean == ".." {
		return nil, kiln.Errorf(kiln.EInvalid, "bad artifact name %q", name)
	}
	key := fmt.Sprintf("builds/%d/%d/%s", r.b.ID, r.b.Attempt, clean)
	size, sum, err := r.w.cfg.Blobs.Put(ctx, key, content)
	if err != nil {
		return nil, fmt.Errorf("store artifact %s: %w", clean, err)
	}
	a := &kiln.Artifact{BuildID: r.b.ID, Kind: kind, Name: clean, Size: size, SHA256: sum, Location: key}
	// The lines logged before the artifact go first, so that its event
	// follows them in the build's sequence.
	r.flush(ctx)
	if err := r.w.cfg.Work.CreateArtifact(ctx, a); err != nil {
		return nil, fmt.Errorf("record artifact %s: %w", clean, err)
	}
	r.Logf("artifact %s (%d bytes, sha256 %s)", clean, size, sum)
	return a, nil
}

// SetCacheKey records the key of what the build makes (codegen's
// CacheRecorder).
func (r *recorder) SetCacheKey(ctx context.Context, key string) error {
	if err := r.w.cfg.Work.SetBuildCacheKey(ctx, r.b.ID, r.lease, key); err != nil {
		return fmt.Errorf("set build cache key: %w", err)
	}
	r.b.CacheKey = key
	return nil
}

// CachedBuild returns the newest succeeded build of the same owner made
// under key; ENotFound when there is none.
func (r *recorder) CachedBuild(ctx context.Context, key string) (*kiln.Build, error) {
	return r.w.cfg.Work.FindCachedBuild(ctx, r.b.OwnerID, key)
}

// CheckArtifacts checks that the blob of every artifact of an earlier
// build is still in the store with its recorded size, so that a cache hit
// never points at missing files (deleted, pruned, expired). It returns
// ENotFound naming the first missing artifact, EConflict naming one whose
// blob has another size, or the error that kept it from checking.
func (r *recorder) CheckArtifacts(ctx context.Context, from *kiln.Build) error {
	arts, err := r.w.cfg.Work.FindBuildArtifacts(ctx, from.ID)
	if err != nil {
		return fmt.Errorf("list artifacts of build %d: %w", from.ID, err)
	}
	for _, a := range arts {
		size, err := r.w.cfg.Blobs.Stat(ctx, a.Location)
		switch {
		case kiln.ErrorCode(err) == kiln.ENotFound:
			return kiln.Errorf(kiln.ENotFound, "artifact %s is missing", a.Name)
		case err != nil:
			return fmt.Errorf("check artifact %s: %w", a.Name, err)
		case size != a.Size:
			return kiln.Errorf(kiln.EConflict, "artifact %s has %d bytes in the store, not the %d recorded", a.Name, size, a.Size)
		}
	}
	return nil
}

// ReuseArtifacts records the artifacts of an earlier build as this
// build's, sharing their blobs.
func (r *recorder) ReuseArtifacts(ctx context.Context, from *kiln.Build) ([]*kiln.Artifact, error) {
	r.flush(ctx)
	arts, err := r.w.cfg.Work.ReuseArtifacts(ctx, r.b.ID, r.lease, from.ID)
	if err != nil {
		return nil, fmt.Errorf("reuse artifacts of build %d: %w", from.ID, err)
	}
	r.b.CachedFrom = &from.ID
	for _, a := range arts {
		r.Logf("artifact %s (%d bytes, sha256 %s), from build %d", a.Name, a.Size, a.SHA256, from.ID)
	}
	return arts, nil
}

// lineWriter splits writes into log lines. A carriage return ends a line
// too, so progress output does not pile up into one endless line.
type lineWriter struct {
	r      *recorder
	stream string
	buf    bytes.Buffer
	lastCR bool // the previous write ended in \r: a leading \n closes nothing
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if lw.lastCR && len(p) > 0 && p[0] == '\n' {
		p = p[1:]
	}
	lw.lastCR = false
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\n\r")
		if i < 0 {
			lw.buf.Write(p)
			if lw.buf.Len() >= kiln.MaxLogLineLen {
				lw.emit()
			}
			break
		}
		lw.buf.Write(p[:i])
		lw.emit()
		if p[i] == '\r' {
			if i+1 == len(p) {
				lw.lastCR = true
			} else if p[i+1] == '\n' {
				i++
			}
		}
		p = p[i+1:]
	}
	return n, nil
}

func (lw *lineWriter) emit() {
	lw.r.append(lw.stream, lw.buf.String())
	lw.buf.Reset()
}

// Close writes a last partial line.
func (lw *lineWriter) Close() error {
	if lw.buf.Len() > 0 {
		lw.emit()
	}
	return nil
}
