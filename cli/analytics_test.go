package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
)

// TestIngestKeysAgainstRealServer manages an app's ingest keys with
// 'kiln apps keys' against the real API.
func TestIngestKeysAgainstRealServer(t *testing.T) {
	t.Parallel()
	ts, _ := realServer(t)
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL
	h.MustRun("correct horse battery\n", "signup", "--email", "ada@example.com", "--password-stdin")
	h.mustCreate("a library with books", "library")

	res := h.MustRun("", "apps", "keys", "create", "library", "--name", "prod", "--rate-limit", "300")
	secret := strings.TrimSpace(res.stdout)
	assert.True(t, strings.HasPrefix(secret, kiln.IngestKeyPrefix), "stdout is the secret alone: %q", res.stdout)
	assert.Contains(t, res.stderr, "not shown again")

	var created struct {
		Key    kiln.IngestKey
		Secret string
	}
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "apps", "keys", "create", "library", "-o", "json").stdout), &created))
	assert.Equal(t, "default", created.Key.Name)

	list := h.MustRun("", "apps", "keys", "list", "library").stdout
	assert.Contains(t, list, "prod")
	assert.Contains(t, list, "300/s")
	assert.Contains(t, list, secret[:len(kiln.IngestKeyPrefix)+4]+"…")
	assert.NotContains(t, list, secret)

	rotated := strings.TrimSpace(h.MustRun("", "apps", "keys", "rotate", "library", itoa(created.Key.ID)).stdout)
	assert.NotEqual(t, created.Secret, rotated)
	assert.True(t, strings.HasPrefix(rotated, kiln.IngestKeyPrefix))

	assert.Contains(t, h.MustRun("", "apps", "keys", "revoke", "library", itoa(created.Key.ID)).stdout, "Revoked ingest key")
	res = h.Run("", "apps", "keys", "revoke", "library", itoa(created.Key.ID))
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "no ingest key")

	res = h.Run("", "apps", "keys", "rotate", "library", "x")
	assert.Equal(t, 2, res.code, "a bad KEY_ID is a usage error")
	res = h.Run("", "apps", "keys", "create", "library", "--rate-limit", "-5")
	assert.Equal(t, 2, res.code)
}
