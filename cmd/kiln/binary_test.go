package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/blob"
	"github.com/kiln-build/kiln/worker"
)

var (
	kilnBinOnce sync.Once
	kilnBinPath string
	kilnBinErr  error
)

// mustKilnBinary builds the kiln binary once per test run and returns its
// path. Tests that need it skip with -short.
func mustKilnBinary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds the kiln binary; skipped with -short")
	}
	kilnBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kiln-bin-")
		if err != nil {
			kilnBinErr = err
			return
		}
		kilnBinPath = filepath.Join(dir, "kiln")
		if out, err := exec.Command("go", "build", "-o", kilnBinPath, ".").CombinedOutput(); err != nil {
			kilnBinErr = fmt.Errorf("build kiln: %v\n%s", err, out)
		}
	})
	if kilnBinErr != nil {
		tb.Fatal(kilnBinErr)
	}
	return kilnBinPath
}

// TestMain removes the binary mustKilnBinary built.
func TestMain(m *testing.M) {
	code := m.Run()
	if kilnBinPath != "" {
		_ = os.RemoveAll(filepath.Dir(kilnBinPath))
	}
	os.Exit(code)
}

// cliRun is one run of the kiln binary as a user would type it.
type cliRun struct {
	stdout, stderr string
	code           int
}

// kilnCLI runs the kiln binary with a private config dir and the server.
type kilnCLI struct {
	tb        testing.TB
	bin       string
	server    string
	configDir string
}

