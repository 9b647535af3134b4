package cli_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
)

func TestBuildsDiff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	_, b1 := h.mustCreate("a todo list", "todo")
	h.MustRun("", "builds", "logs", "-f", itoa(b1))
	var rebuilt kiln.Build
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "apps", "rebuild", "todo", "--wait", "-o", "json").stdout), &rebuilt))
	b2 := rebuilt.ID

	t.Run("Diff", func(t *testing.T) {
		res := h.MustRun("", "builds", "diff", itoa(b1), itoa(b2))
		assert.Contains(t, res.stdout, "diff --git a/source.txt b/source.txt\n--- a/source.txt\n+++ b/source.txt\n")
		assert.Contains(t, res.stdout, "-source of build "+itoa(b1)+"\n+source of build "+itoa(b2)+"\n")
		assert.Contains(t, res.stderr, "1 file changed, +1 -1 lines (build "+itoa(b1)+" → build "+itoa(b2)+")")
		assert.NotContains(t, res.stdout, "\x1b", "no color into a pipe")
	})
	t.Run("Stat", func(t *testing.T) {
		res := h.MustRun("", "builds", "diff", itoa(b1), itoa(b2), "--stat")
		assert.Regexp(t, `(?m)^source\.txt\s+modified\s+\+1\s+-1$`, res.stdout)
		assert.NotContains(t, res.stdout, "@@")
	})
	t.Run("JSON", func(t *testing.T) {
		var d kiln.BuildDiff
		require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "builds", "diff", itoa(b1), itoa(b2), "-o", "json").stdout), &d))
		assert.Equal(t, b2, d.BuildID)
		assert.Equal(t, b1, d.Against)
		assert.Equal(t, []kiln.FileDiff{{Path: "source.txt", Change: kiln.FileModified, Added: 1, Removed: 1}}, d.Files)
	})
	t.Run("Identical", func(t *testing.T) {
		res := h.MustRun("", "builds", "diff", itoa(b1), itoa(b1))
		assert.Empty(t, res.stdout)
		assert.Contains(t, res.stderr, "generated identical files")
	})
	t.Run("Color", func(t *testing.T) {
		hc := *h
		hc.terminal = true
		res := hc.MustRun("", "builds", "diff", itoa(b1), itoa(b2))
		assert.Contains(t, res.stdout, "\x1b[32m+source of build "+itoa(b2)+"\x1b[0m")
		assert.Contains(t, res.stdout, "\x1b[31m-source of build "+itoa(b1)+"\x1b[0m")
	})
	t.Run("ErrUsage", func(t *testing.T) {
		assert.Equal(t, 2, h.Run("", "builds", "diff", itoa(b1)).code)
		assert.Equal(t, 2, h.Run("", "builds", "diff", "x", itoa(b2)).code)
	})
}

func TestBuildsDiffErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.MustLogin("ada@example.com")
	_, ok := h.mustCreate("a todo list", "todo")
	h.MustRun("", "builds", "logs", "-f", itoa(ok))
	_, failed := h.mustCreate("a todo list that will fail", "broken")
	h.Run("", "builds", "logs", "-f", itoa(failed))

	res := h.Run("", "builds", "diff", itoa(ok), itoa(failed))
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "has no source archive")

	h.MustLogin("bob@example.com")
	res = h.Run("", "builds", "diff", itoa(ok), itoa(ok))
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "not found")
}
