// Package codegen is Kiln's generation pipeline: plan a description into an
// AppSpec, render the template set, check the generated app in the sandbox
// and package what passed. It implements kiln.Pipeline for the build worker
// and runs standalone for `kiln generate`.
package codegen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"strings"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/sandbox"
	"github.com/kiln-build/kiln/templates"
)

// Planner turns a description into an AppSpec.
type Planner interface {
	Plan(ctx context.Context, description string) (*kiln.AppSpec, error)
}

// Config configures a Pipeline.
type Config struct {
	// WorkDir holds one folder per build run (DATA_DIR/work).
	WorkDir string
	// CacheDir holds the per-owner Go build caches (DATA_DIR/cache).
	CacheDir string
	// Sandbox is the base sandbox configuration; the pipeline sets the
	// build cache per owner.
	Sandbox sandbox.Config
	// TemplateSet names the set to render (default go-api); TemplatesDir,
	// when set, is a folder whose sets override the embedded ones.
	TemplateSet  string
	TemplatesDir string
	Planner      Planner
	// LLM, when set, meters model calls against token budgets (see llm.go).
	LLM *LLM
	// Packager packages a checked app; nil skips packaging.
	Packager Packager
	// Validate runs the checks; false renders only (kiln generate --no-validate).
	Validate bool
	// KeepWork keeps a build's work folder after it ends.
	KeepWork bool
	// AppDir, when set, is the folder the app is written to and checked in
	// (kiln generate --out); it is kept. When empty, each run uses a fresh
	// folder under WorkDir.
	AppDir string
	Logger *slog.Logger
}

// Packager turns a checked app folder into artifacts.
type Packager interface {
	Package(ctx context.Context, in PackageInput, rec kiln.Recorder) error
}

// PackageInput is what a Packager gets.
type PackageInput struct {
	Build  *kiln.Build
	App    *kiln.App
	Spec   *kiln.AppSpec
	Dir    string
	Files  render.Files
	Set    *templates.Set
	Report *Report
	// ReportJSON is the validation report as stored; nil without checks.
	ReportJSON []byte
	// Runner is the sandbox the checks ran in (with the owner's build
	// cache); nil when the pipeline ran without checks.
	Runner *sandbox.Runner
	// Planner names what made the spec ("rules", "llm", or "spec" when
	// the build used the app's spec as it was); Model is the language
	// model that took part, if any.
	Planner string
	Model   string
}

// Pipeline implements kiln.Pipeline.
type Pipeline struct {
	cfg  Config
	warm *warmState
	goVersionCache
}

// New returns a Pipeline; it checks that the template set exists and, when
// it comes from a folder, that its templates parse and render.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TemplateSet == "" {
		cfg.TemplateSet = templates.DefaultSet
	}
	if cfg.Planner == nil {
		return nil, errors.New("codegen: no planner")
	}
	p := &Pipeline{cfg: cfg, warm: newWarmState()}
	set, err := p.templateSet()
	if err != nil {
		return nil, err
	}
	if set.Source != "embedded" {
		// A set from a folder fails here, naming the bad file and line,
		// rather than in every build.
		if err := render.Check(set); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Pipeline) templateSet() (*templates.Set, error) {
	return templates.Resolve(p.cfg.TemplatesDir, p.cfg.TemplateSet)
}

// Run plans (unless the build carries a spec), renders, validates and
// packages one build.
func (p *Pipeline) Run(ctx context.Context, b *kiln.Build, app *kiln.App, rec kiln.Recorder) error {
	ctx, budget := p.withBudget(ctx, b, rec)
	set, err := p.templateSet()
	if err != nil {
		return err
	}
	spec := b.Spec
	planner := "spec"
	if spec == nil {
		planner = p.plannerName()
	}
	err = rec.Step(ctx, "plan", kiln.BuildPlanning, func(ctx context.Context) error {
		if spec != nil {
			rec.Logf("using the app's spec %q (%d entities)", spec.Name, len(spec.Entities))
		} else {
			planned, err := p.plan(ctx, set, app.Description)
			if err != nil {
				return err
			}
			spec = planned
		}
		if err := spec.Validate(); err != nil {
			return err
		}
		for _, e := range spec.Entities {
			names := make([]string, len(e.Fields))
			for i, f := range e.Fields {
				names[i] = f.Name + ":" + string(f.Type)
			}
			rec.Logf("entity %s (%s)", e.Name, strings.Join(names, ", "))
		}
		return rec.SetSpec(ctx, spec)
	})
	if err != nil {
		return err
	}

	if cr, ok := rec.(CacheRecorder); ok {
		key, err := p.cacheKey(set, spec, app)
		if err != nil {
			return err
		}
		if done, err := p.reuse(ctx, b, key, cr, rec); err != nil || done {
			return err
		}
	}

	dir := p.cfg.AppDir
	if dir == "" {
		dir = filepath.Join(p.cfg.WorkDir, fmt.Sprintf("build-%d-%d", b.ID, b.Attempt), "app")
		if !p.cfg.KeepWork {
			defer os.RemoveAll(filepath.Dir(dir))
		}
	}
	var files render.Files
	err = rec.Step(ctx, "render", kiln.BuildGenerating, func(ctx context.Context) error {
		var err error
		if files, err = render.Render(set, spec); err != nil {
			return err
		}
		if p.cfg.AppDir == "" {
			if err := os.RemoveAll(filepath.Dir(dir)); err != nil {
				return fmt.Errorf("clean work dir: %w", err)
			}
		}
		if err := render.WriteDir(files, dir); err != nil {
			return fmt.Errorf("write app: %w", err)
		}
		rec.Logf("rendered %d files with template set %s %s", len(files), set.Name, set.Version)
		return nil
	})
	if err != nil {
		return err
	}

	report := &Report{Spec: spec.Hash(), TemplateSet: set.Name, TemplateVersion: set.Version, Go: p.toolchainVersion()}
	w := &work{build: b, app: app, spec: spec, set: set, dir: dir, files: files, budget: budget}
	if err := p.customize(ctx, w, rec, report); err != nil {
		return err
	}
	if p.cfg.Validate {
		if err := p.validate(ctx, w, rec, report); err != nil {
			return err
		}
	}
	if p.cfg.Packager != nil {
		return rec.Step(ctx, "package", kiln.BuildPackaging, func(ctx context.Context) error {
			return p.cfg.Packager.Package(ctx, PackageInput{
				Build: b, App: app, Spec: spec, Dir: dir, Files: files, Set: set,
				Report: report, ReportJSON: w.reportJSON, Runner: w.runner,
				Planner: planner, Model: p.modelName(planner, report),
			}, rec)
		})
	}
	return nil
}

