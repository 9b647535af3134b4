package codegen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/edit"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/llm"
	"github.com/kiln-build/kiln/sandbox"
	"github.com/kiln-build/kiln/templates"
)

// work is one build's app as the checks and the LLM steps see it.
type work struct {
	build  *kiln.Build
	app    *kiln.App
	spec   *kiln.AppSpec
	set    *templates.Set
	dir    string
	files  render.Files
	budget *llm.Budget
	// runner is the sandbox of the checks; reportJSON the validation
	// report as stored. Both are set by validate.
	runner     *sandbox.Runner
	reportJSON []byte
}

// assistant returns the configured Assistant, or nil when offline.
func (p *Pipeline) assistant() Assistant {
	if p.cfg.LLM == nil {
		return nil
	}
	return p.cfg.LLM.Assistant
}

// customize runs the customize step when a model is configured for it.
func (p *Pipeline) customize(ctx context.Context, w *work, rec kiln.Recorder, report *Report) error {
	a := p.assistant()
	if a == nil || !p.cfg.LLM.Customize {
		return nil
	}
	return rec.Step(ctx, "customize", kiln.BuildGenerating, func(ctx context.Context) error {
		in := p.assistInput(w, rec, "customize", 0, report)
		att, err := a.Customize(llm.WithStep(ctx, "customize"), in)
		if att != nil {
			p.llmReport(report).Attempts = append(p.llmReport(report).Attempts, att)
		}
		if err != nil {
			return llm.BuildError(err)
		}
		rec.Logf("customize: %s", describeAttempt(att))
		return nil
	})
}

func (p *Pipeline) assistInput(w *work, rec kiln.Recorder, step string, attempt int, report *Report) AssistInput {
	var prev []*Attempt
	if report.LLM != nil {
		prev = slices.Clone(report.LLM.Attempts)
	}
	return AssistInput{
		Step: step, Description: w.app.Description, Spec: w.spec, Set: w.set, Dir: w.dir, Files: w.files,
		ModCache: p.cfg.Sandbox.ModCache, Rec: rec, Attempt: attempt, MaxAttempts: p.cfg.LLM.RepairAttempts, Previous: prev,
	}
}

// llmReport returns the report's LLM section, creating it.
func (p *Pipeline) llmReport(report *Report) *LLMReport {
	if report.LLM == nil {
		report.LLM = &LLMReport{Model: p.cfg.LLM.Model, Attempts: []*Attempt{}}
	}
	return report.LLM
}

// describeAttempt says in one line what an attempt did.
func describeAttempt(a *Attempt) string {
	var files []string
	for _, c := range a.Changes {
		files = append(files, fmt.Sprintf("%s %s (+%d -%d)", c.Action, c.Path, c.Added, c.Removed))
	}
	s := a.Outcome
	if len(files) > 0 {
		s += ": " + strings.Join(files, ", ")
	}
	if a.Summary != "" {
		s += " — " + a.Summary
	}
	return s
}

