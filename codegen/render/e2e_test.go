package render_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/codegen/render"
)

// goCmd runs the go tool in dir the way the sandbox does: the module cache
// only (GOPROXY=off), go.mod and go.sum read-only (-mod=readonly).
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestGeneratedApp renders an app that uses every field type and both
// kinds of relation, then checks it the way a build does (go vet, go test
// from the module cache alone) and drives the real server binary over HTTP.
// The first run compiles modernc.org/sqlite, which takes half a minute.
func TestGeneratedApp(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the generated-app build (go vet, go test, server binary): slow; run without -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool on PATH")
	}
	spec := richSpec()
	dir := filepath.Join(t.TempDir(), spec.Name)
	if err := render.WriteDir(MustRender(t, spec), dir); err != nil {
		t.Fatal(err)
	}

	// As in a build, the module download runs first (from the cache when
	// it is warm, else through GOPROXY); it checks go.sum against what it
	// fetches. Everything after it runs with GOPROXY=off.
	t.Run("Download", func(t *testing.T) {
		cmd := exec.Command("go", "mod", "download")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go mod download: %v\n%s", err, out)
		}
	})
	t.Run("Vet", func(t *testing.T) {
		goCmd(t, dir, "vet", "./...")
	})
	// staticcheck runs in builds when it is installed, so the generated
	// code must pass all its checks, unused code included.
	t.Run("Staticcheck", func(t *testing.T) {
		sc, err := exec.LookPath("staticcheck")
		if err != nil {
			t.Skip("staticcheck is not installed")
		}
		cmd := exec.Command(sc, "-checks", "all", "./...")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("staticcheck: %v\n%s", err, out)
		}
	})
	t.Run("Test", func(t *testing.T) {
		out := goCmd(t, dir, "test", "-count=1", "-v", "./...")
		for _, e := range spec.Entities {
			for _, name := range []string{"CRUD", "NotFound", "List", "Invalid", "Search"} {
				test := "--- PASS: Test" + render.Pascal(e.Name) + "_" + name + " "
				if !strings.Contains(out, test) {
					t.Errorf("the generated tests did not pass %s", strings.TrimSpace(test))
				}
			}
		}
		for _, r := range spec.Relations {
			test := "--- PASS: Test" + render.Pascal(r.From) + "_Ref" + render.Pascal(r.Field) + " "
			if !strings.Contains(out, test) {
				t.Errorf("the generated tests did not pass %s", strings.TrimSpace(test))
			}
		}
	})
	// Apps of other shapes compile and pass their tests too: one with no
	// search, and one with a single boolean field and no relation, which
	// leaves most helpers out.
	t.Run("OtherShapes", func(t *testing.T) {
		minimal := &kiln.AppSpec{KilnSpec: kiln.SpecVersion, Name: "todo", Entities: []kiln.Entity{
			{Name: "task", Plural: "tasks", Fields: []kiln.Field{{Name: "done", Type: kiln.FieldBoolean}}},
		}}
		for _, spec := range []*kiln.AppSpec{librarySpec(), minimal} {
			d := filepath.Join(t.TempDir(), spec.Name)
			if err := render.WriteDir(MustRender(t, spec), d); err != nil {
				t.Fatal(err)
			}
			goCmd(t, d, "vet", "./...")
			goCmd(t, d, "test", "-count=1", "./...")
		}
	})
	bin := filepath.Join(t.TempDir(), "app")
	t.Run("Build", func(t *testing.T) {
		goCmd(t, dir, "build", "-o", bin, ".")
	})
	t.Run("Serve", func(t *testing.T) {
		base, stop := startApp(t, bin)
		c := &appClient{t: t, base: base, spec: spec, ids: map[string][]float64{}}
		c.checkBasics()
		for _, e := range spec.Entities {
			t.Run(e.Name, func(t *testing.T) { c.t = t; c.crud(e.Name) })
		}
		c.t = t
		c.checkRelations()
		c.checkHostile()
		c.checkConcurrent()
		if err := stop(); err != nil {
			t.Errorf("server did not shut down cleanly on SIGTERM: %v", err)
		}
	})
	t.Run("UI", func(t *testing.T) {
		base, _ := startApp(t, bin)
		checkUI(t, base)
	})
	// The generated tests must notice a broken validator; this guards
	// against tests that pass whatever the app does.
	t.Run("TestsCatchBugs", func(t *testing.T) {
		p := filepath.Join(dir, "internal", "api", "fields.go")
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		broken := bytes.Replace(src, []byte(`return "", "must be an email address such as ada@example.com"`), []byte(`return s, ""`), 1)
		if bytes.Equal(broken, src) {
			t.Fatal("could not find the email check to break")
		}
		if err := os.WriteFile(p, broken, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("go", "test", "-count=1", "./internal/api")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("the generated tests passed with email validation broken:\n%s", out)
		}
		if !strings.Contains(string(out), "TestCustomer_Invalid") {
			t.Errorf("expected TestCustomer_Invalid to fail:\n%s", out)
		}
	})
}

