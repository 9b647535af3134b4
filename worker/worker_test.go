package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/worker"
)

// fakeWork is an in-memory kiln.BuildWork for one build.
type fakeWork struct {
	mu        sync.Mutex
	build     kiln.Build
	lease     string
	canceled  bool
	stolen    bool // the lease was taken by another worker
	steps     []*kiln.Step
	logs      []*kiln.LogLine
	artifacts []*kiln.Artifact
	released  string
	finished  chan struct{}
	beats     int
}

var _ kiln.BuildWork = (*fakeWork)(nil)

func newFakeWork() *fakeWork {
	return &fakeWork{build: kiln.Build{ID: 7, AppID: 3, Number: 1, Status: kiln.BuildQueued}, finished: make(chan struct{})}
}

func (f *fakeWork) ClaimBuild(_ context.Context, id int64, lease string, _ time.Time) (*kiln.Build, *kiln.App, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.build.Status.Terminal() {
		return nil, nil, kiln.Errorf(kiln.EConflict, "build ended")
	}
	f.lease = lease
	f.build.Attempt++
	b := f.build
	return &b, &kiln.App{ID: 3, Name: "demo", Description: "a todo app"}, nil
}

func (f *fakeWork) check(lease string) error {
	if f.stolen || lease != f.lease {
		return kiln.Errorf(kiln.EConflict, "lease lost")
	}
	return nil
}

func (f *fakeWork) Heartbeat(_ context.Context, _ int64, lease string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beats++
	return f.canceled, f.check(lease)
}

func (f *fakeWork) SetBuildStatus(_ context.Context, _ int64, lease string, s kiln.BuildStatus, step string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.build.Status, f.build.Step = s, step
	return f.check(lease)
}

func (f *fakeWork) SetBuildSpec(_ context.Context, _ int64, lease string, spec *kiln.AppSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.build.Spec = spec
	return f.check(lease)
}

func (f *fakeWork) StartStep(_ context.Context, buildID int64, name string) (*kiln.Step, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &kiln.Step{ID: int64(len(f.steps) + 1), BuildID: buildID, Name: name, Outcome: kiln.StepRunning}
	f.steps = append(f.steps, s)
	return s, nil
}

func (f *fakeWork) FinishStep(_ context.Context, id int64, o kiln.StepOutcome, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.steps[id-1].Outcome, f.steps[id-1].Error = o, msg
	return nil
}

func (f *fakeWork) AppendLogs(_ context.Context, _ int64, lines []*kiln.LogLine) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range lines {
		l.Seq = int64(len(f.logs) + 1)
		f.logs = append(f.logs, l)
	}
	return nil
}

func (f *fakeWork) CreateArtifact(_ context.Context, a *kiln.Artifact) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a.ID = int64(len(f.artifacts) + 1)
	f.artifacts = append(f.artifacts, a)
	return nil
}

func (f *fakeWork) SetBuildCacheKey(_ context.Context, _ int64, lease, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.build.CacheKey = key
	return f.check(lease)
}

func (f *fakeWork) FindCachedBuild(context.Context, int64, string) (*kiln.Build, error) {
	return nil, kiln.Errorf(kiln.ENotFound, "no cached build")
}