// checkLoop runs the checks; when one fails and a model is configured to
// repair, it asks for a fix, applies it and runs the checks again, until
// they pass or it must stop: the attempts or the token budget are spent,
// the same error comes back, or the model proposes nothing usable.
func (p *Pipeline) checkLoop(ctx context.Context, runner *sandbox.Runner, w *work, rec kiln.Recorder, report *Report) error {
	a := p.assistant()
	maxAttempts := 0
	if a != nil {
		maxAttempts = p.cfg.LLM.RepairAttempts
	}
	defer func() {
		if report.LLM != nil && w.budget != nil {
			report.LLM.Usage = w.budget.Total()
		}
	}()
	var seen []string
	var last *Attempt
	for attempt := 1; ; attempt++ {
		failure, err := p.runChecks(ctx, runner, w.dir, rec, report)
		if err != nil {
			return err
		}
		if failure == nil {
			report.Passed = true
			if last != nil {
				last.Outcome += "; checks passed"
				p.llmReport(report).Stopped = fmt.Sprintf("the checks passed after repair attempt %d", attempt-1)
			}
			return nil
		}
		if last != nil {
			last.Outcome += "; " + failure.Check + " failed"
		}
		stop := func(reason string) error {
			if a == nil || maxAttempts == 0 {
				return kiln.Errorf(kiln.EBuildFailed, "%s", failure.Message)
			}
			p.llmReport(report).Stopped = reason
			rec.Logf("repair stopped: %s", reason)
			return kiln.Errorf(kiln.EBuildFailed, "%s; repair stopped: %s", failure.Message, reason)
		}
		switch {
		case a == nil || maxAttempts == 0:
			return stop("")
		case failure.TimedOut && failure.Check != "test":
			// A slow machine or a huge app, not a bug a model can fix (a
			// test that hangs may be).
			return stop(fmt.Sprintf("%s ran out of time, which no code change can repair", failure.Command))
		case slices.Contains(seen, failure.Signature):
			return stop(fmt.Sprintf("the same %s error came back after repair attempt %d", failure.Check, attempt-1))
		case attempt > maxAttempts:
			return stop(fmt.Sprintf("%d repair attempts used (llm.repair_attempts)", maxAttempts))
		}
		seen = append(seen, failure.Signature)
		step := fmt.Sprintf("repair %d", attempt)
		var att *Attempt
		err = rec.Step(ctx, step, kiln.BuildRepairing, func(ctx context.Context) error {
			in := p.assistInput(w, rec, step, attempt, report)
			var err error
			att, err = a.Repair(llm.WithStep(ctx, step), in, *failure)
			if att != nil {
				att.Check, att.Error = failure.Check, firstLines(failure.Output, 12, 1500)
				p.llmReport(report).Attempts = append(p.llmReport(report).Attempts, att)
				rec.Logf("%s: %s", step, describeAttempt(att))
			}
			return err
		})
		var le *llm.Error
		switch {
		case errors.As(err, &le):
			return stop(fmt.Sprintf("repair attempt %d could not ask the model: %s", attempt, le.Message))
		case err != nil:
			return err
		case len(att.Changes) == 0:
			return stop(fmt.Sprintf("repair attempt %d changed nothing (%s)", attempt, att.Outcome))
		}
		last = att
		if slices.ContainsFunc(att.Changes, func(c edit.Change) bool { return c.Path == "go.mod" }) {
			err := rec.Step(ctx, "tidy modules", kiln.BuildValidating, func(ctx context.Context) error {
				return p.tidy(ctx, w, rec)
			})
			if err != nil {
				return err
			}
		}
	}
}

