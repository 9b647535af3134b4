// Package sandbox runs commands over generated code (gofmt, go vet, go build,
// go test) under bubblewrap: no network, its own pid/ipc/uts/user
// namespaces, a read-only toolchain and module cache, a private writable work
// dir, a tmpfs /tmp, nothing else of the host's files, an allow-listed
// environment, and limits on wall time, CPU, processes, file size and
// captured output. Without bubblewrap it can run the same commands directly
// (mode "auto"), with the same environment and limits but no isolation, and
// says so through Runner.Sandboxed.
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kiln-build/kiln"
)

// Mode says whether commands must, may or must not run under bubblewrap.
type Mode string

// Modes.
const (
	ModeAuto     Mode = "auto"     // bubblewrap when it works here, else run directly
	ModeRequired Mode = "required" // bubblewrap or refuse
	ModeNone     Mode = "none"     // never sandbox (trusted code, development)
)

// Defaults for Config fields left zero.
const (
	DefaultTimeout     = 5 * time.Minute
	DefaultMaxOutput   = 4 << 20 // bytes of stdout+stderr kept per command
	DefaultMaxProcs    = 1024    // tasks (processes and threads) per user
	DefaultMaxFileSize = 1 << 30 // bytes per file written
	// DefaultCPUSeconds is the CPU time one process may use; a compile of a
	// large dependency stays far below it, a runaway loop does not.
	DefaultCPUSeconds = 600
)

// SandboxUID is the user id commands run as inside the sandbox. Files they
// create belong, outside, to the user running Kiln.
const SandboxUID = 65534

// Config configures a Runner. Zero fields take the defaults above;
// GOROOT, ModCache and BuildCache default to what `go env` reports.
type Config struct {
	Mode Mode
	// Bwrap is the bubblewrap binary; "" looks up "bwrap" in PATH.
	Bwrap string

	GOROOT     string // bound read-only; $GOROOT/bin leads PATH
	ModCache   string // GOMODCACHE, bound read-only
	BuildCache string // GOCACHE, bound writable; created when missing

	Timeout     time.Duration // wall time per command
	MaxOutput   int64         // bytes of stdout+stderr captured per command
	MaxProcs    int           // RLIMIT_NPROC: tasks of the sandbox user (the kernel exempts root)
	MaxFileSize int64         // RLIMIT_FSIZE in bytes
	CPUSeconds  int           // RLIMIT_CPU per process

	// Env adds variables to the allow-listed environment. It cannot
	// override the variables the sandbox sets itself.
	Env map[string]string
}

// Result is how one command ended.
type Result struct {
	ExitCode  int           // -1 when killed by a signal or never started
	Duration  time.Duration // wall time
	TimedOut  bool          // killed at the Timeout
	Truncated bool          // output went over MaxOutput and was cut
	Sandboxed bool          // ran under bubblewrap
}

// Runner runs commands with the isolation and limits of its Config. It is
// safe for concurrent use.
type Runner struct {
	cfg     Config
	bwrap   string // "" when running unsandboxed
	prlimit string // "" when limits cannot be applied
}

// New returns a Runner. With mode "required" it fails with an
// EUnavailable error when bubblewrap is missing or does not work here.
func New(cfg Config) (*Runner, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeAuto
	}
	switch cfg.Mode {
	case ModeAuto, ModeRequired, ModeNone:
	default:
		return nil, kiln.Errorf(kiln.EInvalid, "sandbox: unknown mode %q (want auto, required or none)", cfg.Mode)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = DefaultMaxOutput
	}
	if cfg.MaxProcs <= 0 {
		cfg.MaxProcs = DefaultMaxProcs
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.CPUSeconds <= 0 {
		cfg.CPUSeconds = DefaultCPUSeconds
	}
	if err := fillGoPaths(&cfg); err != nil {
		return nil, err
	}

	r := &Runner{cfg: cfg}
	if p, err := exec.LookPath("prlimit"); err == nil {
		r.prlimit = p
	}
	if cfg.Mode == ModeNone {
		return r, nil
	}
	path, err := probe(cfg.Bwrap)
	if err != nil {
		if cfg.Mode == ModeRequired {
			return nil, &kiln.Error{Code: kiln.EUnavailable,
				Message: fmt.Sprintf("sandbox is required but bubblewrap does not work here (%v); install it (apt-get install bubblewrap) or set sandbox: auto", err)}
		}
		return r, nil
	}
	if r.prlimit == "" && cfg.Mode == ModeRequired {
		return nil, &kiln.Error{Code: kiln.EUnavailable,
			Message: "sandbox is required but prlimit (util-linux) is missing, so no resource limits could be set"}
	}
	r.bwrap = path
	return r, nil
}

// Sandboxed reports whether commands run under bubblewrap. It is false in
// mode "none" and in mode "auto" without a working bubblewrap; callers
// should then warn loudly in the build log.
func (r *Runner) Sandboxed() bool { return r.bwrap != "" }