func (f *fakeWork) FindBuildArtifacts(_ context.Context, buildID int64) ([]*kiln.Artifact, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*kiln.Artifact
	for _, a := range f.artifacts {
		if a.BuildID == buildID {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeWork) ReuseArtifacts(context.Context, int64, string, int64) ([]*kiln.Artifact, error) {
	return nil, kiln.Errorf(kiln.ENotFound, "no such build")
}

func (f *fakeWork) FinishBuild(_ context.Context, _ int64, lease string, s kiln.BuildStatus, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(lease); err != nil {
		return err
	}
	f.build.Status, f.build.Error = s, msg
	close(f.finished)
	return nil
}

func (f *fakeWork) ReleaseBuild(_ context.Context, _ int64, lease string, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.build.Status, f.released = kiln.BuildQueued, reason
	return f.check(lease)
}

func (f *fakeWork) RescueStaleBuilds(context.Context, time.Time, int) ([]int64, []int64, error) {
	return nil, nil, nil
}

func (f *fakeWork) logText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, l := range f.logs {
		fmt.Fprintf(&b, "%s|%s\n", l.Stream, l.Text)
	}
	return b.String()
}

// pipelineFunc adapts a function to kiln.Pipeline.
type pipelineFunc func(ctx context.Context, b *kiln.Build, app *kiln.App, rec kiln.Recorder) error

func (p pipelineFunc) Run(ctx context.Context, b *kiln.Build, app *kiln.App, rec kiln.Recorder) error {
	return p(ctx, b, app, rec)
}

type memBlobs struct{ data map[string][]byte }

func (m *memBlobs) Put(_ context.Context, key string, r io.Reader) (int64, string, error) {
	b, err := io.ReadAll(r)
	m.data[key] = b
	return int64(len(b)), "sum", err
}

func (m *memBlobs) Stat(_ context.Context, key string) (int64, error) {
	b, ok := m.data[key]
	if !ok {
		return 0, kiln.Errorf(kiln.ENotFound, "blob %s not found", key)
	}
	return int64(len(b)), nil
}

func newWorker(f *fakeWork, p kiln.Pipeline, tune func(*worker.Config)) *worker.Worker {
	cfg := worker.Config{Work: f, Pipeline: p, Blobs: &memBlobs{data: map[string][]byte{}}, Heartbeat: 10 * time.Millisecond, FlushInterval: 5 * time.Millisecond, MaxAttempts: 2}
	if tune != nil {
		tune(&cfg)
	}
	return worker.New(cfg)
}

func TestRunBuild(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		f := newFakeWork()
		w := newWorker(f, pipelineFunc(func(ctx context.Context, b *kiln.Build, app *kiln.App, rec kiln.Recorder) error {
			return rec.Step(ctx, "render", kiln.BuildGenerating, func(ctx context.Context) error {
				out := rec.Writer(kiln.StreamStdout)
				fmt.Fprint(out, "line one\r\nline two\npartial")
				out.Close()
				_, err := rec.AddArtifact(ctx, kiln.ArtifactSourceTarGz, "../app.tar.gz", bytes.NewReader([]byte("tgz")))
				return err
			})
		}), nil)
		if err := w.RunBuild(context.Background(), 7); err != nil {
			t.Fatal(err)
		}
		if f.build.Status != kiln.BuildSucceeded {
			t.Fatalf("status = %s", f.build.Status)
		}
		logs := f.logText()
		for _, want := range []string{"stdout|line one\n", "stdout|line two\n", "stdout|partial\n", "system|▶ render", "system|✓ render", "build succeeded"} {
			if !strings.Contains(logs, want) {
				t.Errorf("log lacks %q:\n%s", want, logs)
			}
		}
		if strings.Contains(logs, "stdout|\n") {
			t.Errorf("CRLF produced an empty line:\n%s", logs)
		}
		if len(f.steps) != 1 || f.steps[0].Outcome != kiln.StepSucceeded {
			t.Errorf("steps = %+v", f.steps[0])
		}
		if len(f.artifacts) != 1 || f.artifacts[0].Name != "app.tar.gz" || strings.Contains(f.artifacts[0].Location, "..") {
			t.Errorf("artifact = %+v", f.artifacts)
		}
	})
	t.Run("BuildFailed", func(t *testing.T) {
		t.Parallel()
		f := newFakeWork()
		w := newWorker(f, pipelineFunc(func(ctx context.Context, _ *kiln.Build, _ *kiln.App, rec kiln.Recorder) error {
			return rec.Step(ctx, "test", kiln.BuildValidating, func(context.Context) error {
				return kiln.Errorf(kiln.EBuildFailed, "go test failed")
			})
		}), nil)
		if err := w.RunBuild(context.Background(), 7); err != nil {
			t.Fatalf("a failed check must not be retried, got %v", err)
		}
		if f.build.Status != kiln.BuildFailed || f.build.Error != "go test failed" {
			t.Fatalf("build = %s %q", f.build.Status, f.build.Error)
		}
		if f.steps[0].Outcome != kiln.StepFailed {
			t.Errorf("step outcome = %s", f.steps[0].Outcome)
		}
	})
	t.Run("InfraFailureRetriesThenFails", func(t *testing.T) {
		t.Parallel()
		f := newFakeWork()
		w := newWorker(f, pipelineFunc(func(context.Context, *kiln.Build, *kiln.App, kiln.Recorder) error {
			return errors.New("disk full")
		}), nil)
		if err := w.RunBuild(context.Background(), 7); err == nil {
			t.Fatal("first infrastructure failure must return an error for the queue to retry")
		}
		if f.build.Status != kiln.BuildQueued || f.released == "" {
			t.Fatalf("build not released: %s %q", f.build.Status, f.released)
		}
		if err := w.RunBuild(context.Background(), 7); err != nil {
			t.Fatalf("last attempt must end the build, got %v", err)
		}
		if f.build.Status != kiln.BuildFailed || !strings.Contains(f.build.Error, "2 attempts") {
			t.Fatalf("build = %s %q", f.build.Status, f.build.Error)
		}
		if strings.Contains(f.logText(), "disk full") {
			t.Error("internal error details leaked into the user's log")
		}
	})
	t.Run("Panic", func(t *testing.T) {
		t.Parallel()
		f := newFakeWork()
		w := newWorker(f, pipelineFunc(func(context.Context, *kiln.Build, *kiln.App, kiln.Recorder) error { panic("boom") }), func(c *worker.Config) { c.MaxAttempts = 1 })
		if err := w.RunBuild(context.Background(), 7); err != nil {
			t.Fatal(err)
		}
		if f.build.Status != kiln.BuildFailed {
			t.Fatalf("status = %s", f.build.Status)
		}
	})
	t.Run("CanceledByUser", func(t *testing.T) {
		t.Parallel()
		f := newFakeWork()
		started := make(chan struct{})
		w := newWorker(f, pipelineFunc(func(ctx context.Context, _ *kiln.Build, _ *kiln.App, rec kiln.Recorder) error {
			return rec.Step(ctx, "test", kiln.BuildValidating, func(ctx context.Context) error {
				close(started)
				<-ctx.Done()
				return ctx.Err()
			})
		}), nil)
		go func() {
			<-started
			f.mu.Lock()
			f.canceled = true
			f.mu.Unlock()
		}()
		if err := w.RunBuild(context.Background(), 7); err != nil {
			t.Fatal(err)
		}
		if f.build.Status != kiln.BuildCanceled {
			t.Fatalf("status = %s", f.build.Status)
		}
		if f.steps[0].Outcome != kiln.StepCanceled {
			t.Errorf("step outcome = %s", f.steps[0].Outcome)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		f := newFakeWork()
		w := newWorker(f, pipelineFunc(func(ctx context.Context, _ *kiln.Build, _ *kiln.App, _ kiln.Recorder) error {
			<-ctx.Done()
			return ctx.Err()
		}), func(c *worker.Config) { c.BuildTimeout = 50 * time.Millisecond })
		if err := w.RunBuild(context.Background(), 7); err != nil {
			t.Fatal(err)
		}
		if f.build.Status != kiln.BuildFailed || !strings.Contains(f.build.Error, "timed out") {
			t.Fatalf("build = %s %q", f.build.Status, f.build.Error)
		}
	})
	t.Run("LeaseLost", func(t *testing.T) {
		t.Parallel()
		f := newFakeWork()
		w := newWorker(f, pipelineFunc(func(ctx context.Context, _ *kiln.Build, _ *kiln.App, _ kiln.Recorder) error {
			f.mu.Lock()
			f.stolen = true
			f.mu.Unlock()
			<-ctx.Done()
			return ctx.Err()
		}), nil)
		if err := w.RunBuild(context.Background(), 7); err != nil {
			t.Fatal(err)
		}
		select {
		case <-f.finished:
			t.Fatal("a worker that lost its lease must not end the build")
		default:
		}
	})
	t.Run("ErrConflictSkips", func(t *testing.T) {
		t.Parallel()
		f := newFakeWork()
		f.build.Status = kiln.BuildCanceled
		ran := false
		w := newWorker(f, pipelineFunc(func(context.Context, *kiln.Build, *kiln.App, kiln.Recorder) error { ran = true; return nil }), nil)
		if err := w.RunBuild(context.Background(), 7); err != nil || ran {
			t.Fatalf("err=%v ran=%v; an ended build must be skipped", err, ran)
		}
	})
}

