package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/sqlstore/pgtest"
	"github.com/kiln-build/kiln/worker"
)

// testPipeline is a real kiln.Pipeline for end-to-end tests of the
// platform: it plans a fixed spec, logs, stores an artifact, and for
// descriptions containing "slow" works until canceled.
type testPipeline struct{}

func (testPipeline) Run(ctx context.Context, b *kiln.Build, app *kiln.App, rec kiln.Recorder) error {
	err := rec.Step(ctx, "plan", kiln.BuildPlanning, func(ctx context.Context) error {
		rec.Logf("planning %q", app.Description)
		return rec.SetSpec(ctx, &kiln.AppSpec{KilnSpec: 1, Name: "demo", Entities: []kiln.Entity{{Name: "task", Plural: "tasks", Fields: []kiln.Field{{Name: "title", Type: kiln.FieldString}}}}})
	})
	if err != nil {
		return err
	}
	err = rec.Step(ctx, "test", kiln.BuildValidating, func(ctx context.Context) error {
		w := rec.Writer(kiln.StreamStdout)
		defer w.Close()
		for i := range 3 {
			fmt.Fprintf(w, "ok  \tdemo/pkg%d\t0.01s\n", i)
		}
		if strings.Contains(app.Description, "slow") {
			<-ctx.Done()
			return ctx.Err()
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

// syncBuffer is a bytes.Buffer safe for a writer and a reader (a process's
// output, a server's log).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// MustPostgresURL returns a URL of a fresh schema on the test PostgreSQL
// (dropped at cleanup), or skips when KILN_TEST_POSTGRES_URL is unset.
func MustPostgresURL(tb testing.TB) string {
	tb.Helper()
	u, _ := pgtest.MustSchema(tb)
	return u
}

// MustMain starts a Kiln process in-process and stops it at cleanup.
func MustMain(tb testing.TB, dbURL, dataDir string, roles []string, p kiln.Pipeline, tune ...func(*worker.Config)) *Main {
	tb.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.Database.URL = dbURL
	cfg.Dev = true
	cfg.Roles = roles
	// Warming the build cache compiles a sample app for a minute of CPU;
	// only the test of the real pipeline's first build wants it.
	cfg.Build.WarmCache = tb.Name() == "TestRealPipeline"
	cfg.Log.Level = "info"
	cfg.Log.Format = "text"
	return MustMainConfig(tb, cfg, p, tune...)
}

// MustMainConfig is MustMain with the whole configuration given.
func MustMainConfig(tb testing.TB, cfg config.Config, p kiln.Pipeline, tune ...func(*worker.Config)) *Main {
	tb.Helper()
	logs := &syncBuffer{}
	m := NewMain(cfg, logs)
	m.Pipeline = p
	m.WorkerTuning = func(c *worker.Config) {
		c.Heartbeat = 200 * time.Millisecond
		for _, fn := range tune {
			fn(c)
		}
	}
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("run: %v\n%s", err, logs.String())
	}
	testMains.Lock()
	testMains.byTest[tb] = append(testMains.byTest[tb], m)
	testMains.Unlock()
	tb.Cleanup(func() {
		testMains.Lock()
		delete(testMains.byTest, tb)
		testMains.Unlock()
		if err := m.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
		if tb.Failed() {
			tb.Logf("server log:\n%s", logs.String())
		}
	})
	return m
}

// testMains are the Mains each test started, so MustMail can look in all
// their dev outboxes: with several processes over one database, whichever
// process takes a message's job sends (logs) it.
var testMains = struct {
	sync.Mutex
	byTest map[testing.TB][]*Main
}{byTest: map[testing.TB][]*Main{}}

// MustMail waits for the newest mail of kind to email in the dev outbox of
// m or of another Main of the same test: the outbox delivers through the
// queue, a moment after the request.
func MustMail(tb testing.TB, m *Main, email, kind string) kiln.Mail {
	tb.Helper()
	testMains.Lock()
	mains := append([]*Main{m}, testMains.byTest[tb]...)
	testMains.Unlock()
	match := func(msg kiln.Mail) bool { return strings.EqualFold(msg.To, email) && msg.Kind == kind }
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, mm := range mains {
			if mm.Mailer == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			msg, err := mm.Mailer.Wait(ctx, match)
			cancel()
			if err == nil {
				return msg
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no %s mail for %s in %d processes' dev outboxes", kind, email, len(mains))
		}
	}
}

// MustUser signs up, verifies through the dev outbox and logs in.
func MustUser(tb testing.TB, m *Main, email string) *client.Client {
	tb.Helper()
	ctx := context.Background()
	anon := client.New(m.URL())
	if _, err := anon.Signup(ctx, email, "correct horse battery"); err != nil {
		tb.Fatalf("signup: %v", err)
	}
	msg := MustMail(tb, m, email, "verify_email")
	link, err := url.Parse(msg.Link)
	if err != nil || link.Query().Get("token") == "" {
		tb.Fatalf("bad verification link %q", msg.Link)
	}
	u, err := anon.VerifyEmail(ctx, link.Query().Get("token"))
	if err != nil || !u.EmailVerified {
		tb.Fatalf("verify: %v %+v", err, u)
	}
	sess, err := anon.Login(ctx, email, "correct horse battery")
	if err != nil {
		tb.Fatalf("login: %v", err)
	}
	return client.New(m.URL(), client.WithToken(sess.AccessToken))
}

// waitStatus polls until the build reaches a terminal status or times out.
func waitStatus(tb testing.TB, c *client.Client, id int64, d time.Duration, want func(kiln.BuildStatus) bool) *kiln.Build {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		b, _, err := c.GetBuild(context.Background(), id)
		if err != nil {
			tb.Fatalf("get build: %v", err)
		}
		if want(b.Status) {
			return b
		}
		if time.Now().After(deadline) {
			tb.Fatalf("build %d still %s after %s", id, b.Status, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"SQLite", func(*testing.T) string { return "" }},
		{"PostgreSQL", func(t *testing.T) string { return MustPostgresURL(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := MustMain(t, tc.db(t), t.TempDir(), []string{"api", "worker"}, testPipeline{})
			testBuildLifecycle(t, m)
		})
	}
}

func testBuildLifecycle(t *testing.T, m *Main) {
	ctx := context.Background()
	alice := MustUser(t, m, "alice@example.com")
	bob := MustUser(t, m, "bob@example.com")

	app, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title, done)"})
	if err != nil {
		t.Fatalf("create app: %v", err)
	}
	if b.Number != 1 || b.Status != kiln.BuildQueued {
		t.Fatalf("first build = %+v", b)
	}
	var lines []string
	status, err := alice.FollowLogs(ctx, b.ID, client.FollowOptions{Interval: 50 * time.Millisecond}, func(l *kiln.LogLine) error {
		lines = append(lines, l.Text)
		return nil
	})
	if err != nil {
		t.Fatalf("follow logs: %v", err)
	}
	if status != kiln.BuildSucceeded {
		t.Fatalf("build ended %s; log:\n%s", status, strings.Join(lines, "\n"))
	}
	log := strings.Join(lines, "\n")
	for _, want := range []string{"planning \"a todo app", "ok  \tdemo/pkg2", "build succeeded"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	got, steps, err := alice.GetBuild(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec == nil || got.Spec.Name != "demo" || len(steps) != 3 || got.FinishedAt == nil {
		t.Errorf("build after success: %+v steps=%d", got, len(steps))
	}
	arts, err := alice.ListArtifacts(ctx, b.ID)
	if err != nil || len(arts) != 1 {
		t.Fatalf("artifacts: %v %v", arts, err)
	}
	var content bytes.Buffer
	if _, err := alice.DownloadArtifact(ctx, arts[0].ID, &content); err != nil || content.String() != "abc  app.tar.gz\n" {
		t.Fatalf("download: %q %v", content.String(), err)
	}

	// Cancel a running build: it stops within 2 seconds.
	slow, sb, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a slow app with jobs (name)"})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, alice, sb.ID, 20*time.Second, func(s kiln.BuildStatus) bool { return s == kiln.BuildValidating })
	if _, err := alice.CancelBuild(ctx, sb.ID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	start := time.Now()
	canceled := waitStatus(t, alice, sb.ID, 5*time.Second, kiln.BuildStatus.Terminal)
	if canceled.Status != kiln.BuildCanceled {
		t.Fatalf("status after cancel = %s", canceled.Status)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancel took %s, want under 2s", took)
	}
	if _, err := alice.CancelBuild(ctx, sb.ID); kiln.ErrorCode(err) != kiln.EConflict {
		t.Errorf("cancel of an ended build: %v, want conflict", err)
	}

	// Rebuild: build #2 of the first app uses its stored spec.
	b2, err := alice.CreateBuild(ctx, app.ID, kiln.BuildCreate{})
	if err != nil || b2.Number != 2 {
		t.Fatalf("rebuild: %+v %v", b2, err)
	}
	waitStatus(t, alice, b2.ID, 20*time.Second, kiln.BuildStatus.Terminal)

	// Another user sees none of it.
	for name, call := range map[string]func() error{
		"app":       func() error { _, err := bob.GetApp(ctx, app.ID); return err },
		"build":     func() error { _, _, err := bob.GetBuild(ctx, b.ID); return err },
		"logs":      func() error { _, err := bob.Logs(ctx, b.ID, 0, 10); return err },
		"artifacts": func() error { _, err := bob.ListArtifacts(ctx, b.ID); return err },
		"download":  func() error { _, err := bob.DownloadArtifact(ctx, arts[0].ID, io.Discard); return err },
		"cancel":    func() error { _, err := bob.CancelBuild(ctx, b2.ID); return err },
		"rebuild":   func() error { _, err := bob.CreateBuild(ctx, slow.ID, kiln.BuildCreate{}); return err },
		"delete":    func() error { return bob.DeleteApp(ctx, app.ID) },
	} {
		if err := call(); kiln.ErrorCode(err) != kiln.ENotFound {
			t.Errorf("bob's %s: %v, want not found", name, err)
		}
	}
	apps, _, err := bob.ListApps(ctx, kiln.AppFilter{})
	if err != nil || len(apps) != 0 {
		t.Errorf("bob's apps = %d %v", len(apps), err)
	}
}

// TestScaleOut runs two API nodes and a separate worker over one
// PostgreSQL: an app created on node 1 is built by the worker and seen
// finished from node 2.
func TestScaleOut(t *testing.T) {
	dbURL := MustPostgresURL(t)
	dataDir := t.TempDir() // shared like a network volume: auth.secret and artifacts
	node1 := MustMain(t, dbURL, dataDir, []string{"api"}, nil)
	node2 := MustMain(t, dbURL, dataDir, []string{"api"}, nil)
	MustMain(t, dbURL, dataDir, []string{"worker"}, testPipeline{})

	ctx := context.Background()
	on1 := MustUser(t, node1, "alice@example.com")
	sess, err := client.New(node1.URL()).Login(ctx, "alice@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := on1.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title)"})
	if err != nil {
		t.Fatal(err)
	}
	// A token node 1 issued works on node 2.
	on2 := client.New(node2.URL(), client.WithToken(sess.AccessToken))
	done := waitStatus(t, on2, b.ID, 30*time.Second, kiln.BuildStatus.Terminal)
	if done.Status != kiln.BuildSucceeded {
		t.Fatalf("build seen from node 2: %s", done.Status)
	}
	arts, err := on2.ListArtifacts(ctx, b.ID)
	if err != nil || len(arts) != 1 {
		t.Fatalf("artifacts from node 2: %v %v", arts, err)
	}

	// A signing-key rotation on node 1 reaches node 2 at once: it verifies
	// the new key's tokens (unknown kid → reload) and still the old key's.
	keys, err := client.New(node1.URL(), client.WithToken(sess.AccessToken)).AdminRotateSigningKey(ctx, false)
	if err != nil || len(keys) != 2 {
		t.Fatalf("rotate on node 1: %v %v", keys, err)
	}
	fresh, err := client.New(node1.URL()).Login(ctx, "alice@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"new key": fresh.AccessToken, "previous key": sess.AccessToken} {
		// A write: reads may reuse a resolved credential for 2 s.
		if _, _, err := client.New(node2.URL(), client.WithToken(tok)).CreateToken(ctx, "scale-out "+name, nil); err != nil {
			t.Fatalf("node 2 with a token of the %s: %v", name, err)
		}
	}
}
