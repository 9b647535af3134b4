package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/sandbox"
)

// tinyApp is a module with one dependency from the module cache, so the
// test proves the read-only cache and GOPROXY=off work together.
var tinyApp = map[string]string{
	"go.mod": "module example.com/tiny\n\ngo 1.22\n\nrequire github.com/google/go-cmp v0.7.0\n",
	"tiny.go": `package tiny

import "github.com/google/go-cmp/cmp"

// Same reports whether a and b are equal.
func Same(a, b []string) bool { return cmp.Equal(a, b) }
`,
	"tiny_test.go": `package tiny

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func TestSame(t *testing.T) {
	if !Same([]string{"a"}, []string{"a"}) {
		t.Fatal("not same")
	}
}

func TestHang(t *testing.T) {
	if os.Getenv("TINY_HANG") == "" {
		t.Skip()
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
}
`,
}

// MustTinyApp writes tinyApp with go-cmp's go.sum lines from Kiln's own
// go.sum, skipping when they are not there.
func MustTinyApp(tb testing.TB) string {
	tb.Helper()
	sum, err := os.ReadFile("../go.sum")
	if err != nil {
		tb.Skipf("no go.sum: %v", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(sum))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "github.com/google/go-cmp v0.7.0") {
			lines = append(lines, sc.Text())
		}
	}
	if len(lines) != 2 {
		tb.Skip("go-cmp v0.7.0 is not in go.sum")
	}
	dir := filepath.Join(tb.TempDir(), "tiny")
	files := map[string]string{"go.sum": strings.Join(lines, "\n") + "\n"}
	for k, v := range tinyApp {
		files[k] = v
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// TestRun_GoToolchain runs the validation steps the pipeline runs, inside
// the sandbox, against the real toolchain and caches.
func TestRun_GoToolchain(t *testing.T) {
	r := MustRunner(t, sandboxed, sandbox.Config{Timeout: 3 * time.Minute})
	if r.Config().GOROOT == "" {
		t.Skip("go is not installed")
	}
	if _, err := os.Stat(filepath.Join(r.Config().ModCache, "github.com/google/go-cmp@v0.7.0")); err != nil {
		t.Skip("go-cmp v0.7.0 is not in the module cache (go mod download)")
	}
	app := MustTinyApp(t)
	steps := [][]string{
		{"gofmt", "-l", "."},
		{"go", "vet", "./..."},
		{"go", "build", "./..."},
		{"go", "test", "-count=1", "./..."},
	}
	for _, s := range steps {
		var out bytes.Buffer
		res, err := r.Run(t.Context(), app, &out, &out, s[0], s[1:]...)
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		if res.ExitCode != 0 || !res.Sandboxed {
			t.Fatalf("%v: %+v\n%s", s, res, out.String())
		}
		if s[0] == "gofmt" && out.Len() != 0 {
			t.Fatalf("gofmt -l listed %q", out.String())
		}
		t.Logf("%s: %s", strings.Join(s, " "), res.Duration.Round(time.Millisecond))
	}

	t.Run("CancelKillsTestBinary", func(t *testing.T) {
		marker := fmt.Sprintf("kiln-gotest-%d", time.Now().UnixNano())
		cfg := r.Config()
		cfg.Env = map[string]string{"TINY_HANG": "1"}
		r, err := sandbox.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		out := newReadyWriter()
		go func() {
			<-out.ready
			if len(survivors(t, marker)) == 0 {
				t.Error("the test binary is not running before the cancel")
			}
			cancel()
		}()
		_, err = r.Run(ctx, app, out, out, "go", "test", "-v", "-count=1", "-run", "TestHang", ".", "-args", marker)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled; output:\n%s", err, out.buf.String())
		}
		if pids := survivors(t, marker); len(pids) > 0 {
			t.Fatalf("the go test binary survived the cancel: %v", pids)
		}
	})
}
