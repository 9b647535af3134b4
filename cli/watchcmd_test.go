package cli_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/cli"
	"github.com/kiln-build/kiln/client/clienttest"
)

func TestBuildsWatchPlain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.srv.StreamChunk = 3 // the stream drops every three events and resumes
	h.MustLogin("ada@example.com")
	_, ok := h.mustCreate("a todo list", "todo")
	res := h.MustRun("", "builds", "watch", itoa(ok))
	assert.Regexp(t, `(?s)planning todo.*go vet.*go test.*packaged source.tar.gz`, res.stdout, "no terminal: plain lines")
	assert.Equal(t, 1, strings.Count(res.stdout, "go vet"), "every line once across reconnects")
	assert.Contains(t, res.stderr, "succeeded in")

	_, bad := h.mustCreate("a todo list that will fail", "bad")
	res = h.Run("", "builds", "watch", itoa(bad), "--plain")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stdout, "--- FAIL: TestCreate")

	res = h.Run("", "apps", "create", "a todo list", "--name", "again", "--watch")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "packaged source.tar.gz")
}

// syncBuffer is a bytes.Buffer for one writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBuildsWatchUI runs the real terminal UI program over pipes: it
// draws the build as it streams in, c then y cancels it, and q quits with
// the build's outcome.
func TestBuildsWatchUI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.srv.Script = func(app *kiln.App) []clienttest.Stage {
		return []clienttest.Stage{{Status: kiln.BuildValidating, Step: "test", Lines: []string{"go test ./..."}}} // runs until canceled
	}
	h.MustLogin("ada@example.com")
	_, id := h.mustCreate("a todo list", "todo")

	root := &cobra.Command{Use: "kiln", SilenceUsage: true}
	cli.AddCommandsForTest(root, func(k string) string { return h.env[k] }, true)
	in, keys := io.Pipe()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	root.SetArgs([]string{"builds", "watch", itoa(id)})
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	waitScreen := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %q:\n%q", want, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitScreen("go test ./...")
	waitScreen("q quit")
	_, err := io.WriteString(keys, "c")
	require.NoError(t, err)
	waitScreen("Cancel build")
	_, err = io.WriteString(keys, "y")
	require.NoError(t, err)
	waitScreen("canceled in")
	_, err = io.WriteString(keys, "q")
	require.NoError(t, err)
	err = <-done
	require.Error(t, err, "a canceled build exits 1")
	assert.Equal(t, 1, cli.ExitCode(err))
	assert.Regexp(t, `Build \d+ \(#1\) .*canceled.* in`, errOut.String())
	b, _ := h.srv.Build(id)
	assert.Equal(t, kiln.BuildCanceled, b.Status)
}
