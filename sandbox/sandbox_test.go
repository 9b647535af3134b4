package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sandbox"
)

// probeBin is the stand-in for generated code (testdata/probe), built once
// outside the sandbox, statically.
var probeBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "kiln-probe-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if _, err := exec.LookPath("go"); err == nil {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "probe"), "./testdata/probe")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build probe: %v\n%s", err, out)
				return 1
			}
			probeBin = filepath.Join(dir, "probe")
		}
		return m.Run()
	}())
}

// mode is one way of running: under bubblewrap, or directly.
type mode struct {
	name string
	mode sandbox.Mode
}

var (
	sandboxed = mode{"Sandboxed", sandbox.ModeRequired}
	direct    = mode{"Direct", sandbox.ModeNone}
	bothModes = []mode{sandboxed, direct}
)

// MustRunner returns a Runner in the mode, skipping when bubblewrap is
// needed and missing.
func MustRunner(tb testing.TB, m mode, cfg sandbox.Config) *sandbox.Runner {
	tb.Helper()
	if probeBin == "" {
		tb.Skip("go is not installed: cannot build the probe")
	}
	if m.mode == sandbox.ModeRequired {
		if _, ok := sandbox.Detect(); !ok {
			tb.Skip("bubblewrap is not installed or does not work here (apt-get install bubblewrap)")
		}
	}
	cfg.Mode = m.mode
	r, err := sandbox.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if r.Sandboxed() != (m.mode == sandbox.ModeRequired) {
		tb.Fatalf("Sandboxed() = %v in mode %s", r.Sandboxed(), m.mode)
	}
	return r
}

// MustAppDir returns a fresh app dir holding the probe, inside a parent
// that also holds a "server data dir" with a secret in it.
func MustAppDir(tb testing.TB) (app, secret string) {
	tb.Helper()
	root := tb.TempDir()
	app = filepath.Join(root, "builds", "42", "app")
	data := filepath.Join(root, "data")
	for _, d := range []string{app, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	secret = filepath.Join(data, "kiln.db")
	if err := os.WriteFile(secret, []byte("server secret"), 0o644); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(probeBin)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "probe"), b, 0o755); err != nil {
		tb.Fatal(err)
	}
	return app, secret
}

// MustRun runs the probe and fails the test on a Run error.
func MustRun(tb testing.TB, r *sandbox.Runner, ctx context.Context, dir string, args ...string) (sandbox.Result, string, string) {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	res, err := r.Run(ctx, dir, &stdout, &stderr, "./probe", args...)
	if err != nil {
		tb.Fatalf("run probe %v: %v\nstderr: %s", args, err, stderr.String())
	}
	return res, stdout.String(), stderr.String()
}

// survivors returns the pids of processes whose command line holds marker.
func survivors(tb testing.TB, marker string) []int {
	tb.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(marker)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// readyWriter closes ready when the output holds "ready".
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready chan struct{}
}

