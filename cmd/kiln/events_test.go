package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/worker"
)

// gatedPipeline logs a line, then waits for the test to open the gate
// before it logs more, stores an artifact and succeeds: what a watcher sees
// after the gate opens can only have come live.
type gatedPipeline struct {
	started chan struct{} // closed by the pipeline when it waits
	gate    chan struct{} // closed by the test
	lines   int
	once    sync.Once
}

func newGatedPipeline(lines int) *gatedPipeline {
	return &gatedPipeline{started: make(chan struct{}), gate: make(chan struct{}), lines: lines}
}

func (p *gatedPipeline) Run(ctx context.Context, b *kiln.Build, app *kiln.App, rec kiln.Recorder) error {
	err := rec.Step(ctx, "plan", kiln.BuildPlanning, func(ctx context.Context) error {
		rec.Logf("waiting at the gate")
		p.once.Do(func() { close(p.started) })
		select {
		case <-p.gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		return err
	}
	err = rec.Step(ctx, "test", kiln.BuildValidating, func(ctx context.Context) error {
		w := rec.Writer(kiln.StreamStdout)
		defer w.Close()
		for i := range p.lines {
			fmt.Fprintf(w, "line %d\n", i)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return rec.Step(ctx, "package", kiln.BuildPackaging, func(ctx context.Context) error {
		_, err := rec.AddArtifact(ctx, kiln.ArtifactChecksums, "SHA256SUMS", strings.NewReader("abc  app.tar.gz\n"))
		return err
	})
}

// mustMainWith is MustMain with a hook that adjusts the configuration.
func mustMainWith(tb testing.TB, dbURL, dataDir string, roles []string, p kiln.Pipeline, tweak func(*config.Config)) *Main {
	tb.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Database.URL = dbURL
	cfg.Dev = true
	cfg.Roles = roles
	cfg.Log.Level = "info"
	cfg.Log.Format = "text"
	cfg.Build.WarmCache = false
	if tweak != nil {
		tweak(&cfg)
	}
	logs := &syncBuffer{}
	m := NewMain(cfg, logs)
	m.Pipeline = p
	m.WorkerTuning = func(c *worker.Config) { c.Heartbeat = 200 * time.Millisecond }
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("run: %v\n%s", err, logs.String())
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
		if tb.Failed() {
			tb.Logf("server log (%s):\n%s", roles, logs.String())
		}
	})
	return m
}

// follower follows a build's events through the client in the background.
type follower struct {
	events chan *kiln.BuildEvent
	done   chan error
}

func follow(c *client.Client, buildID int64) *follower {
	f := &follower{events: make(chan *kiln.BuildEvent, 10000), done: make(chan error, 1)}
	go func() {
		_, err := c.FollowBuild(context.Background(), buildID, client.StreamOptions{}, func(e *kiln.BuildEvent) error {
			f.events <- e
			return nil
		})
		close(f.events)
		f.done <- err
	}()
	return f
}

// until collects events until cond holds for the last one.
func (f *follower) until(t *testing.T, what string, got []*kiln.BuildEvent, cond func(*kiln.BuildEvent) bool) []*kiln.BuildEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-f.events:
			if !ok {
				t.Fatalf("stream ended waiting for %s after %d events: %v", what, len(got), <-f.done)
			}
			got = append(got, e)
			if cond(e) {
				return got
			}
		case <-timeout:
			t.Fatalf("no %s within 30s (%d events)", what, len(got))
		}
	}
}

func isGateLine(e *kiln.BuildEvent) bool {
	return e.Kind == kiln.EventLog && e.Log.Text == "waiting at the gate"
}
func isEnd(e *kiln.BuildEvent) bool { return e.Kind == kiln.EventEnd }

// checkGapless fails unless the events are seqs 1..n of one build.
func checkGapless(t *testing.T, events []*kiln.BuildEvent) {
	t.Helper()
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: a gap or a duplicate", i, e.Seq)
		}
	}
}

