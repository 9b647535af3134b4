package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// waitDelay bounds how long Run waits for output pipes after the command
// exited or was killed: an unsandboxed process that escaped the process
// group could otherwise hold them open for ever.
const waitDelay = 3 * time.Second

// Run runs name with args in dir (an absolute path) and copies its output
// to stdout and stderr (nil discards), cutting it at MaxOutput with a note.
// Name is looked up in the sandbox's PATH ($GOROOT/bin, /usr/local/bin,
// /usr/bin, /bin) unless it contains a slash; a relative path with a slash
// is relative to dir.
//
// The error is nil whenever the command ran to an outcome, including a
// non-zero exit (Result.ExitCode) and a kill at the time limit
// (Result.TimedOut). It is non-nil when the command could not be started,
// and wraps ctx's error when ctx ended first; in both time-out and cancel
// the whole process tree is killed before Run returns.
func (r *Runner) Run(ctx context.Context, dir string, stdout, stderr io.Writer, name string, args ...string) (Result, error) {
	res := Result{ExitCode: -1, Sandboxed: r.bwrap != ""}
	if !filepath.IsAbs(dir) {
		return res, errNotAbs
	}
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return res, fmt.Errorf("sandbox: work dir: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("sandbox: %s: %w", name, err)
	}

	pathList := r.pathList()
	prog, err := lookPath(name, dir, pathList)
	if err != nil {
		return res, fmt.Errorf("sandbox: %w", err)
	}

	var argv, env []string
	var cleanup func()
	if r.bwrap != "" {
		env = r.env("/tmp", pathList)
		argv = append(r.bwrapArgs(dir, prog, env), r.limitArgs()...)
		argv = append(argv, prog)
		env = nil // bwrap gets --clearenv and --setenv; its own env stays empty
	} else {
		// A private HOME and TMPDIR stand in for the sandbox's tmpfs.
		tmp, err := os.MkdirTemp("", "kiln-run-")
		if err != nil {
			return res, fmt.Errorf("sandbox: %w", err)
		}
		cleanup = func() { os.RemoveAll(tmp) }
		env = r.env(tmp, pathList)
		argv = append(r.limitArgs(), prog)
	}
	if cleanup != nil {
		defer cleanup()
	}
	argv = append(argv, args...)

	out := &capture{left: r.cfg.MaxOutput, max: r.cfg.MaxOutput}
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()

	cmd := exec.CommandContext(tctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append([]string{}, env...) // never nil: nil would pass on Kiln's own environment
	cmd.Stdout = &capWriter{c: out, w: orDiscard(stdout)}
	cmd.Stderr = &capWriter{c: out, w: orDiscard(stderr)}
	// Its own process group, so one kill reaches every process it started
	// (and, under bwrap, the pid namespace ends with its init). Pdeathsig
	// kills it should Kiln die; the fork happens on a locked thread so that
	// thread outlives the child, as Pdeathsig needs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = waitDelay
	var info *infoReader
	if r.bwrap != "" {
		// bwrap reports the pid of the sandbox's init on fd 3. Killing
		// that init, rather than bwrap, makes the kernel kill every
		// process in the pid namespace before bwrap can reap it and exit,
		// so when Wait returns the whole tree is gone.
		if info, err = newInfoReader(); err != nil {
			return res, fmt.Errorf("sandbox: %w", err)
		}
		defer info.close()
		cmd.ExtraFiles = []*os.File{info.w}
	}
	cmd.Cancel = func() error {
		if pid := info.pid(); pid > 0 {
			return ignoreESRCH(syscall.Kill(pid, syscall.SIGKILL))
		}
		return killGroup(cmd.Process.Pid)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("sandbox: start %s: %w", name, err)
	}
	if info != nil {
		info.start()
	}
	waitErr := cmd.Wait()
	res.Duration = time.Since(start)
	// Sweep whatever is left in the group (a background child of an
	// unsandboxed command); under bwrap the pid namespace is gone already.
	_ = killGroup(cmd.Process.Pid)

	res.ExitCode = cmd.ProcessState.ExitCode()
	res.Truncated = out.truncated()
	if err := ctx.Err(); err != nil {
		res.ExitCode = -1
		return res, fmt.Errorf("sandbox: %s: %w", name, err)
	}
	if errors.Is(tctx.Err(), context.DeadlineExceeded) {
		res.ExitCode = -1
		res.TimedOut = true
		return res, nil
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, fmt.Errorf("sandbox: %s: %w", name, waitErr)
	}
	if err := out.writeErr(); err != nil {
		return res, fmt.Errorf("sandbox: write output: %w", err)
	}
	return res, nil
}

// killGroup kills the process group led by pid.
func killGroup(pid int) error {
	return ignoreESRCH(syscall.Kill(-pid, syscall.SIGKILL))
}

func ignoreESRCH(err error) error {
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// infoReader reads the JSON bwrap writes to --info-fd.
type infoReader struct {
	r, w  *os.File
	done  chan struct{}
	child atomic.Int64
}

func newInfoReader() (*infoReader, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	return &infoReader{r: r, w: w, done: make(chan struct{})}, nil
}

// start closes the parent's write end and reads the child pid.
func (ir *infoReader) start() {
	ir.w.Close()
	go func() {
		defer close(ir.done)
		var info struct {
			ChildPID int64 `json:"child-pid"`
		}
		if json.NewDecoder(ir.r).Decode(&info) == nil {
			ir.child.Store(info.ChildPID)
		}
	}()
}

// pid returns the sandbox init's pid, waiting briefly for bwrap to report
// it when asked right after the start; 0 when unknown.
func (ir *infoReader) pid() int {
	if ir == nil {
		return 0
	}
	select {
	case <-ir.done:
	case <-time.After(time.Second):
	}
	return int(ir.child.Load())
}

func (ir *infoReader) close() {
	ir.w.Close()
	ir.r.Close()
}

func (r *Runner) pathList() []string {
	var dirs []string
	if r.cfg.GOROOT != "" {
		dirs = append(dirs, filepath.Join(r.cfg.GOROOT, "bin"))
	}
	return append(dirs, "/usr/local/bin", "/usr/bin", "/bin")
}

// env returns the allow-listed environment, sorted.
func (r *Runner) env(tmp string, pathList []string) []string {
	m := map[string]string{}
	for k, v := range r.cfg.Env {
		if k != "" && !strings.ContainsAny(k, "=\x00") && !strings.Contains(v, "\x00") {
			m[k] = v
		}
	}
	set := map[string]string{
		"PATH":   strings.Join(pathList, ":"),
		"HOME":   tmp,
		"TMPDIR": tmp,
		// -trimpath keeps the host's paths (data dir, work dir) out of
		// what the app's commands compile; every check and the image
		// build then share one set of build cache entries.
		"GOFLAGS":     "-mod=readonly -trimpath",
		"GOPROXY":     "off",
		"GOWORK":      "off",
		"CGO_ENABLED": "0",
		"GOTOOLCHAIN": "local",
		"GOTELEMETRY": "off",
	}
	if r.cfg.GOROOT != "" {
		set["GOROOT"] = r.cfg.GOROOT
	}
	if r.cfg.ModCache != "" {
		set["GOMODCACHE"] = r.cfg.ModCache
	}
	if r.cfg.BuildCache != "" {
		set["GOCACHE"] = r.cfg.BuildCache
	}
	for k, v := range set {
		m[k] = v
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// limitArgs returns the prlimit prefix, or nothing without prlimit.
func (r *Runner) limitArgs() []string {
	if r.prlimit == "" {
		return nil
	}
	return []string{r.prlimit,
		"--nproc=" + strconv.Itoa(r.cfg.MaxProcs),
		"--fsize=" + strconv.FormatInt(r.cfg.MaxFileSize, 10),
		"--cpu=" + strconv.Itoa(r.cfg.CPUSeconds),
		"--core=0",
		"--"}
}

// bwrapArgs builds the bubblewrap command line up to the command itself.
// Toolchain, caches and the work dir are bound at the same paths as
// outside, since Go's build cache keys include file paths.
func (r *Runner) bwrapArgs(dir, prog string, env []string) []string {
	a := []string{r.bwrap}
	a = append(a, namespaceArgs()...)
	for _, p := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ssl", "/etc/alternatives"} {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(p); err == nil {
				a = append(a, "--symlink", target, p)
			}
		case fi.IsDir():
			a = append(a, "--ro-bind", p, p)
		}
	}
	a = append(a, "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev")
	visible := []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", dir}
	if r.cfg.GOROOT != "" {
		a = append(a, "--ro-bind", r.cfg.GOROOT, r.cfg.GOROOT)
		visible = append(visible, r.cfg.GOROOT)
	}
	if r.cfg.ModCache != "" {
		a = append(a, "--ro-bind", r.cfg.ModCache, r.cfg.ModCache)
	}
	if r.cfg.BuildCache != "" {
		a = append(a, "--bind", r.cfg.BuildCache, r.cfg.BuildCache)
	}
	a = append(a, "--bind", dir, dir)
	if !under(prog, visible) {
		// A tool installed elsewhere (staticcheck in ~/go/bin): show just
		// that file, read-only.
		a = append(a, "--ro-bind", prog, prog)
	}
	if r.prlimit != "" && !under(r.prlimit, visible) {
		a = append(a, "--ro-bind", r.prlimit, r.prlimit)
	}
	a = append(a, "--info-fd", "3", "--chdir", dir, "--clearenv")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		a = append(a, "--setenv", k, v)
	}
	return append(a, "--")
}

