package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/codegen"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/llm/llmtest"
	"github.com/kiln-build/kiln/pack"
	"github.com/kiln-build/kiln/worker"
)

// e2eKey is the API key the end-to-end tests configure; it must never
// show up anywhere but the Authorization header.
const e2eKey = "sk-e2e-DO-NOT-LEAK-7f3a9c"

// scripts routes a fake model's replies by a marker in the first message
// (the description is part of every prompt), so one server can serve the
// builds of several apps.
type scripts struct {
	mu sync.Mutex
	by map[string][]llmtest.Reply
}

func (s *scripts) add(marker string, replies ...llmtest.Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[string][]llmtest.Reply{}
	}
	s.by[marker] = append(s.by[marker], replies...)
}

func (s *scripts) respond(r llmtest.Request) llmtest.Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := ""
	if len(r.Messages) > 0 {
		first = r.Messages[0].Content
	}
	for marker, replies := range s.by {
		if !strings.Contains(first, marker) {
			continue
		}
		if len(replies) == 0 {
			return llmtest.Reply{Status: 500, Error: &llmtest.APIError{Message: "script for " + marker + " is used up"}}
		}
		s.by[marker] = replies[1:]
		return replies[0]
	}
	return llmtest.Reply{Status: 500, Error: &llmtest.APIError{Message: "no script for this prompt"}}
}

// MustLLMMain runs a Main (api and worker, SQLite) whose LLM is srv, with
// the key e2eKey; tweak adjusts the settings.
func MustLLMMain(tb testing.TB, srv *llmtest.Server, tweak func(*config.Config)) (*Main, *syncBuffer) {
	tb.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = tb.TempDir()
	cfg.Dev = true
	cfg.Log.Level = "debug"
	cfg.Log.Format = "text"
	cfg.LLM.BaseURL = srv.BaseURL()
	cfg.LLM.APIKey = e2eKey
	cfg.LLM.Model = "gpt-e2e"
	cfg.LLM.Prices = []string{"gpt-e2e=2/8"}
	cfg.Planner = "auto"
	cfg.Build.WarmCache = false // the first owner's cache is the machine's (shareGoBuildCache)
	if tweak != nil {
		tweak(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	srv.RequireKey(e2eKey)
	shareGoBuildCache(tb, cfg.DataDir)
	logs := &syncBuffer{}
	m := NewMain(cfg, logs)
	m.WorkerTuning = func(c *worker.Config) { c.Heartbeat = 200 * time.Millisecond }
	if err := m.Run(context.Background()); err != nil {
		tb.Fatalf("run: %v\n%s", err, logs.String())
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
		if tb.Failed() {
			tb.Logf("server log:\n%s", logs.String())
		}
	})
	return m, logs
}

// waitBuild waits for the build to end and returns it with its log.
func waitBuild(tb testing.TB, c *client.Client, id int64, d time.Duration) (*client.BuildDetail, string) {
	tb.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(d)
	for {
		got, err := c.GetBuildDetail(ctx, id)
		if err != nil {
			tb.Fatal(err)
		}
		if got.Build.Status.Terminal() || time.Now().After(deadline) {
			var log strings.Builder
			var after int64
			for {
				page, err := c.Logs(ctx, id, after, 5000)
				if err != nil {
					tb.Fatal(err)
				}
				for _, l := range page.Items {
					log.WriteString(l.Text + "\n")
				}
				if len(page.Items) == 0 {
					break
				}
				after = page.NextAfter
			}
			if !got.Build.Status.Terminal() {
				tb.Fatalf("build %d still %s after %s; log:\n%s", id, got.Build.Status, d, log.String())
			}
			return got, log.String()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireNoKey fails when the key is anywhere a user or operator could
// see it: the build (its JSON), its log, the server log, every artifact
// (archives unpacked) and the database files.
func requireNoKey(tb testing.TB, m *Main, logs *syncBuffer, c *client.Client, d *client.BuildDetail, buildLog string) {
	tb.Helper()
	ctx := context.Background()
	check := func(where string, b []byte) {
		tb.Helper()
		if bytes.Contains(b, []byte(e2eKey)) {
			tb.Errorf("the API key leaks into %s", where)
		}
	}
	check("the build log", []byte(buildLog))
	check("the server log", []byte(logs.String()))
	check("the build", []byte(d.Build.Error+d.Build.Step))
	arts, err := c.ListArtifacts(ctx, d.Build.ID)
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range arts {
		var buf bytes.Buffer
		if _, err := c.DownloadArtifact(ctx, a.ID, &buf); err != nil {
			tb.Fatal(err)
		}
		check("artifact "+a.Name, buf.Bytes())
		forEachUnpacked(tb, a.Name, buf.Bytes(), check)
	}
	err = filepath.WalkDir(m.Config.DataDir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || strings.Contains(p, filepath.Join("cache", "go-build")) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		check(p, b)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// forEachUnpacked calls fn with every file inside an archive artifact
// (.tar.gz, .zip, and the OCI archive with its gzip-compressed layers),
// recursively, so a check sees the content and not the compressed bytes.
func forEachUnpacked(tb testing.TB, name string, b []byte, fn func(where string, b []byte)) {
	tb.Helper()
	readTar := func(r io.Reader) {
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return
			} else if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			body, err := io.ReadAll(tr)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			fn(name+"/"+h.Name, body)
			forEachUnpacked(tb, name+"/"+h.Name, body, fn)
		}
	}
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}): // gzip: a .tar.gz or an image layer
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		fn(name+" (gunzipped)", raw)
		if len(raw) > 262 && string(raw[257:262]) == "ustar" {
			readTar(bytes.NewReader(raw))
		}
	case strings.HasSuffix(name, ".tar"):
		readTar(bytes.NewReader(b))
	case strings.HasSuffix(name, ".zip"):
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			body, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			fn(name+"/"+f.Name, body)
		}
	}
}