func newReadyWriter() *readyWriter { return &readyWriter{ready: make(chan struct{})} }

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), "ready") {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func TestRun_Network(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()

	t.Run("Sandboxed", func(t *testing.T) {
		r := MustRunner(t, sandboxed, sandbox.Config{})
		app, _ := MustAppDir(t)
		res, out, _ := MustRun(t, r, t.Context(), app, "dial", ln.Addr().String())
		if res.ExitCode != 0 || !strings.Contains(out, "dial failed") {
			t.Fatalf("dial to the host's listener from the sandbox: exit %d, %q", res.ExitCode, out)
		}
		res, out, _ = MustRun(t, r, t.Context(), app, "dial", "1.1.1.1:53")
		if res.ExitCode != 0 || !strings.Contains(out, "dial failed") {
			t.Fatalf("dial to the internet from the sandbox: exit %d, %q", res.ExitCode, out)
		}
		select {
		case c := <-conns:
			c.Close()
			t.Fatal("the listener outside the sandbox got a connection")
		default:
		}
	})

	// The control: the same probe reaches the listener when run directly,
	// so the sandboxed failure above is the sandbox's doing.
	t.Run("Direct", func(t *testing.T) {
		r := MustRunner(t, direct, sandbox.Config{})
		app, _ := MustAppDir(t)
		res, out, _ := MustRun(t, r, t.Context(), app, "dial", ln.Addr().String())
		if res.ExitCode != 3 {
			t.Fatalf("direct dial: exit %d, %q", res.ExitCode, out)
		}
		(<-conns).Close()
	})
}

func TestRun_Files(t *testing.T) {
	t.Parallel()
	t.Run("Sandboxed", func(t *testing.T) {
		t.Parallel()
		r := MustRunner(t, sandboxed, sandbox.Config{})
		app, secret := MustAppDir(t)
		home, _ := os.UserHomeDir()
		for _, p := range []string{secret, "/etc/passwd", "/etc/hostname", filepath.Join(home, ".bash_history")} {
			if res, out, _ := MustRun(t, r, t.Context(), app, "read", p); res.ExitCode != 0 {
				t.Errorf("read %s from the sandbox: exit %d, %q", p, res.ExitCode, out)
			}
		}
		// Read-only toolchain and module cache.
		cfg := r.Config()
		for _, d := range []string{cfg.GOROOT, cfg.ModCache, "/usr/bin"} {
			p := filepath.Join(d, "kiln-sandbox-test")
			if res, out, _ := MustRun(t, r, t.Context(), app, "write", p, "10"); res.ExitCode != 0 {
				os.Remove(p)
				t.Errorf("write %s from the sandbox: exit %d, %q", p, res.ExitCode, out)
			}
		}
		// The app dir is writable, at the same path as outside.
		out := filepath.Join(app, "out.bin")
		if res, o, _ := MustRun(t, r, t.Context(), app, "write", out, "100"); res.ExitCode != 3 {
			t.Fatalf("write in the app dir: exit %d, %q", res.ExitCode, o)
		}
		if fi, err := os.Stat(out); err != nil || fi.Size() != 100 {
			t.Fatalf("file written in the sandbox: %v, %v", fi, err)
		}
		if _, o, _ := MustRun(t, r, t.Context(), app, "id"); strings.TrimSpace(o) != "65534 65534" {
			t.Errorf("uid gid inside = %q, want 65534 65534", o)
		}
	})
	t.Run("Direct", func(t *testing.T) {
		t.Parallel()
		r := MustRunner(t, direct, sandbox.Config{})
		app, secret := MustAppDir(t)
		if res, out, _ := MustRun(t, r, t.Context(), app, "read", secret); res.ExitCode != 3 || !strings.Contains(out, "server secret") {
			t.Fatalf("direct read of the planted file: exit %d, %q", res.ExitCode, out)
		}
	})
}

func TestRun_Env(t *testing.T) {
	t.Setenv("KILN_AUTH_SECRET", "do-not-leak")
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			r := MustRunner(t, m, sandbox.Config{Env: map[string]string{"KILN_INGEST_URL": "http://x", "GOPROXY": "https://evil"}})
			app, _ := MustAppDir(t)
			_, out, _ := MustRun(t, r, t.Context(), app, "env")
			env := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				k, v, _ := strings.Cut(line, "=")
				env[k] = v
			}
			want := map[string]string{
				"GOFLAGS": "-mod=readonly -trimpath", "GOPROXY": "off", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local",
				"GOTELEMETRY": "off", "GOWORK": "off", "KILN_INGEST_URL": "http://x",
				"GOCACHE": r.Config().BuildCache, "GOMODCACHE": r.Config().ModCache,
			}
			if m == sandboxed {
				want["HOME"] = "/tmp"
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			if _, ok := env["KILN_AUTH_SECRET"]; ok {
				t.Error("the host's environment leaked into the command")
			}
			allowed := map[string]bool{"PATH": true, "PWD": true, "HOME": true, "TMPDIR": true, "GOROOT": true}
			for k := range env {
				if _, ok := want[k]; !ok && !allowed[k] {
					t.Errorf("unexpected variable %s", k)
				}
			}
		})
	}
}

func TestRunner_WithBuildCache(t *testing.T) {
	t.Parallel()
	r := MustRunner(t, sandboxed, sandbox.Config{})
	own := filepath.Join(t.TempDir(), "owner-7")
	r7, err := r.WithBuildCache(own)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := MustAppDir(t)
	_, out, _ := MustRun(t, r7, t.Context(), app, "env")
	if !strings.Contains(out, "GOCACHE="+own+"\n") {
		t.Fatalf("GOCACHE is not the owner's cache: %s", out)
	}
	if res, o, _ := MustRun(t, r7, t.Context(), app, "write", filepath.Join(own, "entry"), "10"); res.ExitCode != 3 {
		t.Fatalf("the owner's cache is not writable: %q", o)
	}
	if r.Config().BuildCache == own {
		t.Fatal("WithBuildCache changed the original Runner")
	}
}

