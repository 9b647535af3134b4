package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/analytics"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/sqlstore"
)

// mustIngester returns the real ingest pipeline over db, stopped at cleanup.
func mustIngester(t *testing.T, db *sqlstore.DB, logger *slog.Logger) api.Ingester {
	t.Helper()
	c := analytics.NewCommitter(analytics.CommitterConfig{Writer: sqlstore.NewEventStore(db), Logger: logger})
	go c.Run()
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return analytics.NewIngester(analytics.IngesterConfig{Keys: sqlstore.NewIngestKeyService(db), Committer: c})
}

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
	assert.Contains(t, res.stderr, "KILN_INGEST_URL="+ts.URL+"/v1/ingest KILN_APP_KEY=", "says how to run the app with it")

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

// TestAnalyticsAgainstRealServer sends events with 'kiln analytics send'
// and reads them back with 'kiln analytics summary'.
func TestAnalyticsAgainstRealServer(t *testing.T) {
	t.Parallel()
	ts, _ := realServer(t)
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL
	h.MustRun("correct horse battery\n", "signup", "--email", "ada@example.com", "--password-stdin")
	h.mustCreate("a library with books", "library")
	key := strings.TrimSpace(h.MustRun("", "apps", "keys", "create", "library").stdout)

	now := time.Now().UTC()
	var nd strings.Builder
	for i := range 1500 {
		fmt.Fprintf(&nd, `{"name":%q,"timestamp":%q,"user_id":"u%d","value":%d,"properties":{"route":"GET /books"}}`+"\n",
			[]string{"request", "signup"}[min(i%10, 1)], now.Add(-time.Duration(i)*time.Second).Format(time.RFC3339Nano), i%4, i%100)
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(nd.String()), 0o600))
	res := h.MustRun("", "analytics", "send", file, "--key", key)
	assert.Contains(t, res.stdout, "Sent 1500 events: 1500 accepted, 0 refused.")

	// A refused event is named by its index across batches; exit status 1.
	h.env["KILN_APP_KEY"] = key
	res = h.Run(`[{"name":"ok","timestamp":"`+now.Format(time.RFC3339)+`"},{"name":"bad"}]`, "analytics", "send")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stdout, "event 1: timestamp: is required")

	out := h.MustRun("", "analytics", "summary", "library", "--since", "2h").stdout
	assert.Contains(t, out, "Total: 1,501 events, 4 users")
	assert.Contains(t, out, "request")
	assert.Contains(t, out, "GET /books")
	assert.Contains(t, out, "█")

	var sum kiln.Summary
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "analytics", "summary", "library", "--since", "2h", "--event", "signup", "-o", "json").stdout), &sum))
	assert.EqualValues(t, 1350, sum.Totals.Count)
	assert.Equal(t, kiln.IntervalMinute, sum.Interval)

	res = h.Run("", "analytics", "summary", "library", "--since", "yesterday")
	assert.Equal(t, 2, res.code)
	res = h.Run("", "analytics", "send", "--key", "nope")
	assert.Equal(t, 2, res.code)
	res = h.Run("", "analytics", "send", "--key", kiln.IngestKeyPrefix+strings.Repeat("A", 43), file)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "unknown or revoked ingest key")
}
