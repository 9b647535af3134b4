package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/llm/llmtest"
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
	if tweak != nil {
		tweak(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	srv.RequireKey(e2eKey)
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
		if strings.HasSuffix(a.Name, ".tar.gz") {
			zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				tb.Fatal(err)
			}
			tr := tar.NewReader(zr)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				} else if err != nil {
					tb.Fatal(err)
				}
				b, _ := io.ReadAll(tr)
				check(a.Name+"/"+h.Name, b)
			}
		}
	}
	err = filepath.WalkDir(m.Config.DataDir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || strings.Contains(p, string(filepath.Separator)+"cache"+string(filepath.Separator)) {
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
