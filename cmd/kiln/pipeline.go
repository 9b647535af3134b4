package main

import (
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/sandbox"
)

// newPipeline builds the standard generation pipeline from the settings.
// usage stores language-model calls.
func newPipeline(cfg config.Config, log *slog.Logger, usage kiln.UsageStore) (kiln.Pipeline, error) {
	scfg, err := sandboxConfig(cfg)
	if err != nil {
		return nil, err
	}
	planner, steps, err := llmSetup(cfg, log, usage, filepath.Join(cfg.DataDir, "cache", "llm"))
	if err != nil {
		return nil, err
	}
	return codegen.New(codegen.Config{
		WorkDir:      filepath.Join(cfg.DataDir, "work"),
		CacheDir:     filepath.Join(cfg.DataDir, "cache"),
		Sandbox:      scfg,
		TemplatesDir: cfg.Templates,
		Planner:      planner,
		LLM:          steps,
		Packager:     codegen.SourcePackager{BaseURL: cfg.PublicURL()},
		Validate:     true,
		Logger:       log,
	})
}

// sandboxConfig finds the toolchain and module cache the checks use.
func sandboxConfig(cfg config.Config) (sandbox.Config, error) {
	out, err := exec.Command("go", "env", "GOROOT", "GOMODCACHE").Output()
	if err != nil {
		return sandbox.Config{}, fmt.Errorf("find the Go toolchain (generated apps are checked with it): %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return sandbox.Config{}, fmt.Errorf("unexpected go env output %q", out)
	}
	return sandbox.Config{Mode: sandbox.Mode(cfg.Sandbox), GOROOT: lines[0], ModCache: lines[1]}, nil
}
