package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client/clienttest"
)

// mustCreate creates an app without waiting and returns its build id.
func (h *harness) mustCreate(desc, name string) (appID, buildID int64) {
	h.t.Helper()
	var out struct {
		App   kiln.App
		Build kiln.Build
	}
	res := h.MustRun("", "apps", "create", desc, "--name", name, "-o", "json")
	require.NoError(h.t, json.Unmarshal([]byte(res.stdout), &out))
	return out.App.ID, out.Build.ID
}

func TestAppsCreateWait(t *testing.T) {
	t.Parallel()

	t.Run("Succeeded", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		res := h.MustRun("", "apps", "create", "a todo list", "--name", "todo", "--wait")
		assert.Regexp(t, `(?m)^\d\d:\d\d:\d\d planning todo$`, res.stdout)
		assert.Regexp(t, `(?s)planning todo.*go vet.*go test.*packaged source.tar.gz`, res.stdout, "lines in order")
		assert.Contains(t, res.stderr, "succeeded in")
	})

	t.Run("FailedExits1", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		res := h.Run("", "apps", "create", "a todo list that will fail", "--name", "todo", "--wait")
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stdout, "--- FAIL: TestCreate")
		assert.Regexp(t, `Error: build \d+ \(#1\) failed: go test failed`, res.stderr)
	})

	t.Run("JSONPrintsFinalBuild", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		res := h.MustRun("", "apps", "create", "a todo list", "--name", "todo", "--wait", "-o", "json")
		var out struct {
			App   kiln.App
			Build kiln.Build
		}
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), "stdout is one JSON document: %s", res.stdout)
		assert.Equal(t, kiln.BuildSucceeded, out.Build.Status)
		assert.Contains(t, res.stderr, `"text":"packaged source.tar.gz"`, "log lines go to stderr as JSON")
	})

	t.Run("Rebuild", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		h.mustCreate("a todo list", "todo")
		res := h.MustRun("", "apps", "rebuild", "todo", "--wait")
		assert.Contains(t, res.stdout, "packaged source.tar.gz")
		assert.Contains(t, res.stderr, "(#2)")
	})
}

func TestBuildsLogs(t *testing.T) {
	t.Parallel()

	t.Run("FollowUntilTerminal", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		_, buildID := h.mustCreate("a todo list", "todo")
		res := h.MustRun("", "builds", "logs", "-f", itoa(buildID))
		texts := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d (.*)$`).FindAllStringSubmatch(res.stdout, -1)
		var got []string
		for _, m := range texts {
			got = append(got, m[1])
		}
		assert.Equal(t, []string{"planning todo", "go vet ./...", "go test ./...", "packaged source.tar.gz"}, got)
		b, _ := h.srv.Build(buildID)
		assert.Equal(t, kiln.BuildSucceeded, b.Status)

		res = h.MustRun("", "builds", "logs", itoa(buildID), "--after", "7", "-o", "json")
		var seqs []int64
		for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
			var l kiln.LogLine
			require.NoError(t, json.Unmarshal([]byte(line), &l), "one JSON object per line")
			seqs = append(seqs, l.Seq)
		}
		assert.Equal(t, []int64{8, 10}, seqs, "log lines share the build's event sequence")
	})

	t.Run("CanceledExits1", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.MustLogin("ada@example.com")
		_, buildID := h.mustCreate("a todo list", "todo")
		res := h.MustRun("", "builds", "cancel", itoa(buildID))
		assert.Contains(t, res.stdout, "canceled")
		res = h.Run("", "builds", "logs", "-f", itoa(buildID))
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "was canceled")
		res = h.Run("", "builds", "cancel", itoa(buildID))
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stderr, "Error: build has already ended")
	})

	t.Run("InterruptStopsFollowing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.Script = func(app *kiln.App) []clienttest.Stage {
			return []clienttest.Stage{{Status: kiln.BuildPlanning, Step: "plan", Lines: []string{"thinking"}}} // never ends
		}
		h.MustLogin("ada@example.com")
		_, buildID := h.mustCreate("x", "x")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		res := h.RunContext(ctx, "", "builds", "logs", "-f", itoa(buildID))
		assert.Equal(t, 1, res.code)
		assert.Contains(t, res.stdout, "thinking")
		assert.Contains(t, res.err.Error(), "stopped following build "+itoa(buildID))
		b, _ := h.srv.Build(buildID)
		assert.False(t, b.Status.Terminal(), "stopping to follow does not cancel the build")
	})

	t.Run("EscapeSequencesStripped", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.srv.Script = func(app *kiln.App) []clienttest.Stage {
			return []clienttest.Stage{{Status: kiln.BuildSucceeded, Step: "test", Lines: []string{"\x1b]0;pwned\x07title \x1b[2Jclear"}}}
		}
		h.MustLogin("ada@example.com")
		res := h.MustRun("", "apps", "create", "x", "--name", "x", "--wait")
		assert.NotContains(t, res.stdout, "\x1b")
		assert.Contains(t, res.stdout, "]0;pwnedtitle [2Jclear")
	})
}

func TestBuildsListAndGet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	_, b1 := h.mustCreate("a todo list", "todo")
	h.mustCreate("a library", "library")
	h.MustRun("", "builds", "logs", "-f", itoa(b1))

	list := h.MustRun("", "builds", "list", "--app", "todo").stdout
	assert.Regexp(t, `(?m)^ID\s+APP\s+NUMBER\s+STATUS`, list)
	assert.Contains(t, list, "succeeded")
	assert.NotContains(t, list, "queued", "only the todo app's build")

	queued := h.MustRun("", "builds", "list", "--status", "queued", "-o", "json").stdout
	var out struct{ Items []kiln.Build }
	require.NoError(t, json.Unmarshal([]byte(queued), &out))
	require.Len(t, out.Items, 1)

	get := h.MustRun("", "builds", "get", itoa(b1)).stdout
	assert.Regexp(t, `(?m)^Status:\s+succeeded$`, get)
	assert.Regexp(t, `(?m)^package\s+succeeded`, get)

	res := h.Run("", "apps", "get", "nosuchapp")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, `no app named "nosuchapp"`)
	assert.Contains(t, h.MustRun("", "apps", "get", "todo").stdout, "Latest build:")
}

func TestAppsSpecAndDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	appID, _ := h.mustCreate("a library", "library")

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"kiln_spec":1,"name":"library","entities":[{"name":"Book!","plural":"books","fields":[]}]}`), 0o600))
	res := h.Run("", "apps", "spec", "set", "library", bad)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "Error: invalid spec\n  entities[0].name: ")

	typo := filepath.Join(dir, "typo.json")
	require.NoError(t, os.WriteFile(typo, []byte(`{"kiln_spec":1,"name":"library","entites":[]}`), 0o600))
	res = h.Run("", "apps", "spec", "set", "library", typo)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, `unknown field "entites"`)

	good := `{"kiln_spec":1,"name":"library","entities":[{"name":"book","plural":"books","fields":[{"name":"title","type":"string","required":true}]}]}`
	h.MustRun(good, "apps", "spec", "set", itoa(appID), "-")
	var spec kiln.AppSpec
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "apps", "spec", "get", "library").stdout), &spec))
	assert.Equal(t, "book", spec.Entities[0].Name)
	assert.Contains(t, h.MustRun("", "apps", "spec", "get", "library", "-o", "yaml").stdout, "- name: book\n")

	assert.Contains(t, h.MustRun("", "apps", "update", "library", "--name", "books").stdout, `"books"`)

	res = h.Run("", "apps", "delete", "books")
	assert.Equal(t, 2, res.code, "no confirmation without a terminal or --yes")
	h.MustRun("", "apps", "delete", "books", "--yes")
	res = h.Run("", "apps", "get", itoa(appID))
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "Error: app not found")
}

