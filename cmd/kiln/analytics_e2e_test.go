package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/render"
	"github.com/kiln-build/kiln/templates"
)

// TestGeneratedAppAnalytics generates an app from the go-api templates,
// builds it, runs it with analytics on against a real Main, sends it CRUD
// traffic, stops it, and checks that the app's summary counts exactly the
// requests made, by route, method and status.
func TestGeneratedAppAnalytics(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a generated app; skipped with -short")
	}
	ctx := context.Background()
	m := MustMain(t, "", t.TempDir(), []string{"api"}, nil)
	alice := MustUser(t, m, "alice@example.com")
	app, _, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks"})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := alice.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{Name: "e2e"})
	if err != nil {
		t.Fatal(err)
	}

	// Generate and build the app.
	spec := &kiln.AppSpec{KilnSpec: kiln.SpecVersion, Name: "todo", Entities: []kiln.Entity{{Name: "task", Plural: "tasks",
		Fields: []kiln.Field{{Name: "title", Type: kiln.FieldString, Required: true}, {Name: "done", Type: kiln.FieldBoolean}}}}}
	set, err := templates.Embedded("go-api")
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Render(set, spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "todo")
	if err := render.WriteDir(files, dir); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "todo-app")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the generated app: %v\n%s", err, out)
	}

	// Run it with analytics on.
	start := time.Now().UTC()
	appCmd := exec.Command(bin)
	appCmd.Env = append(os.Environ(), "PORT=0", "DB_PATH="+filepath.Join(t.TempDir(), "todo.db"),
		"KILN_INGEST_URL="+m.URL()+"/v1/ingest", "KILN_APP_KEY="+key)
	stderr, err := appCmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := appCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer appCmd.Process.Kill() //nolint:errcheck // stopped with SIGTERM on the normal path
	var appLog syncBuffer
	addr := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&appLog, sc.Text())
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		exited <- appCmd.Wait()
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://127.0.0.1:" + a[strings.LastIndexByte(a, ':')+1:]
	case <-time.After(60 * time.Second):
		t.Fatalf("the app did not start:\n%s", appLog.String())
	}
	if !strings.Contains(appLog.String(), `"msg":"analytics on"`) {
		t.Fatalf("the app does not say analytics is on:\n%s", appLog.String())
	}

	// CRUD traffic, tallied by route pattern, method and status.
	routes, methods, statuses := map[string]int64{}, map[string]int64{}, map[string]int64{}
	requests := 0
	call := func(method, path, route, body string, want int) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", method, path, res.StatusCode, want)
		}
		requests++
		routes[route]++
		methods[method]++
		statuses[fmt.Sprint(want)]++
	}
	for i := range 3 {
		call("POST", "/api/tasks", "POST /api/tasks", fmt.Sprintf(`{"title":"task %d"}`, i), http.StatusCreated)
	}
	call("POST", "/api/tasks", "POST /api/tasks", `{"done":true}`, http.StatusUnprocessableEntity)
	call("GET", "/api/tasks", "GET /api/tasks", "", http.StatusOK)
	call("GET", "/api/tasks/1", "GET /api/tasks/{id}", "", http.StatusOK)
	call("GET", "/api/tasks/999", "GET /api/tasks/{id}", "", http.StatusNotFound)
	call("PUT", "/api/tasks/1", "PUT /api/tasks/{id}", `{"title":"renamed","done":true}`, http.StatusOK)
	call("DELETE", "/api/tasks/2", "DELETE /api/tasks/{id}", "", http.StatusNoContent)
	call("GET", "/healthz", "GET /healthz", "", http.StatusOK)
	call("GET", "/", "/", "", http.StatusOK)

	// A graceful stop sends what is still queued.
	if err := appCmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the app exited with %v:\n%s", err, appLog.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the app did not stop:\n%s", appLog.String())
	}

	sum, err := alice.AnalyticsSummary(ctx, app.ID, kiln.SummaryQuery{
		From: start.Add(-time.Minute), To: time.Now().Add(time.Minute), Interval: kiln.IntervalMinute, Event: "request",
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Totals.Count != int64(requests) || sum.Totals.Values != int64(requests) {
		t.Fatalf("summary counts %d requests (%d with a duration), %d were made\napp log:\n%s", sum.Totals.Count, sum.Totals.Values, requests, appLog.String())
	}
	for _, p := range sum.TopProperties {
		want := map[string]map[string]int64{"route": routes, "method": methods, "status": statuses}[p.Key]
		got := map[string]int64{}
		for _, v := range p.Values {
			got[v.Value] = v.Count
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || p.Other != 0 {
			t.Errorf("property %s: summary %v, requests made %v", p.Key, got, want)
		}
	}
	if len(sum.TopProperties) != 3 {
		t.Errorf("properties %+v, want route, method and status", sum.TopProperties)
	}
	if len(sum.TopEvents) != 1 || sum.TopEvents[0].Count != int64(requests) {
		t.Errorf("top events %+v", sum.TopEvents)
	}
}