// startServe runs `kiln serve --roles api` as a process of its own on
// dataDir and dbURL, with extra environment, and returns its URL. The
// process is killed when the test ends; its output is logged if the test
// failed.
func startServe(t *testing.T, bin, dataDir, dbURL string, env ...string) string {
	t.Helper()
	args := []string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--roles", "api", "--log-format", "text"}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logs := &syncBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		pw.Close()
		if t.Failed() {
			t.Logf("kiln serve (pid %d) output:\n%s", cmd.Process.Pid, logs.String())
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	select {
	case u := <-urls:
		return u
	case <-time.After(60 * time.Second):
		t.Fatalf("kiln serve did not start within a minute:\n%s", logs.String())
		return ""
	}
}

// TestEventsAcrossNodes runs two API nodes as separate `kiln serve`
// processes and a worker (in the test's process, running a pipeline the
// test gates) over one PostgreSQL. The API nodes poll the database only
// once a minute, so the events that watchers on both nodes get within
// seconds came through LISTEN/NOTIFY from the worker's commits.
func TestEventsAcrossNodes(t *testing.T) {
	bin := mustKilnBinary(t)
	dbURL := MustPostgresURL(t)
	dataDir := t.TempDir()
	url1 := startServe(t, bin, dataDir, dbURL, "KILN_STREAM_POLL_INTERVAL=1m")
	url2 := startServe(t, bin, dataDir, dbURL, "KILN_STREAM_POLL_INTERVAL=1m")
	p := newGatedPipeline(25)
	mustMainWith(t, dbURL, dataDir, []string{"worker"}, p, nil)

	ctx := context.Background()
	anon := client.New(url1)
	if _, err := anon.Signup(ctx, "alice@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	sess, err := anon.Login(ctx, "alice@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	alice := client.New(url1, client.WithToken(sess.AccessToken))
	_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title)"})
	if err != nil {
		t.Fatal(err)
	}
	<-p.started
	on1 := follow(alice, b.ID)
	on2 := follow(client.New(url2, client.WithToken(sess.AccessToken)), b.ID)
	got1 := on1.until(t, "the gate line on node 1", nil, isGateLine)
	got2 := on2.until(t, "the gate line on node 2", nil, isGateLine)
	gateSeq := got1[len(got1)-1].Seq
	close(p.gate)
	got1 = on1.until(t, "the end on node 1", got1, isEnd)
	got2 = on2.until(t, "the end on node 2", got2, isEnd)
	for _, got := range [][]*kiln.BuildEvent{got1, got2} {
		checkGapless(t, got)
		lines := 0
		for _, e := range got {
			if e.Kind == kiln.EventLog && e.Seq > gateSeq && strings.HasPrefix(e.Log.Text, "line ") {
				lines++
			}
		}
		if lines != p.lines {
			t.Errorf("got %d of %d log lines live", lines, p.lines)
		}
		if end := got[len(got)-1].End; end.Status != kiln.BuildSucceeded {
			t.Errorf("build ended %s: %s", end.Status, end.Error)
		}
	}
	if err := <-on1.done; err != nil {
		t.Error(err)
	}
}

// runCLI runs the kiln command line in-process as a user would.
func runCLI(ctx context.Context, t *testing.T, stdout io.Writer, args ...string) error {
	t.Helper()
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(io.Discard)
	return root.ExecuteContext(ctx)
}

// TestFollowAcrossRestart follows a build with `kiln builds logs -f`
// while the server it follows is stopped mid-build and started again on
// the same address: the follower reconnects, resumes, and prints every
// log line of both attempts exactly once, then exits with the outcome.
func TestFollowAcrossRestart(t *testing.T) {
	dataDir := t.TempDir()
	p1 := newGatedPipeline(5)
	first := mustMainWith(t, "", dataDir, []string{"api", "worker"}, p1, nil)
	alice := MustUser(t, first, "alice@example.com")
	sess, err := client.New(first.URL()).Login(context.Background(), "alice@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := alice.CreateApp(context.Background(), kiln.AppCreate{Description: "a todo app with tasks (title)"})
	if err != nil {
		t.Fatal(err)
	}
	<-p1.started
	t.Setenv("KILN_TOKEN", sess.AccessToken)
	t.Setenv("KILN_CONFIG_DIR", t.TempDir())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runCLI(context.Background(), t, out, "--server", first.URL(), "builds", "logs", "-f", fmt.Sprint(b.ID), "-o", "json")
	}()
	waitFor(t, "the gate line", func() bool { return strings.Contains(out.String(), "waiting at the gate") })

	// Stop the server mid-build: the worker hands the build back, and the
	// next server runs it again from the start.
	addr := strings.TrimPrefix(first.URL(), "http://")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	p2 := newGatedPipeline(5)
	close(p2.gate)
	mustMainWith(t, "", dataDir, []string{"api", "worker"}, p2, func(c *config.Config) { c.Addr = addr })

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kiln builds logs -f: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the follower did not finish:\n%s", out.String())
	}
	var seqs []int64
	gates, lines := 0, 0
	for _, raw := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var l kiln.LogLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("output line %q: %v", raw, err)
		}
		if len(seqs) > 0 && l.Seq <= seqs[len(seqs)-1] {
			t.Fatalf("seq %d printed after %d: a duplicate", l.Seq, seqs[len(seqs)-1])
		}
		seqs = append(seqs, l.Seq)
		switch {
		case l.Text == "waiting at the gate":
			gates++
		case strings.HasPrefix(l.Text, "line "):
			lines++
		}
	}
	if gates != 2 || lines != 5 {
		t.Errorf("saw the gate %d times (want 2, one per attempt) and %d lines (want 5):\n%s", gates, lines, out.String())
	}
	// Every log line the build has, exactly once.
	page, err := client.New(first.URL(), client.WithToken(sess.AccessToken)).Logs(context.Background(), b.ID, 0, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != len(seqs) {
		t.Fatalf("printed %d lines, the build has %d", len(seqs), len(page.Items))
	}
	for i, l := range page.Items {
		if l.Seq != seqs[i] {
			t.Fatalf("line %d: printed seq %d, stored %d", i, seqs[i], l.Seq)
		}
	}
}

// waitFor polls cond every few milliseconds for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