func TestAppsPlanAndCreateWithSpec(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	res := h.MustRun("", "apps", "plan", "notes: title")
	assert.Contains(t, res.stdout, "App notes\n  item (items): title string required\n")
	res = h.MustRun("", "apps", "plan", "-o", "json", "notes: title")
	spec := filepath.Join(t.TempDir(), "kiln.json")
	require.NoError(t, os.WriteFile(spec, []byte(strings.Replace(res.stdout, `"notes"`, `"jotter"`, 1)), 0o600))
	h.MustRun("", "apps", "create", "notes: title", "--name", "mine", "--spec", spec)
	var got kiln.AppSpec
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "apps", "spec", "get", "mine").stdout), &got))
	assert.Equal(t, "jotter", got.Name)

	res = h.Run("", "apps", "plan", " ")
	assert.Equal(t, 2, res.code)
}

func TestArtifacts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	_, buildID := h.mustCreate("a todo list", "todo")
	h.MustRun("", "builds", "logs", "-f", itoa(buildID))

	var arts struct{ Items []kiln.Artifact }
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "artifacts", "list", itoa(buildID), "-o", "json").stdout), &arts))
	require.Len(t, arts.Items, 1)
	a := arts.Items[0]

	dir := t.TempDir()
	res := h.MustRun("", "artifacts", "download", itoa(a.ID), "--out", dir)
	assert.Contains(t, res.stdout, "verified")
	data, err := os.ReadFile(filepath.Join(dir, a.Name))
	require.NoError(t, err)
	assert.Equal(t, a.Size, int64(len(data)))

	named := filepath.Join(dir, "src.tgz")
	h.MustRun("", "artifacts", "download", itoa(a.ID), "--out", named)
	assert.FileExists(t, named)
	assert.Equal(t, "source of build "+itoa(buildID)+"\n", h.MustRun("", "artifacts", "download", itoa(a.ID), "--out", "-").stdout)

	h.srv.BadChecksum = true
	empty := t.TempDir()
	res = h.Run("", "artifacts", "download", itoa(a.ID), "--out", empty)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "checksum mismatch")
	entries, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, entries, "a download that failed verification leaves no file")
}

func TestAdminAndVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("admin@example.com")
	h.srv.AddUser("ada@example.com", "correct horse")
	res := h.MustRun("", "admin", "users")
	assert.Contains(t, res.stdout, "ada@example.com")
	assert.Contains(t, h.MustRun("", "admin", "grant", "ada@example.com").stdout, "ada@example.com is now admin")
	res = h.MustRun("", "admin", "users", "--email", "ada@example.com")
	assert.Contains(t, res.stdout, "ada@example.com")
	assert.NotContains(t, res.stdout, "admin@example.com")
	assert.Contains(t, h.MustRun("", "admin", "users", "revoke-sessions", "ada@example.com").stdout, "Ended 0 sessions of ada@example.com.")
	assert.Equal(t, 2, h.Run("", "admin", "users", "--email", "ada@example.com", "--limit", "5").code)

	res = h.MustRun("", "version")
	assert.Regexp(t, `(?m)^Client:\s+dev`, res.stdout)
	assert.Regexp(t, `(?m)^Server:\s+9\.9\.9-test, commit abc123, go1\.26 at `+regexp.QuoteMeta(h.srv.URL), res.stdout)

	res = h.MustRun("", "version", "--server", "http://127.0.0.1:1", "-o", "json")
	var v struct {
		Client      struct{ Version string }
		ServerError string `json:"server_error"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &v))
	assert.Equal(t, kiln.Version, v.Client.Version)
	assert.Contains(t, v.ServerError, "cannot reach")
}