// startApp starts the server binary on a free port with a fresh database
// and returns its base URL and a function that stops it with SIGTERM and
// returns its exit error.
func startApp(t *testing.T, bin string) (string, func() error) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT=0", "DB_PATH="+filepath.Join(t.TempDir(), "data.db"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			return fmt.Errorf("no exit 20s after SIGTERM")
		}
	}
	t.Cleanup(func() { _ = stop() })
	// The server logs {"msg":"listening","addr":"[::]:PORT"} once it listens.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		return "http://127.0.0.1:" + a[strings.LastIndexByte(a, ':')+1:], stop
	case err := <-done:
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not log that it listens within 30s")
	}
	return "", nil
}

// appClient drives a running generated app over HTTP, knowing nothing of
// its code: only the spec and the contract.
type appClient struct {
	t    *testing.T
	base string
	spec *kiln.AppSpec
	n    int
	ids  map[string][]float64 // created ids by entity
}

func (c *appClient) do(method, path string, body any) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if raw, ok := body.(string); ok {
		rd = strings.NewReader(raw)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var out map[string]any
	if len(b) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatalf("%s %s: bad JSON %q: %v", method, path, b, err)
		}
	}
	return res.StatusCode, res.Header, out
}

func (c *appClient) want(method, path string, body any, status int) map[string]any {
	c.t.Helper()
	got, _, out := c.do(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, status, out)
	}
	return out
}

func (c *appClient) checkBasics() {
	c.t.Helper()
	if out := c.want("GET", "/healthz", nil, 200); out["status"] != "ok" {
		c.t.Errorf("healthz = %v", out)
	}
	res, err := http.Get(c.base + "/")
	if err != nil {
		c.t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "<title>Shop Admin</title>") || !strings.Contains(string(page), `src="app.js"`) {
		c.t.Errorf("GET / = %d:\n%s", res.StatusCode, page)
	}
}

// value returns a valid input for a field and the answer the API must
// give for it (normalized where the contract says so).
func (c *appClient) value(f kiln.Field) (in, out any) {
	c.n++
	n := c.n
	switch f.Type {
	case kiln.FieldText:
		s := fmt.Sprintf("line %d\n<script>alert(1)</script> & more", n)
		return s, s
	case kiln.FieldInteger:
		return n * 1000, float64(n * 1000)
	case kiln.FieldDecimal:
		return fmt.Sprintf("00%d.10", n), fmt.Sprintf("%d.10", n) // exact: trailing zero kept, leading zeros dropped
	case kiln.FieldBoolean:
		return n%2 == 0, n%2 == 0
	case kiln.FieldTimestamp:
		return fmt.Sprintf("2026-03-04T05:06:%02d+02:00", n%60), fmt.Sprintf("2026-03-04T03:06:%02dZ", n%60)
	case kiln.FieldDate:
		s := fmt.Sprintf("2026-03-%02d", n%28+1)
		return s, s
	case kiln.FieldEmail:
		s := fmt.Sprintf("user%d@example.com", n)
		return s, s
	case kiln.FieldURL:
		s := fmt.Sprintf("https://example.com/p?id=%d", n)
		return s, s
	default:
		s := fmt.Sprintf("%s «%d» \"quoted\"", f.Name, n)
		return s, s
	}
}