// runChecks runs every check in order and returns the first failure, nil
// when all pass, or an error when a check could not run.
func (p *Pipeline) runChecks(ctx context.Context, runner *sandbox.Runner, dir string, rec kiln.Recorder, report *Report) (*Failure, error) {
	for _, c := range checks {
		var failure *Failure
		err := rec.Step(ctx, c.name, kiln.BuildValidating, func(ctx context.Context) error {
			var err error
			failure, err = p.runCheck(ctx, runner, dir, c, rec, report)
			if err != nil {
				return err
			}
			if failure != nil {
				return kiln.Errorf(kiln.EBuildFailed, "%s", failure.Message)
			}
			return nil
		})
		if failure != nil {
			return failure, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// runCheck runs one check in the sandbox and returns its failure, if any.
func (p *Pipeline) runCheck(ctx context.Context, runner *sandbox.Runner, dir string, c check, rec kiln.Recorder, report *Report) (*Failure, error) {
	stdout, stderr := rec.Writer(kiln.StreamStdout), rec.Writer(kiln.StreamStderr)
	out := &headTail{}
	var gofmtOut bytes.Buffer
	so := io.MultiWriter(stdout, out)
	if c.emptyOutput {
		so = io.MultiWriter(so, &gofmtOut)
	}
	res, err := runner.Run(ctx, dir, so, io.MultiWriter(stderr, out), c.args[0], c.args[1:]...)
	stdout.Close()
	stderr.Close()
	cr := CheckResult{Name: c.name, Command: strings.Join(c.args, " "), ExitCode: res.ExitCode, DurationMS: res.Duration.Milliseconds(), TimedOut: res.TimedOut, Truncated: res.Truncated}
	defer func() { report.Checks = append(report.Checks, cr) }()
	var msg string
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("run %s: %w", c.name, err)
	case res.TimedOut:
		msg = fmt.Sprintf("%s timed out after %s", cr.Command, res.Duration.Round(time.Second))
	case res.ExitCode != 0:
		msg = fmt.Sprintf("%s failed (exit status %d)", cr.Command, res.ExitCode)
	case c.emptyOutput && gofmtOut.Len() > 0:
		msg = fmt.Sprintf("%s: files are not gofmt-formatted: %s", cr.Command, strings.Join(strings.Fields(gofmtOut.String()), ", "))
	default:
		cr.Passed = true
		return nil, nil
	}
	output := trimOutput(c.name, out.String())
	return &Failure{Check: c.name, Command: cr.Command, Message: msg, Output: output, Signature: signature(c.name, output), TimedOut: res.TimedOut}, nil
}

// tidy brings go.sum in line with a go.mod a repair changed, from the
// module cache only (GOPROXY=off): `go mod tidy` reads the app's imports
// and runs none of its code.
func (p *Pipeline) tidy(ctx context.Context, w *work, rec kiln.Recorder) error {
	goBin := "go"
	if root := p.cfg.Sandbox.GOROOT; root != "" {
		goBin = filepath.Join(root, "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, "mod", "tidy")
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local", "GOWORK=off")
	if mc := p.cfg.Sandbox.ModCache; mc != "" {
		cmd.Env = append(cmd.Env, "GOMODCACHE="+mc)
	}
	stderr := rec.Writer(kiln.StreamStderr)
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return kiln.Errorf(kiln.EBuildFailed, "go mod tidy failed after the model changed go.mod: %v", err)
	}
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(w.dir, name))
		if errors.Is(err, os.ErrNotExist) {
			delete(w.files, name)
			continue
		} else if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		w.files[name] = b
	}
	return nil
}

// headTail keeps the first and the last bytes written to it.
type headTail struct {
	head, tail []byte
	dropped    int
}

const (
	keepHead = 16 << 10
	keepTail = 48 << 10
)

func (h *headTail) Write(p []byte) (int, error) {
	n := len(p)
	if room := keepHead - len(h.head); room > 0 {
		k := min(room, len(p))
		h.head = append(h.head, p[:k]...)
		p = p[k:]
	}
	h.tail = append(h.tail, p...)
	if over := len(h.tail) - keepTail; over > 0 {
		h.dropped += over
		h.tail = h.tail[over:]
	}
	return n, nil
}

func (h *headTail) String() string {
	if h.dropped == 0 {
		return string(h.head) + string(h.tail)
	}
	return fmt.Sprintf("%s\n[… %d bytes cut …]\n%s", h.head, h.dropped, h.tail)
}

// maxFailureOutput bounds the check output sent to the model.
const maxFailureOutput = 8 << 10

// trimOutput keeps what helps a fix: for go test the failures (passing
// packages and test chatter dropped), then at most maxFailureOutput bytes,
// cut in the middle.
func trimOutput(check, out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var keep []string
	for _, l := range lines {
		if check == "test" && (strings.HasPrefix(l, "ok  \t") || strings.HasPrefix(l, "?   \t") || strings.HasPrefix(l, "=== RUN") || strings.HasPrefix(l, "=== PAUSE") || strings.HasPrefix(l, "=== CONT")) {
			continue
		}
		keep = append(keep, l)
	}
	s := strings.Join(keep, "\n")
	if len(s) <= maxFailureOutput {
		return s
	}
	half := maxFailureOutput / 2
	return s[:half] + fmt.Sprintf("\n[… %d bytes cut …]\n", len(s)-2*half) + s[len(s)-half:]
}

var (
	lineColRE  = regexp.MustCompile(`\.go:\d+(:\d+)?`)
	durationRE = regexp.MustCompile(`\b\d+(\.\d+)?(ms|s|µs)\b`)
	hexAddrRE  = regexp.MustCompile(`0x[0-9a-f]+`)
	tmpPathRE  = regexp.MustCompile(`/tmp/[^\s:]+`)
)

// signature identifies a failure regardless of line numbers, timings,
// addresses and temporary paths, so that an error that moved a few lines
// down still counts as the same error.
func signature(check, output string) string {
	s := lineColRE.ReplaceAllString(output, ".go:N")
	s = durationRE.ReplaceAllString(s, "T")
	s = hexAddrRE.ReplaceAllString(s, "0x")
	s = tmpPathRE.ReplaceAllString(s, "/tmp/X")
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	sum := sha256.Sum256([]byte(check + "\n" + strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:8])
}

// firstLines returns at most n lines and max bytes of s.
func firstLines(s string, n, max int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	s = strings.Join(lines, "\n")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