const todoSpec = `{"kiln_spec": 1, "name": "chores", "summary": "Household chores.",
 "entities": [{"name": "chore", "plural": "chores", "fields": [
   {"name": "title", "type": "string", "required": true},
   {"name": "points", "type": "integer", "default": 1},
   {"name": "done", "type": "boolean"}]}]}`

// TestLLMBuildStops runs builds that the model side must stop at once,
// with a reason a user can act on and nothing compiled.
func TestLLMBuildStops(t *testing.T) {
	t.Parallel()
	srv := llmtest.New(t)
	sc := &scripts{}
	srv.Respond = sc.respond
	m, logs := MustLLMMain(t, srv, func(c *config.Config) { c.LLM.MaxTokensPerBuild = 1000 })
	alice := MustUser(t, m, "alice@example.com")
	ctx := context.Background()

	t.Run("Budget", func(t *testing.T) {
		sc.add("[budget]", llmtest.Reply{Content: `{"kiln_spec": 2}`, Usage: &llmtest.Usage{PromptTokens: 900, CompletionTokens: 150}})
		_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "[budget] household chores"})
		if err != nil {
			t.Fatal(err)
		}
		d, log := waitBuild(t, alice, b.ID, time.Minute)
		if d.Build.Status != kiln.BuildFailed || !strings.Contains(d.Build.Error, "llm token budget exceeded: this build has used 1050 of the 1000 tokens") {
			t.Fatalf("build %s: %q\n%s", d.Build.Status, d.Build.Error, log)
		}
		if u := d.LLMUsage; u == nil || u.Total.TotalTokens != 1050 || len(u.Steps) != 1 || u.Steps[0].Step != "plan" || u.Steps[0].CostUSD == 0 {
			t.Fatalf("usage = %+v", d.LLMUsage)
		}
		if !strings.Contains(log, "llm plan: gpt-e2e used 900 prompt + 150 completion tokens") {
			t.Errorf("the build log does not show the call:\n%s", log)
		}
		requireNoKey(t, m, logs, alice, d, log)
	})
	t.Run("BadKey", func(t *testing.T) {
		srv.RequireKey("sk-another-key")
		defer srv.RequireKey(e2eKey)
		_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "[badkey] household chores"})
		if err != nil {
			t.Fatal(err)
		}
		d, log := waitBuild(t, alice, b.ID, time.Minute)
		if d.Build.Status != kiln.BuildFailed || !strings.Contains(d.Build.Error, "refused the API key (401 Unauthorized); check llm.api_key") {
			t.Fatalf("build %s: %q\n%s", d.Build.Status, d.Build.Error, log)
		}
		if d.Build.Attempt != 1 {
			t.Errorf("a refused key is not an infrastructure failure to retry: attempt %d", d.Build.Attempt)
		}
		requireNoKey(t, m, logs, alice, d, log)
	})
	t.Run("NothingToStore", func(t *testing.T) {
		sc.add("[nothing]", llmtest.Text(`{"error": "The description does not say what to store."}`))
		_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "[nothing] make me rich"})
		if err != nil {
			t.Fatal(err)
		}
		d, log := waitBuild(t, alice, b.ID, time.Minute)
		if d.Build.Status != kiln.BuildFailed || !strings.Contains(d.Build.Error, "The description does not say what to store.") {
			t.Fatalf("build %s: %q\n%s", d.Build.Status, d.Build.Error, log)
		}
	})
}