func TestRun_Timeout(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			const timeout = time.Second
			r := MustRunner(t, m, sandbox.Config{Timeout: timeout})
			app, _ := MustAppDir(t)
			marker := fmt.Sprintf("kiln-timeout-%s-%d", m.name, time.Now().UnixNano())
			res, out, _ := MustRun(t, r, t.Context(), app, "spawn", marker, "3")
			if !res.TimedOut || res.ExitCode != -1 {
				t.Fatalf("result %+v, want TimedOut; output %q", res, out)
			}
			if !strings.Contains(out, "ready") {
				t.Fatalf("the probe never started its children: %q", out)
			}
			if res.Duration < timeout || res.Duration > timeout+2*time.Second {
				t.Errorf("returned after %s, want about %s", res.Duration, timeout)
			}
			assertNoSurvivors(t, m, marker)
		})
	}
}

func TestRun_Cancel(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			r := MustRunner(t, m, sandbox.Config{Timeout: time.Minute})
			app, _ := MustAppDir(t)
			marker := fmt.Sprintf("kiln-cancel-%s-%d", m.name, time.Now().UnixNano())
			ctx, cancel := context.WithCancel(t.Context())
			stdout := newReadyWriter()
			go func() {
				<-stdout.ready
				cancel()
			}()
			start := time.Now()
			res, err := r.Run(ctx, app, stdout, nil, "./probe", "spawn", marker, "3")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if res.TimedOut || res.ExitCode != -1 {
				t.Errorf("result %+v", res)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("cancel took %s", d)
			}
			assertNoSurvivors(t, m, marker)
		})
	}
}

// assertNoSurvivors fails when a process with marker in its command line
// is alive. Under bubblewrap that must hold the moment Run returns;
// directly, SIGKILL to the group is asynchronous, so it may take a moment.
func assertNoSurvivors(t *testing.T, m mode, marker string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		pids := survivors(t, marker)
		if len(pids) == 0 {
			return
		}
		if m == sandboxed || time.Now().After(deadline) {
			t.Fatalf("processes survived: %v", pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRun_OutputCap(t *testing.T) {
	t.Parallel()
	for _, m := range bothModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			const max = 64 << 10
			r := MustRunner(t, m, sandbox.Config{MaxOutput: max})
			app, _ := MustAppDir(t)
			res, stdout, stderr := MustRun(t, r, t.Context(), app, "spam", strconv.Itoa(50<<20))
			if res.ExitCode != 0 || !res.Truncated {
				t.Fatalf("result %+v, want exit 0 and Truncated", res)
			}
			note := "[output truncated after 65536 bytes; the rest was discarded]"
			got := len(stdout) + len(stderr)
			if got > max+len(note)+2 {
				t.Errorf("captured %d bytes, cap %d", got, max)
			}
			if got < max {
				t.Errorf("captured only %d bytes", got)
			}
			if !strings.Contains(stdout+stderr, note) {
				t.Errorf("no truncation note")
			}
			t.Logf("50 MiB printed and discarded in %s", res.Duration)
		})
	}
	t.Run("UnderCap", func(t *testing.T) {
		t.Parallel()
		r := MustRunner(t, direct, sandbox.Config{MaxOutput: 1 << 20})
		app, _ := MustAppDir(t)
		res, stdout, _ := MustRun(t, r, t.Context(), app, "spam", "10240")
		if res.Truncated || len(stdout) != 10240 {
			t.Fatalf("truncated %v, %d bytes", res.Truncated, len(stdout))
		}
	})
}

func TestRun_Limits(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	for _, m := range bothModes {
		t.Run(m.name+"/FileSize", func(t *testing.T) {
			t.Parallel()
			r := MustRunner(t, m, sandbox.Config{MaxFileSize: 1 << 20})
			app, _ := MustAppDir(t)
			if res, out, _ := MustRun(t, r, t.Context(), app, "write", filepath.Join(app, "small"), strconv.Itoa(512<<10)); res.ExitCode != 3 {
				t.Fatalf("write under the limit: exit %d, %q", res.ExitCode, out)
			}
			res, out, _ := MustRun(t, r, t.Context(), app, "write", filepath.Join(app, "big"), strconv.Itoa(2<<20))
			if res.ExitCode == 3 {
				t.Fatalf("a 2 MiB file was written under a 1 MiB limit: %q", out)
			}
			if fi, err := os.Stat(filepath.Join(app, "big")); err == nil && fi.Size() > 1<<20 {
				t.Fatalf("file grew to %d bytes", fi.Size())
			}
		})
		t.Run(m.name+"/CPU", func(t *testing.T) {
			t.Parallel()
			r := MustRunner(t, m, sandbox.Config{CPUSeconds: 1, Timeout: time.Minute})
			app, _ := MustAppDir(t)
			res, _, _ := MustRun(t, r, t.Context(), app, "spin")
			if res.TimedOut || res.ExitCode == 0 {
				t.Fatalf("result %+v, want killed by the CPU limit", res)
			}
			if res.Duration > 20*time.Second {
				t.Errorf("a 1 s CPU limit took %s of wall time", res.Duration)
			}
		})
	}
	t.Run("Sandboxed/Procs", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() == 0 {
			t.Skip("RLIMIT_NPROC is not enforced for root")
		}
		r := MustRunner(t, sandboxed, sandbox.Config{MaxProcs: 20, Timeout: 5 * time.Second})
		app, _ := MustAppDir(t)
		marker := fmt.Sprintf("kiln-procs-%d", time.Now().UnixNano())
		res, out, _ := MustRun(t, r, t.Context(), app, "spawn", marker, "50")
		if !strings.Contains(out, "spawn failed") {
			t.Fatalf("50 processes started under a limit of 20: %+v %q", res, out)
		}
	})
}