// TestRecorder_CheckArtifacts checks an earlier build's blobs through the
// recorder the pipeline gets, as a cache hit does before reusing them.
func TestRecorder_CheckArtifacts(t *testing.T) {
	t.Parallel()
	earlier := []*kiln.Artifact{
		{ID: 1, BuildID: 5, Name: "app-source.tar.gz", Size: 3, Location: "builds/5/1/app-source.tar.gz"},
		{ID: 2, BuildID: 5, Name: "SHA256SUMS", Size: 4, Location: "builds/5/1/SHA256SUMS"},
	}
	for _, tc := range []struct {
		name  string
		blobs map[string][]byte
		code  string
		msg   string
	}{
		{"OK", map[string][]byte{"builds/5/1/app-source.tar.gz": []byte("tgz"), "builds/5/1/SHA256SUMS": []byte("sums")}, "", ""},
		{"ErrNotFound", map[string][]byte{"builds/5/1/app-source.tar.gz": []byte("tgz")}, kiln.ENotFound, "artifact SHA256SUMS is missing"},
		{"ErrConflict", map[string][]byte{"builds/5/1/app-source.tar.gz": []byte("t"), "builds/5/1/SHA256SUMS": []byte("sums")}, kiln.EConflict,
			"artifact app-source.tar.gz has 1 bytes in the store, not the 3 recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeWork()
			f.artifacts = earlier
			var checkErr error
			w := newWorker(f, pipelineFunc(func(ctx context.Context, _ *kiln.Build, _ *kiln.App, rec kiln.Recorder) error {
				cr, ok := rec.(codegen.CacheRecorder)
				if !ok {
					return kiln.Errorf(kiln.EBuildFailed, "the worker's recorder is not a codegen.CacheRecorder")
				}
				checkErr = cr.CheckArtifacts(ctx, &kiln.Build{ID: 5})
				return nil
			}), func(c *worker.Config) { c.Blobs = &memBlobs{data: tc.blobs} })
			if err := w.RunBuild(t.Context(), 7); err != nil {
				t.Fatal(err)
			}
			if f.build.Status != kiln.BuildSucceeded {
				t.Fatalf("build %s: %s", f.build.Status, f.build.Error)
			}
			if kiln.ErrorCode(checkErr) != tc.code || tc.code != "" && kiln.ErrorMessage(checkErr) != tc.msg {
				t.Fatalf("CheckArtifacts = %v (code %q), want code %q %q", checkErr, kiln.ErrorCode(checkErr), tc.code, tc.msg)
			}
		})
	}
}