func (c *kilnCLI) run(stdin string, args ...string) cliRun {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), "KILN_SERVER="+c.server, "KILN_CONFIG_DIR="+c.configDir, "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.tb.Fatalf("kiln %v: %v", args, err)
	}
	return cliRun{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func (c *kilnCLI) mustRun(stdin string, args ...string) string {
	c.tb.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 {
		c.tb.Fatalf("kiln %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// TestBinaryEndToEnd walks a new user through the real kiln binary against
// a running server: sign up, verify from the dev outbox, log in, create an
// app and wait for its build on the worker, read its log and artifacts;
// then a second user gets "not found" for all of it.
func TestBinaryEndToEnd(t *testing.T) {
	bin := mustKilnBinary(t)
	m := MustMain(t, "", t.TempDir(), []string{"api", "worker"}, testPipeline{})
	alice := &kilnCLI{tb: t, bin: bin, server: m.URL(), configDir: t.TempDir()}

	out := alice.mustRun("correct horse battery\n", "signup", "--email", "alice@example.com", "--password-stdin")
	if !strings.Contains(out, "alice@example.com") {
		t.Errorf("signup said: %s", out)
	}
	msg := MustMail(t, m, "alice@example.com", "verify_email")
	link, err := url.Parse(msg.Link)
	if err != nil {
		t.Fatal(err)
	}
	alice.mustRun("", "verify-email", link.Query().Get("token"))
	alice.mustRun("", "logout")
	if r := alice.run("", "whoami"); r.code != 1 {
		t.Fatalf("whoami after logout: exit %d %s", r.code, r.stdout)
	}
	alice.mustRun("correct horse battery\n", "login", "--email", "alice@example.com", "--password-stdin")
	info, err := os.Stat(filepath.Join(alice.configDir, "credentials.json"))
	if err != nil {
		entries, _ := os.ReadDir(alice.configDir)
		t.Fatalf("credentials not stored: %v (config dir holds %v)", err, entries)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("credentials mode %o, want 600", perm)
	}
	var me kiln.User
	if err := json.Unmarshal([]byte(alice.mustRun("", "whoami", "-o", "json")), &me); err != nil || !me.EmailVerified {
		t.Fatalf("whoami: %+v %v", me, err)
	}

	out = alice.mustRun("", "apps", "create", "a todo app with tasks (title, done)", "--name", "todo", "--wait")
	if !strings.Contains(out, "succeeded") {
		t.Fatalf("apps create --wait said:\n%s", out)
	}
	var list struct{ Items []kiln.Build }
	if err := json.Unmarshal([]byte(alice.mustRun("", "builds", "list", "--app", "todo", "-o", "json")), &list); err != nil || len(list.Items) != 1 {
		t.Fatalf("builds list: %+v %v", list, err)
	}
	b := list.Items[0]
	if b.Status != kiln.BuildSucceeded {
		t.Fatalf("build status %s", b.Status)
	}
	id := strconv.FormatInt(b.ID, 10)
	if logs := alice.mustRun("", "builds", "logs", id); !strings.Contains(logs, "build succeeded") {
		t.Errorf("builds logs:\n%s", logs)
	}
	if arts := alice.mustRun("", "artifacts", "list", id); !strings.Contains(arts, "SHA256SUMS") {
		t.Errorf("artifacts list:\n%s", arts)
	}

	bob := &kilnCLI{tb: t, bin: bin, server: m.URL(), configDir: t.TempDir()}
	bob.mustRun("another good password\n", "signup", "--email", "bob@example.com", "--password-stdin")
	for _, args := range [][]string{{"builds", "get", id}, {"builds", "logs", id}, {"artifacts", "list", id}, {"apps", "get", strconv.FormatInt(b.AppID, 10)}} {
		r := bob.run("", args...)
		if r.code != 1 || !strings.Contains(strings.ToLower(r.stderr), "not found") {
			t.Errorf("bob: kiln %s: exit %d, stderr %q; want 1 and not found", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := bob.run("", "apps", "create"); r.code != 2 {
		t.Errorf("a usage error exits %d, want 2: %s", r.code, r.stderr)
	}

	// /metrics counts the stored builds by status.
	res, err := http.Get(m.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`kiln_builds{status="succeeded"} 1`, `kiln_builds_finished_total{status="succeeded"} 1`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Deleting the app removes its build; the blob sweep then removes the
	// build's artifact files.
	blobs, err := blob.NewLocal(filepath.Join(m.Config.DataDir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	folder := filepath.Join(m.Config.DataDir, "artifacts", "builds", id)
	if _, err := os.Stat(folder); err != nil {
		t.Fatalf("artifact folder: %v", err)
	}
	alice.mustRun("", "apps", "delete", "todo", "--yes")
	removed, err := worker.SweepBuildBlobs(context.Background(), worker.SweepConfig{Blobs: blobs, InUse: m.DB.BuildBlobsInUse})
	if err != nil || removed != 1 {
		t.Fatalf("sweep removed %d: %v", removed, err)
	}
	if _, err := os.Stat(folder); !os.IsNotExist(err) {
		t.Fatalf("artifact folder of a deleted app's build is still there: %v", err)
	}
}

// listeningRE finds the URL in serve's banner.
var listeningRE = regexp.MustCompile(`is listening on (http://\S+)`)

// TestIdleServeMemory starts `kiln serve` with the embedded defaults and
// checks that, once it is up and idle, it stays under 60 MB of resident
// memory (the target).
func TestIdleServeMemory(t *testing.T) {
	bin := mustKilnBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--log-format", "text")
	cmd.Env = append(os.Environ(), "KILN_SANDBOX=auto")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-found:
	case <-time.After(time.Minute):
		t.Fatal("kiln serve did not say where it listens within a minute")
	}
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", res.StatusCode)
	}
	// Idle: a few queue polls and rescue rounds go by with nothing to do.
	time.Sleep(3 * time.Second)
	rss := residentKB(t, cmd.Process.Pid)
	t.Logf("idle kiln serve: %.1f MB resident", float64(rss)/1024)
	if rss > 60*1024 {
		t.Errorf("idle kiln serve uses %.1f MB resident, want under 60 MB", float64(rss)/1024)
	}
}

// residentKB reads a process's resident set size from /proc.
func residentKB(tb testing.TB, pid int) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Skipf("no /proc on this system: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				tb.Fatalf("parse %q: %v", line, err)
			}
			return kb
		}
	}
	tb.Fatal("VmRSS not found")
	return 0
}
