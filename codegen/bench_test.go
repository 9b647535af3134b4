package codegen_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/codegen/plan"
	"github.com/kiln-build/kiln/sandbox"
)

// benchDescription plans to a three-entity app.
const benchDescription = "a library with books (title, author, year), members (name, email) and loans (book, member, due date)"

// goEnv returns `go env` values.
func goEnv(tb testing.TB, names ...string) []string {
	tb.Helper()
	out, err := exec.Command("go", append([]string{"env"}, names...)...).Output()
	if err != nil {
		tb.Skipf("go env: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// benchPipeline returns a pipeline that checks the app in dir with the
// sandbox and its own caches under cache (no packaging: the baseline
// packages nothing either).
func benchPipeline(tb testing.TB, dir, cache string) *codegen.Pipeline {
	tb.Helper()
	env := goEnv(tb, "GOROOT", "GOMODCACHE")
	p, err := codegen.New(codegen.Config{
		WorkDir: filepath.Join(cache, "work"), CacheDir: cache, AppDir: dir,
		// A cold cache on a busy machine can take minutes per check.
		Sandbox:  sandbox.Config{Mode: sandbox.ModeAuto, GOROOT: env[0], ModCache: env[1], Timeout: 30 * time.Minute},
		Planner:  plan.Rules{},
		Validate: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// runBuild runs the pipeline for one build of the bench app and fails
// unless it passes.
func runBuild(tb testing.TB, p *codegen.Pipeline, spec *kiln.AppSpec) {
	tb.Helper()
	rec := newMemRecorder()
	b := &kiln.Build{ID: 1, OwnerID: 1, Number: 1, Attempt: 1, Spec: spec}
	if err := p.Run(context.Background(), b, &kiln.App{ID: 1, Name: "library", Description: benchDescription}, rec); err != nil {
		tb.Fatalf("build: %v\n%s", err, rec.log.String())
	}
}

// runDirect runs the checks a developer would run on the tree, with the
// same module settings as the sandbox and the developer's build cache.
func runDirect(tb testing.TB, dir string) {
	tb.Helper()
	for _, args := range [][]string{{"vet", "./..."}, {"build", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOWORK=off",
			"GOTOOLCHAIN=local", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkBuildOverhead compares, side by side in interleaved rounds, a
// build of a three-entity app through the pipeline (render from the spec,
// `go mod download`, then gofmt, vet, build and test in the sandbox) with
// `go vet ./... && go build ./... && go test -count=1 ./...` run directly
// on the same tree, both with modules downloaded and build caches warm.
// It reports the medians and the median of the per-round ratios (the
// issue's target: at most 1.2). One round per b.N; run with
// -benchtime=5x or more.
func BenchmarkBuildOverhead(b *testing.B) {
	if _, err := exec.LookPath("go"); err != nil {
		b.Skip("go is not installed")
	}
	spec, err := plan.Rules{}.Plan(context.Background(), benchDescription)
	if err != nil {
		b.Fatal(err)
	}
	if len(spec.Entities) != 3 {
		b.Fatalf("the bench app has %d entities, want 3", len(spec.Entities))
	}
	root := b.TempDir()
	dir := filepath.Join(root, "app")
	// The pipeline's caches live on between runs (the first run fills
	// them), like a server's data dir does.
	cache := filepath.Join(os.TempDir(), "kiln-bench-cache")
	p := benchPipeline(b, dir, cache)
	// Warm both: modules downloaded, both build caches filled.
	runBuild(b, p, spec)
	runDirect(b, dir)

	var pipe, base []time.Duration
	var ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate which side goes first, so neither always runs on
		// the heels of the other.
		var tp, td time.Duration
		if i%2 == 0 {
			start := time.Now()
			runBuild(b, p, spec)
			tp = time.Since(start)
			start = time.Now()
			runDirect(b, dir)
			td = time.Since(start)
		} else {
			start := time.Now()
			runDirect(b, dir)
			td = time.Since(start)
			start = time.Now()
			runBuild(b, p, spec)
			tp = time.Since(start)
		}
		pipe, base = append(pipe, tp), append(base, td)
		ratios = append(ratios, float64(tp)/float64(td))
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(float64(median(pipe).Milliseconds()), "pipeline-ms")
	b.ReportMetric(float64(median(base).Milliseconds()), "direct-ms")
	b.ReportMetric(ratios[len(ratios)/2], "pipeline/direct")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkColdFirstBuild measures what a fresh server does first: build
// the seed cache (kiln serve starts it at once), then the first build of
// a new owner, whose build cache starts as a copy of the seed. Modules are
// in the module cache already. Run with -benchtime=1x.
func BenchmarkColdFirstBuild(b *testing.B) {
	if _, err := exec.LookPath("go"); err != nil {
		b.Skip("go is not installed")
	}
	spec, err := plan.Rules{}.Plan(context.Background(), benchDescription)
	if err != nil {
		b.Fatal(err)
	}
	var warm, first []time.Duration
	for i := 0; i < b.N; i++ {
		root := b.TempDir()
		p := benchPipeline(b, filepath.Join(root, "app"), filepath.Join(root, "cache"))
		start := time.Now()
		if err := p.Warm(context.Background()); err != nil {
			b.Fatal(err)
		}
		warm = append(warm, time.Since(start))
		start = time.Now()
		runBuild(b, p, spec)
		first = append(first, time.Since(start))
	}
	b.ReportMetric(median(warm).Seconds(), "seed-s")
	b.ReportMetric(median(first).Seconds(), "first-build-s")
	b.ReportMetric(0, "ns/op")
}