// body builds a valid record of entity; it creates the required parents.
func (c *appClient) body(entity string) (in, want map[string]any) {
	e := c.spec.Entity(entity)
	in, want = map[string]any{}, map[string]any{}
	for _, f := range e.Fields {
		in[f.Name], want[f.Name] = c.value(f)
	}
	for _, r := range c.spec.Relations {
		if r.From == entity && r.Required {
			id := c.create(r.To)
			in[r.Field], want[r.Field] = id, id
		}
	}
	return in, want
}

func (c *appClient) create(entity string) float64 {
	c.t.Helper()
	e := c.spec.Entity(entity)
	in, want := c.body(entity)
	status, hdr, out := c.do("POST", "/api/"+e.Plural, in)
	if status != http.StatusCreated {
		c.t.Fatalf("create %s: status %d: %v", entity, status, out)
	}
	c.match("create "+entity, want, out)
	id, _ := out["id"].(float64)
	if loc := hdr.Get("Location"); loc != fmt.Sprintf("/api/%s/%d", e.Plural, int64(id)) {
		c.t.Errorf("create %s: Location %q", entity, loc)
	}
	c.ids[entity] = append(c.ids[entity], id)
	return id
}

func (c *appClient) match(what string, want, got map[string]any) {
	c.t.Helper()
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			c.t.Errorf("%s: %s = %#v, want %#v", what, k, got[k], w)
		}
	}
	for _, k := range []string{"id", "created_at", "updated_at"} {
		if got[k] == nil {
			c.t.Errorf("%s: no %s in %v", what, k, got)
		}
	}
}

func (c *appClient) crud(entity string) {
	e := c.spec.Entity(entity)
	id := c.create(entity)
	path := fmt.Sprintf("/api/%s/%d", e.Plural, int64(id))
	got := c.want("GET", path, nil, 200)

	list := c.want("GET", "/api/"+e.Plural+"?limit=500", nil, 200)
	items, _ := list["items"].([]any)
	found := slices.ContainsFunc(items, func(x any) bool { m, _ := x.(map[string]any); return m["id"] == id })
	if !found || list["total"] == nil {
		c.t.Errorf("list of %s lacks %v: %v", e.Plural, id, list)
	}

	in, want := c.body(entity)
	c.match("update "+entity, want, c.want("PUT", path, in, 200))
	after := c.want("GET", path, nil, 200)
	c.match("get after update "+entity, want, after)
	if after["created_at"] != got["created_at"] {
		c.t.Errorf("update changed created_at of %s", entity)
	}

	bad := map[string]any{}
	for k, v := range in {
		bad[k] = v
	}
	bad[e.Fields[0].Name] = []int{1}
	if status, _, out := c.do("PUT", path, bad); status != http.StatusUnprocessableEntity || out["fields"] == nil {
		c.t.Errorf("PUT with a wrong type: status %d %v, want 422 naming the field", status, out)
	}
	if status, _, _ := c.do("POST", "/api/"+e.Plural, `{"`); status != http.StatusBadRequest {
		c.t.Errorf("POST malformed JSON: status %d, want 400", status)
	}

	c.want("DELETE", path, nil, 204)
	c.want("GET", path, nil, 404)
}