// plannerName names the configured planner for the provenance record.
func (p *Pipeline) plannerName() string {
	if n, ok := p.cfg.Planner.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", p.cfg.Planner)
}

// modelName returns the model that took part in the build: it planned
// the spec, or customized or repaired the code. "" when none did.
func (p *Pipeline) modelName(planner string, report *Report) string {
	if p.cfg.LLM == nil {
		return ""
	}
	if planner == "llm" || report.LLM != nil {
		return p.cfg.LLM.Model
	}
	return ""
}

// Report is the structured outcome of the checks, stored as an artifact.
type Report struct {
	Spec            string        `json:"spec_sha256"`
	TemplateSet     string        `json:"template_set"`
	TemplateVersion string        `json:"template_version"`
	Go              string        `json:"go"`
	Sandboxed       bool          `json:"sandboxed"`
	Checks          []CheckResult `json:"checks"`
	Passed          bool          `json:"passed"`
	// LLM lists what the model changed (customize, repairs) and why the
	// repairs stopped; absent without a model.
	LLM *LLMReport `json:"llm,omitempty"`
}

// CheckResult is one check's outcome.
type CheckResult struct {
	Name       string `json:"name"`
	Command    string `json:"command"`
	ExitCode   int    `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
	TimedOut   bool   `json:"timed_out,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
	Passed     bool   `json:"passed"`
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ") // a Report always encodes
	return append(b, '\n')
}

// check is one validation command.
type check struct {
	name string
	args []string
	// emptyOutput means success requires no output (gofmt -l).
	emptyOutput bool
}

var checks = []check{
	{name: "gofmt", args: []string{"gofmt", "-l", "."}, emptyOutput: true},
	{name: "vet", args: []string{"go", "vet", "./..."}},
	{name: "build", args: []string{"go", "build", "./..."}},
	{name: "test", args: []string{"go", "test", "-count=1", "./..."}},
}

// validate downloads the app's modules outside the sandbox (running no
// generated code), then runs each check inside it.
func (p *Pipeline) validate(ctx context.Context, w *work, rec kiln.Recorder, report *Report) error {
	b, dir := w.build, w.dir
	scfg := p.cfg.Sandbox
	scfg.BuildCache = p.ownerCache(ctx, b.OwnerID, rec)
	runner, err := sandbox.New(scfg)
	if err != nil {
		return kiln.Errorf(kiln.EUnavailable, "sandbox: %v", err)
	}
	w.runner = runner
	report.Sandboxed = runner.Sandboxed()
	if !runner.Sandboxed() {
		rec.Logf("WARNING: bubblewrap is not available: the generated code runs UNSANDBOXED (set sandbox: required to refuse)")
	}
	err = rec.Step(ctx, "download modules", kiln.BuildValidating, func(ctx context.Context) error {
		return p.download(ctx, dir, scfg.ModCache, rec)
	})
	if err != nil {
		return err
	}
	defer func() {
		js := report.JSON()
		if _, err := rec.AddArtifact(context.WithoutCancel(ctx), kiln.ArtifactReport, reportName, bytes.NewReader(js)); err != nil {
			if ctx.Err() == nil {
				rec.Logf("could not store the validation report: %v", err)
			}
			return
		}
		w.reportJSON = js
	}()
	return p.checkLoop(ctx, runner, w, rec, report)
}

// download fetches the app's modules into the module cache with the
// trusted toolchain. It runs `go mod download`, which executes no code
// from the app.
func (p *Pipeline) download(ctx context.Context, dir, modCache string, rec kiln.Recorder) error {
	goBin := "go"
	if root := p.cfg.Sandbox.GOROOT; root != "" {
		goBin = filepath.Join(root, "bin", "go")
	}
	cmd := exec.CommandContext(ctx, goBin, "mod", "download")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local", "GOWORK=off")
	if modCache != "" {
		cmd.Env = append(cmd.Env, "GOMODCACHE="+modCache)
	}
	stdout, stderr := rec.Writer(kiln.StreamStdout), rec.Writer(kiln.StreamStderr)
	defer stdout.Close()
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return kiln.Errorf(kiln.EBuildFailed, "go mod download failed (exit status %d): the app's dependencies could not be fetched", ee.ExitCode())
		}
		return fmt.Errorf("go mod download: %w", err)
	}
	return nil
}