// Describe returns one line for the build log saying how commands run.
func (r *Runner) Describe() string {
	var b strings.Builder
	if r.bwrap != "" {
		fmt.Fprintf(&b, "sandboxed with bubblewrap (%s): no network, read-only toolchain, private work dir", r.bwrap)
	} else {
		b.WriteString("UNSANDBOXED: generated code runs directly on this machine with access to its network and files")
	}
	if r.prlimit != "" {
		fmt.Fprintf(&b, "; limits: %s wall, %ds CPU, %d tasks, %d-byte files, %d bytes of output",
			r.cfg.Timeout, r.cfg.CPUSeconds, r.cfg.MaxProcs, r.cfg.MaxFileSize, r.cfg.MaxOutput)
		if os.Geteuid() == 0 {
			b.WriteString(" (the task limit is not enforced for root)")
		}
	} else {
		fmt.Fprintf(&b, "; limits: %s wall, %d bytes of output (no prlimit: no CPU, task or file-size limits)",
			r.cfg.Timeout, r.cfg.MaxOutput)
	}
	return b.String()
}

// WithBuildCache returns a Runner like r whose commands use dir (created
// when missing) as their writable Go build cache. Generated code can write
// anything into the cache it is given, so builds of different owners
// should not share one: give each owner its own.
func (r *Runner) WithBuildCache(dir string) (*Runner, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: build cache: %w", err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox: build cache: %w", err)
	}
	if real, err = filepath.Abs(real); err != nil {
		return nil, fmt.Errorf("sandbox: build cache: %w", err)
	}
	c := *r
	c.cfg.BuildCache = real
	return &c, nil
}

// WithEnv returns a Runner like r whose commands also get env (on top of
// Config.Env); like Config.Env it cannot override what the sandbox sets.
func (r *Runner) WithEnv(env map[string]string) *Runner {
	c := *r
	c.cfg.Env = make(map[string]string, len(r.cfg.Env)+len(env))
	for k, v := range r.cfg.Env {
		c.cfg.Env[k] = v
	}
	for k, v := range env {
		c.cfg.Env[k] = v
	}
	return &c
}

// Config returns the configuration with defaults filled in.
func (r *Runner) Config() Config { return r.cfg }

// fillGoPaths fills the toolchain paths from `go env` when they are empty
// and makes sure the build cache exists. A machine without Go leaves them
// empty; commands other than go then still run.
func fillGoPaths(cfg *Config) error {
	if cfg.GOROOT == "" || cfg.ModCache == "" || cfg.BuildCache == "" {
		if gobin, err := exec.LookPath("go"); err == nil {
			out, err := exec.Command(gobin, "env", "GOROOT", "GOMODCACHE", "GOCACHE").Output()
			if err != nil {
				return fmt.Errorf("sandbox: go env: %w", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) == 3 {
				for i, p := range []*string{&cfg.GOROOT, &cfg.ModCache, &cfg.BuildCache} {
					if *p == "" {
						*p = strings.TrimSpace(lines[i])
					}
				}
			}
		}
	}
	for _, p := range []*string{&cfg.GOROOT, &cfg.ModCache, &cfg.BuildCache} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		*p = abs
	}
	if cfg.GOROOT != "" {
		if _, err := os.Stat(filepath.Join(cfg.GOROOT, "bin")); err != nil {
			return fmt.Errorf("sandbox: GOROOT %s: %w", cfg.GOROOT, err)
		}
	}
	for _, d := range []string{cfg.ModCache, cfg.BuildCache} {
		if d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
		}
	}
	for _, p := range []*string{&cfg.GOROOT, &cfg.ModCache, &cfg.BuildCache} {
		if *p == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(*p)
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		*p = real
	}
	return nil
}

var detectOnce struct {
	sync.Once
	path string
	ok   bool
}

// Detect reports whether bubblewrap from PATH works on this machine, by
// running it once with the namespaces the sandbox uses. The answer is
// cached for the life of the process.
func Detect() (path string, ok bool) {
	detectOnce.Do(func() {
		p, err := probe("")
		detectOnce.path, detectOnce.ok = p, err == nil
	})
	return detectOnce.path, detectOnce.ok
}

// probe finds bwrap (bin, or "bwrap" in PATH) and checks it can create the
// namespaces Run asks for: a user namespace may be forbidden by the kernel
// or a container runtime even when the binary is installed.
func probe(bin string) (string, error) {
	if bin == "" {
		bin = "bwrap"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("bubblewrap not found: %w", err)
	}
	args := append([]string{"--ro-bind", "/", "/"}, namespaceArgs()...)
	args = append(args, "--", "true")
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s does not work here: %w: %s", path, err, strings.TrimSpace(string(out)))
	}
	return path, nil
}

func namespaceArgs() []string {
	return []string{
		"--unshare-all", "--unshare-user",
		"--uid", strconv.Itoa(SandboxUID), "--gid", strconv.Itoa(SandboxUID),
		"--die-with-parent", "--new-session", "--cap-drop", "ALL",
	}
}

// errNotAbs is returned for a relative work dir.
var errNotAbs = errors.New("sandbox: work dir must be an absolute path")