// checkRelations checks foreign keys between the running app's records:
// a missing parent is a 422, a required parent cannot be deleted while
// referred to, an optional reference is cleared when its parent goes.
func (c *appClient) checkRelations() {
	for _, r := range c.spec.Relations {
		from, to := c.spec.Entity(r.From), c.spec.Entity(r.To)
		in, _ := c.body(r.From)
		in[r.Field] = 987654321
		status, _, out := c.do("POST", "/api/"+from.Plural, in)
		if fields, _ := out["fields"].(map[string]any); status != http.StatusUnprocessableEntity || fields[r.Field] == nil {
			c.t.Errorf("%s with a missing %s: status %d %v, want 422 naming %s", r.From, r.To, status, out, r.Field)
		}

		parent := c.create(r.To)
		in, _ = c.body(r.From)
		in[r.Field] = parent
		child := c.want("POST", "/api/"+from.Plural, in, 201)
		childPath := fmt.Sprintf("/api/%s/%v", from.Plural, int64(child["id"].(float64)))
		parentPath := fmt.Sprintf("/api/%s/%d", to.Plural, int64(parent))
		if r.Required {
			c.want("DELETE", parentPath, nil, http.StatusConflict)
			c.want("DELETE", childPath, nil, 204)
			c.want("DELETE", parentPath, nil, 204)
		} else {
			c.want("DELETE", parentPath, nil, 204)
			if got := c.want("GET", childPath, nil, 200); got[r.Field] != nil {
				c.t.Errorf("%s.%s = %v after its %s was deleted, want null", r.From, r.Field, got[r.Field], r.To)
			}
		}
	}
}

// checkHostile sends what an attacker would: SQL in values and in search
// text, a body over the size limit, invalid UTF-8 and deep nesting.
func (c *appClient) checkHostile() {
	c.t.Helper()
	sqlText := `Robert'); DROP TABLE "customers"; --`
	in, _ := c.body("customer")
	in["name"] = sqlText
	created := c.want("POST", "/api/customers", in, http.StatusCreated)
	if created["name"] != sqlText {
		c.t.Errorf("name stored as %v, want it literally", created["name"])
	}
	list := c.want("GET", "/api/customers?q="+url.QueryEscape(`' OR 1=1 --`), nil, http.StatusOK)
	if items, _ := list["items"].([]any); len(items) != 0 {
		c.t.Errorf("search for SQL matched %d records", len(items))
	}
	list = c.want("GET", "/api/customers?q="+url.QueryEscape("DROP TABLE"), nil, http.StatusOK)
	if items, _ := list["items"].([]any); len(items) != 1 {
		c.t.Errorf("search for the stored text matched %d records, want 1", len(items))
	}
	big := `{"name": "` + strings.Repeat("x", 2<<20) + `"}`
	if status, _, out := c.do("POST", "/api/customers", big); status != http.StatusRequestEntityTooLarge {
		c.t.Errorf("2 MiB body: status %d %v, want 413", status, out)
	}
	in, _ = c.body("customer")
	in["name"] = "PLACEHOLDER"
	js, _ := json.Marshal(in)
	js = bytes.Replace(js, []byte(`"PLACEHOLDER"`), []byte("\"\xff\xfe\""), 1)
	status, _, out := c.do("POST", "/api/customers", string(js))
	if status != http.StatusCreated || out["name"] != "\ufffd\ufffd" {
		c.t.Errorf("invalid UTF-8: status %d, name %q; want 201 with replacement characters", status, out["name"])
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	if status, _, _ := c.do("POST", "/api/customers", deep); status != http.StatusBadRequest {
		c.t.Errorf("deeply nested JSON: status %d, want 400", status)
	}
	if status, _, out := c.do("GET", "/api/customers/1%20OR%201=1", nil); status != http.StatusNotFound {
		c.t.Errorf("id with SQL: status %d %v, want 404", status, out)
	}
}

// checkConcurrent creates records from many goroutines at once: SQLite has
// one writer, and the app must serialize writes without "database is
// locked" errors.
func (c *appClient) checkConcurrent() {
	c.t.Helper()
	before := c.want("GET", "/api/categories", nil, http.StatusOK)["total"].(float64)
	const n = 40
	// A client of its own, whose spare connections are closed afterwards:
	// an open connection that never sent a request holds up the server's
	// graceful shutdown for 5 seconds (net/http counts it as new, not idle).
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			body := fmt.Sprintf(`{"title": "concurrent %d", "rank": %d}`, i, 100000+i)
			res, err := client.Post(c.base+"/api/categories", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				err = fmt.Errorf("status %d: %s", res.StatusCode, b)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			c.t.Errorf("concurrent create: %v", err)
		}
	}
	after := c.want("GET", "/api/categories", nil, http.StatusOK)["total"].(float64)
	if after-before != n {
		c.t.Errorf("total went from %v to %v after %d creates", before, after, n)
	}
}