// brokenRules does not compile: go vet fails on it.
const brokenRules = `SUMMARY: a chore is worth at most 10 points

<<<FILE internal/api/chore_rules.go
package api

// maxPoints is the most points a chore is worth.
const maxPoints int = "10"
FILE>>>
`

// report downloads a build's validation report.
func report(tb testing.TB, c *client.Client, buildID int64) *codegen.Report {
	tb.Helper()
	ctx := context.Background()
	arts, err := c.ListArtifacts(ctx, buildID)
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range arts {
		if a.Kind != kiln.ArtifactReport {
			continue
		}
		var buf bytes.Buffer
		if _, err := c.DownloadArtifact(ctx, a.ID, &buf); err != nil {
			tb.Fatal(err)
		}
		var r codegen.Report
		if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
			tb.Fatal(err)
		}
		return &r
	}
	tb.Fatalf("build %d has no validation report", buildID)
	return nil
}

// TestLLMRepair runs real builds (planned, customized and repaired by a
// scripted model, checked in the sandbox): one whose first edit breaks
// compilation and whose repair fixes it, and one whose model keeps
// returning the same broken code, which must stop early with the reason.
func TestLLMRepair(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles generated apps; skipped with -short")
	}
	srv := llmtest.New(t)
	sc := &scripts{}
	srv.Respond = sc.respond
	m, logs := MustLLMMain(t, srv, nil)
	alice := MustUser(t, m, "alice@example.com")
	ctx := context.Background()

	t.Run("RepairFixes", func(t *testing.T) {
		sc.add("[repair-fixes]",
			llmtest.Text(todoSpec),
			llmtest.Text(brokenRules),
			llmtest.Text("SUMMARY: the limit is a number\n\n<<<EDIT internal/api/chore_rules.go\n<<<<<<< SEARCH\nconst maxPoints int = \"10\"\n=======\nconst maxPoints int = 10\n>>>>>>> REPLACE\nEDIT>>>\n"),
		)
		_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "[repair-fixes] household chores; a chore is worth at most 10 points"})
		if err != nil {
			t.Fatal(err)
		}
		// The first build compiles the app's dependencies into a cold cache.
		d, log := waitBuild(t, alice, b.ID, 12*time.Minute)
		if d.Build.Status != kiln.BuildSucceeded {
			t.Fatalf("build %s: %q\n%s", d.Build.Status, d.Build.Error, log)
		}
		r := report(t, alice, b.ID)
		if r.LLM == nil || len(r.LLM.Attempts) != 2 {
			t.Fatalf("report.llm = %+v", r.LLM)
		}
		cust, rep := r.LLM.Attempts[0], r.LLM.Attempts[1]
		if cust.Step != "customize" || cust.Outcome != "applied" || len(cust.Changes) != 1 || cust.Changes[0].Path != "internal/api/chore_rules.go" || cust.Changes[0].Action != "created" || cust.Summary != "a chore is worth at most 10 points" {
			t.Errorf("customize attempt = %+v", cust)
		}
		if rep.Step != "repair 1" || rep.Check != "vet" || !strings.Contains(rep.Error, `cannot use "10"`) || rep.Outcome != "applied; checks passed" ||
			len(rep.Changes) != 1 || rep.Changes[0].Action != "edited" || rep.Changes[0].Added != 1 || rep.Changes[0].Removed != 1 {
			t.Errorf("repair attempt = %+v", rep)
		}
		if r.LLM.Stopped != "the checks passed after repair attempt 1" || !r.Passed || r.LLM.Usage.Calls != 3 || r.LLM.Model != "gpt-e2e" {
			t.Errorf("report: stopped %q passed %v usage %+v", r.LLM.Stopped, r.Passed, r.LLM.Usage)
		}
		var steps []string
		for _, s := range d.Steps {
			steps = append(steps, s.Name+":"+string(s.Outcome))
		}
		for _, want := range []string{
			"plan:succeeded render:succeeded customize:succeeded ",
			" gofmt:succeeded vet:failed repair 1:succeeded gofmt:succeeded vet:succeeded build:succeeded test:succeeded ",
		} {
			if !strings.Contains(strings.Join(steps, " ")+" ", want) {
				t.Errorf("steps lack %q:\n%s", want, strings.Join(steps, " "))
			}
		}
		if u := d.LLMUsage; u == nil || u.Total.Calls != 3 || len(u.Steps) != 3 || u.Steps[2].Step != "repair 1" {
			t.Errorf("usage = %+v", d.LLMUsage)
		}
		// The repaired file is what the archive holds.
		var tgz bytes.Buffer
		for _, a := range mustArtifacts(t, alice, b.ID) {
			if a.Kind == kiln.ArtifactSourceTarGz {
				if _, err := alice.DownloadArtifact(ctx, a.ID, &tgz); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := tarFile(t, tgz.Bytes(), "chores/internal/api/chore_rules.go"); !strings.Contains(got, "const maxPoints int = 10\n") {
			t.Errorf("packaged chore_rules.go:\n%s", got)
		}
		for _, line := range []string{"customize: applied: created internal/api/chore_rules.go (+4 -0) — a chore is worth at most 10 points", "repair 1: applied: edited internal/api/chore_rules.go (+1 -1) — the limit is a number"} {
			if !strings.Contains(log, line) {
				t.Errorf("the build log lacks %q:\n%s", line, log)
			}
		}
		requireNoKey(t, m, logs, alice, d, log)
		// The provenance names the model that planned, customized and
		// repaired the app; the image was built from the repaired code.
		var kinds []string
		for _, a := range mustArtifacts(t, alice, b.ID) {
			kinds = append(kinds, a.Kind)
			if a.Kind != kiln.ArtifactProvenance {
				continue
			}
			var buf bytes.Buffer
			if _, err := alice.DownloadArtifact(ctx, a.ID, &buf); err != nil {
				t.Fatal(err)
			}
			var prov pack.Provenance
			if err := json.Unmarshal(buf.Bytes(), &prov); err != nil {
				t.Fatal(err)
			}
			if prov.Model != "gpt-e2e" || prov.Planner != "llm" {
				t.Errorf("provenance: %s", buf.Bytes())
			}
		}
		if !slices.Contains(kinds, kiln.ArtifactOCIImage) || !slices.Contains(kinds, kiln.ArtifactProvenance) {
			t.Errorf("artifact kinds %v", kinds)
		}
	})

	t.Run("FailingTestRepaired", func(t *testing.T) {
		wrongLimit := "SUMMARY: a chore is worth at most 10 points\n\n<<<FILE internal/api/chore_rules.go\npackage api\n\n// maxPoints is the most points a chore is worth.\nconst maxPoints = 100\nFILE>>>\n\n" +
			"<<<FILE internal/api/chore_rules_test.go\npackage api\n\nimport \"testing\"\n\nfunc TestMaxPoints(t *testing.T) {\n\tif maxPoints != 10 {\n\t\tt.Fatalf(\"maxPoints = %d, want 10\", maxPoints)\n\t}\n}\nFILE>>>\n"
		fix := "<<<EDIT internal/api/chore_rules.go\n<<<<<<< SEARCH\nconst maxPoints = 100\n=======\nconst maxPoints = 10\n>>>>>>> REPLACE\nEDIT>>>\n"
		sc.add("[failing-test]", llmtest.Text(todoSpec), llmtest.Text(wrongLimit), llmtest.Text(fix))
		_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "[failing-test] household chores; a chore is worth at most 10 points"})
		if err != nil {
			t.Fatal(err)
		}
		d, log := waitBuild(t, alice, b.ID, 8*time.Minute)
		if d.Build.Status != kiln.BuildSucceeded {
			t.Fatalf("build %s: %q\n%s", d.Build.Status, d.Build.Error, log)
		}
		r := report(t, alice, b.ID)
		if len(r.LLM.Attempts) != 2 || r.LLM.Attempts[1].Check != "test" || !strings.Contains(r.LLM.Attempts[1].Error, "maxPoints = 100, want 10") {
			t.Fatalf("attempts = %+v", r.LLM.Attempts)
		}
		// The repair prompt carried the failing test's output and the files
		// involved.
		var prompt string
		for _, req := range srv.Requests() {
			if strings.Contains(req.Last(), "[failing-test]") && strings.Contains(req.Last(), "repair attempt 1") {
				prompt = req.Last()
			}
		}
		for _, want := range []string{"Failed check: go test -count=1 ./...", "chore_rules_test.go", "maxPoints = 100, want 10", "Current content of internal/api/chore_rules.go", "Current content of internal/api/chore_rules_test.go"} {
			if !strings.Contains(prompt, want) {
				t.Errorf("the repair prompt lacks %q", want)
			}
		}
	})

	t.Run("SameErrorStops", func(t *testing.T) {
		again := "<<<EDIT internal/api/chore_rules.go\n<<<<<<< SEARCH\nconst maxPoints int = \"10\"\n=======\nconst maxPoints int = \"10\" // at most\n>>>>>>> REPLACE\nEDIT>>>\n"
		sc.add("[same-error]", llmtest.Text(todoSpec), llmtest.Text(brokenRules), llmtest.Text(again), llmtest.Text(again), llmtest.Text(again))
		_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "[same-error] household chores; a chore is worth at most 10 points"})
		if err != nil {
			t.Fatal(err)
		}
		d, log := waitBuild(t, alice, b.ID, 8*time.Minute)
		want := "go vet ./... failed (exit status 1); repair stopped: the same vet error came back after repair attempt 1"
		if d.Build.Status != kiln.BuildFailed || d.Build.Error != want {
			t.Fatalf("build %s: %q, want %q\n%s", d.Build.Status, d.Build.Error, want, log)
		}
		r := report(t, alice, b.ID)
		if r.Passed || r.LLM == nil || len(r.LLM.Attempts) != 2 || r.LLM.Stopped != "the same vet error came back after repair attempt 1" {
			t.Fatalf("report.llm = %+v", r.LLM)
		}
		if a := r.LLM.Attempts[1]; a.Step != "repair 1" || a.Outcome != "applied; vet failed" || len(a.Changes) != 1 {
			t.Errorf("repair attempt = %+v", a)
		}
		if d.LLMUsage == nil || d.LLMUsage.Total.Calls != 3 {
			t.Errorf("usage = %+v; a stopped loop asks no more", d.LLMUsage)
		}
		if !strings.Contains(log, "repair stopped: the same vet error came back after repair attempt 1") {
			t.Errorf("the build log does not say why repairs stopped:\n%s", log)
		}
		requireNoKey(t, m, logs, alice, d, log)
	})
}

