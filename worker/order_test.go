package worker_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/worker"
)

// journalWork records the order in which the worker calls the store.
type journalWork struct {
	*fakeWork
	mu      sync.Mutex
	journal []string
}

func (j *journalWork) note(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.journal = append(j.journal, s)
}

func (j *journalWork) SetBuildStatus(ctx context.Context, id int64, lease string, s kiln.BuildStatus, step string) error {
	j.note("status " + string(s))
	return j.fakeWork.SetBuildStatus(ctx, id, lease, s, step)
}

func (j *journalWork) StartStep(ctx context.Context, id int64, name string) (*kiln.Step, error) {
	j.note("start " + name)
	return j.fakeWork.StartStep(ctx, id, name)
}

func (j *journalWork) FinishStep(ctx context.Context, id int64, o kiln.StepOutcome, msg string) error {
	j.note(fmt.Sprintf("finish %d", id))
	return j.fakeWork.FinishStep(ctx, id, o, msg)
}

func (j *journalWork) CreateArtifact(ctx context.Context, a *kiln.Artifact) error {
	j.note("artifact " + a.Name)
	return j.fakeWork.CreateArtifact(ctx, a)
}

func (j *journalWork) AppendLogs(ctx context.Context, id int64, lines []*kiln.LogLine) error {
	for _, l := range lines {
		j.note("log " + l.Text)
	}
	return j.fakeWork.AppendLogs(ctx, id, lines)
}

// TestStepsFrameTheirLogs: however slowly the recorder flushes, a step's
// log lines reach the store after the step started and before it finished,
// so a watcher of the build's events sees each line inside its step; an
// artifact comes after the lines logged before it.
func TestStepsFrameTheirLogs(t *testing.T) {
	t.Parallel()
	j := &journalWork{fakeWork: newFakeWork()}
	p := pipelineFunc(func(ctx context.Context, _ *kiln.Build, _ *kiln.App, rec kiln.Recorder) error {
		for _, name := range []string{"plan", "test"} {
			err := rec.Step(ctx, name, kiln.BuildValidating, func(ctx context.Context) error {
				rec.Logf("inside %s", name)
				if name == "test" {
					_, err := rec.AddArtifact(ctx, kiln.ArtifactChecksums, "SHA256SUMS", strings.NewReader("abc  app.tar.gz\n"))
					return err
				}
				return nil
			})
			if err != nil {
				return err
			}
			rec.Logf("after %s", name)
		}
		return nil
	})
	w := worker.New(worker.Config{Work: j, Pipeline: p, Blobs: &memBlobs{data: map[string][]byte{}}, FlushInterval: time.Hour, Heartbeat: time.Hour})
	if err := w.RunBuild(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	got := regexp.MustCompile(` \([^)]*\)`).ReplaceAllString(strings.Join(j.journal, "\n"), "")
	want := strings.Join([]string{
		`log build #1 of "demo" started`,
		"status validating", "start plan", "log ▶ plan", "log inside plan", "log ✓ plan", "finish 1",
		"log after plan", "status validating", "start test", "log ▶ test", "log inside test", "artifact SHA256SUMS", "log artifact SHA256SUMS", "log ✓ test", "finish 2",
		"log after test",
	}, "\n")
	if !strings.HasPrefix(got, want) {
		t.Fatalf("store calls:\n%s\nwant them to start with:\n%s", got, want)
	}
}