// under reports whether p is one of roots or inside one.
func under(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

// lookPath resolves name like a shell would with the sandbox's PATH, so the
// same program runs with and without bubblewrap.
func lookPath(name, dir string, pathList []string) (string, error) {
	if name == "" {
		return "", errors.New("empty command name")
	}
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return p, nil
	}
	for _, d := range pathList {
		p := filepath.Join(d, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w in %s", name, exec.ErrNotFound, strings.Join(pathList, ":"))
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("not an executable file")
	}
	return nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// capture is the output budget shared by a command's stdout and stderr.
type capture struct {
	mu    sync.Mutex
	left  int64
	max   int64
	cut   bool
	wrErr error
}

func (c *capture) truncated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cut
}

func (c *capture) writeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrErr
}

// capWriter passes writes to w until the budget runs out, then writes one
// note and discards the rest. It never fails, so the command is never
// blocked on a full pipe; a failing w is remembered in the capture.
type capWriter struct {
	c *capture
	w io.Writer
}

func (cw *capWriter) Write(p []byte) (int, error) {
	c := cw.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut || c.wrErr != nil {
		return len(p), nil
	}
	keep := p
	if int64(len(p)) > c.left {
		keep = p[:c.left]
	}
	if len(keep) > 0 {
		if _, err := cw.w.Write(keep); err != nil {
			c.wrErr = err
			return len(p), nil
		}
		c.left -= int64(len(keep))
	}
	if len(keep) < len(p) {
		c.cut = true
		note := fmt.Sprintf("\n[output truncated after %d bytes; the rest was discarded]\n", c.max)
		if _, err := io.WriteString(cw.w, note); err != nil {
			c.wrErr = err
		}
	}
	return len(p), nil
}