func mustArtifacts(tb testing.TB, c *client.Client, buildID int64) []*kiln.Artifact {
	tb.Helper()
	arts, err := c.ListArtifacts(context.Background(), buildID)
	if err != nil {
		tb.Fatal(err)
	}
	return arts
}

// tarFile returns one file of a .tar.gz.
func tarFile(tb testing.TB, tgz []byte, name string) string {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			tb.Fatalf("%s is not in the archive", name)
		} else if err != nil {
			tb.Fatal(err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return string(b)
		}
	}
}

// shareGoBuildCache points the first user's build cache at this machine's
// Go build cache, which already holds the generated apps' dependencies
// (compiled by codegen/render's tests and earlier runs), so these tests
// spend their time on the repair loop, not on a cold compile of SQLite
// (TestRealPipeline covers the cold first build). The apps built are
// Kiln's templates and the scripted edits: trusted code.
func shareGoBuildCache(tb testing.TB, dataDir string) {
	tb.Helper()
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		tb.Fatalf("go env GOCACHE: %v", err)
	}
	gocache := strings.TrimSpace(string(out))
	if gocache == "" || gocache == "off" {
		return
	}
	dir := filepath.Join(dataDir, "cache", "go-build")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(gocache, filepath.Join(dir, "owner-1")); err != nil {
		tb.Fatal(err)
	}
}
