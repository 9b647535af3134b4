package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/worker"
)

// TestKilledWorkerIsRescued runs a real `kiln worker` process, kills it
// with SIGKILL in the middle of a build, and checks that another worker
// takes the build over and finishes it.
func TestKilledWorkerIsRescued(t *testing.T) {
	bin := mustKilnBinary(t)
	ctx := context.Background()
	dataDir := t.TempDir()

	api := MustMain(t, "", dataDir, []string{"api"}, nil)
	alice := MustUser(t, api, "alice@example.com")
	app, first, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title, done)"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.CancelBuild(ctx, first.ID); err != nil { // no worker yet: canceled at once
		t.Fatal(err)
	}
	spec := &kiln.AppSpec{KilnSpec: 1, Name: "todo", Entities: []kiln.Entity{{Name: "task", Plural: "tasks",
		Fields: []kiln.Field{{Name: "title", Type: kiln.FieldString, Required: true}, {Name: "done", Type: kiln.FieldBoolean}}}}}
	if _, err := alice.SetSpec(ctx, app.ID, spec); err != nil {
		t.Fatal(err)
	}
	b, err := alice.CreateBuild(ctx, app.ID, kiln.BuildCreate{})
	if err != nil {
		t.Fatal(err)
	}

	// A real worker process with the real pipeline picks the build up.
	logPath := filepath.Join(t.TempDir(), "worker.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	w := exec.Command(bin, "worker", "--data-dir", dataDir, "--log-format", "text")
	w.Stdout, w.Stderr = logFile, logFile
	// No warm build cache: the first build then compiles everything in vet,
	// which leaves plenty of time to kill the worker mid-build.
	w.Env = append(os.Environ(), "KILN_SANDBOX=auto", "KILN_BUILD_WARM_CACHE=false")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Process.Kill()
	running := waitStatus(t, alice, b.ID, 60*time.Second, func(s kiln.BuildStatus) bool {
		return s == kiln.BuildValidating || s.Terminal()
	})
	if running.Status != kiln.BuildValidating {
		out, _ := os.ReadFile(logPath)
		t.Fatalf("build reached %s before the worker could be killed; worker log:\n%s", running.Status, out)
	}
	if err := w.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w.Wait()
	killed := time.Now()

	// Another worker notices the missed heartbeats and takes over.
	MustMain(t, "", dataDir, []string{"worker"}, testPipeline{}, func(c *worker.Config) {
		c.StaleAfter = 3 * time.Second
		c.RescueInterval = 200 * time.Millisecond
	})
	done := waitStatus(t, alice, b.ID, 60*time.Second, kiln.BuildStatus.Terminal)
	if done.Status != kiln.BuildSucceeded || done.Attempt != 2 {
		t.Fatalf("after the worker died: status %s attempt %d, want succeeded on attempt 2", done.Status, done.Attempt)
	}
	t.Logf("rescued and finished %s after the kill", time.Since(killed).Round(time.Millisecond))
	page, err := alice.Logs(ctx, b.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	for _, l := range page.Items {
		log.WriteString(l.Text + "\n")
	}
	if !strings.Contains(log.String(), "worker lost") || !strings.Contains(log.String(), "(attempt 2)") {
		t.Errorf("log does not tell the rescue:\n%s", log.String())
	}
}