func TestNew(t *testing.T) {
	t.Run("RequiredWithoutBwrap", func(t *testing.T) {
		_, err := sandbox.New(sandbox.Config{Mode: sandbox.ModeRequired, Bwrap: "/nonexistent/bwrap"})
		if kiln.ErrorCode(err) != kiln.EUnavailable || !strings.Contains(kiln.ErrorMessage(err), "bubblewrap") {
			t.Fatalf("err = %v, want EUnavailable naming bubblewrap", err)
		}
	})
	t.Run("RequiredWithoutBwrapInPATH", func(t *testing.T) {
		cfg := sandbox.Config{Mode: sandbox.ModeAuto}
		r, err := sandbox.New(cfg) // resolve the Go paths with the real PATH
		if err != nil {
			t.Fatal(err)
		}
		cfg = r.Config()
		t.Setenv("PATH", t.TempDir())
		cfg.Mode = sandbox.ModeRequired
		if _, err := sandbox.New(cfg); kiln.ErrorCode(err) != kiln.EUnavailable {
			t.Fatalf("err = %v, want EUnavailable", err)
		}
		cfg.Mode = sandbox.ModeAuto
		r, err = sandbox.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Sandboxed() || !strings.Contains(r.Describe(), "UNSANDBOXED") {
			t.Fatalf("auto without bwrap: Sandboxed %v, %q", r.Sandboxed(), r.Describe())
		}
		if probeBin == "" {
			return
		}
		app, _ := MustAppDir(t)
		res, out, _ := MustRun(t, r, t.Context(), app, "id")
		if res.Sandboxed || res.ExitCode != 0 || out == "" {
			t.Fatalf("auto without bwrap: %+v %q", res, out)
		}
	})
	t.Run("BadMode", func(t *testing.T) {
		if _, err := sandbox.New(sandbox.Config{Mode: "maybe"}); kiln.ErrorCode(err) != kiln.EInvalid {
			t.Fatalf("err = %v, want EInvalid", err)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		r, err := sandbox.New(sandbox.Config{Mode: sandbox.ModeNone})
		if err != nil {
			t.Fatal(err)
		}
		c := r.Config()
		if c.Timeout != sandbox.DefaultTimeout || c.MaxOutput != sandbox.DefaultMaxOutput {
			t.Fatalf("defaults not applied: %+v", c)
		}
	})
}

// A tool outside the sandbox's PATH (staticcheck in ~/go/bin) runs when
// named by its absolute path: that one file is bound read-only, its folder
// stays hidden.
func TestRun_ToolOutsidePath(t *testing.T) {
	t.Parallel()
	r := MustRunner(t, sandboxed, sandbox.Config{})
	app, _ := MustAppDir(t)
	toolDir := t.TempDir()
	tool := filepath.Join(toolDir, "probe-tool")
	b, _ := os.ReadFile(probeBin)
	if err := os.WriteFile(tool, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(toolDir, "neighbour"), []byte("hidden"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := r.Run(t.Context(), app, &out, &out, tool, "read", filepath.Join(toolDir, "neighbour"))
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || !strings.Contains(out.String(), "read failed") {
		t.Fatalf("tool by absolute path: %+v %q", res, out.String())
	}
}

func TestRun_Errors(t *testing.T) {
	r := MustRunner(t, direct, sandbox.Config{})
	app, _ := MustAppDir(t)
	if _, err := r.Run(t.Context(), "relative/dir", nil, nil, "./probe"); err == nil {
		t.Error("relative dir accepted")
	}
	if _, err := r.Run(t.Context(), app, nil, nil, "no-such-tool-kiln"); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("missing tool: err = %v, want exec.ErrNotFound", err)
	}
	res, _, _ := MustRun(t, r, t.Context(), app, "bogus")
	if res.ExitCode != 2 {
		t.Errorf("exit code = %d, want 2", res.ExitCode)
	}
}
