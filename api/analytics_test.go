package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/analytics"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/queue"
	"github.com/kiln-build/kiln/sqlstore"
)

// analyticsEnv is the API with its analytics services over a fresh SQLite
// store.
type analyticsEnv struct {
	srv    *httptest.Server
	db     *sqlstore.DB
	events *sqlstore.EventStore
}

func mustAnalyticsServer(tb testing.TB) *analyticsEnv {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(tb.TempDir(), "kiln.db"), sqlstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := queue.Migrate(ctx, db.Dialect(), db.Writer(), nil); err != nil {
		tb.Fatal(err)
	}
	q, err := queue.New(queue.Config{Dialect: db.Dialect(), DB: db.Writer()})
	if err != nil {
		tb.Fatal(err)
	}
	db.SetEnqueue(q.Enqueue)
	authSvc, err := auth.New(sqlstore.NewAuthStore(db), auth.Config{Secret: bytes.Repeat([]byte("k"), 32), BaseURL: "http://kiln.test"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	keys := sqlstore.NewIngestKeyService(db)
	events := sqlstore.NewEventStore(db)
	committer := analytics.NewCommitter(analytics.CommitterConfig{Writer: events, Logger: logger})
	go committer.Run()
	tb.Cleanup(func() { _ = committer.Stop(context.Background()) })
	cfg := api.Config{
		Auth: authSvc, Users: sqlstore.NewUserService(db), Apps: sqlstore.NewAppService(db),
		Builds: sqlstore.NewBuildService(db), Idempotency: sqlstore.NewIdempotencyStore(db),
		Ready: db.Ping, Logger: logger,
		IngestKeys: keys, Analytics: events,
		Ingester: analytics.NewIngester(analytics.IngesterConfig{Keys: keys, Committer: committer}),
	}
	srv := httptest.NewServer(api.New(cfg))
	tb.Cleanup(srv.Close)
	return &analyticsEnv{srv: srv, db: db, events: events}
}

// mustApp creates an app and returns its id.
func mustApp(tb testing.TB, srv *httptest.Server, tok string) int64 {
	tb.Helper()
	r := do(tb, srv, "POST", "/v1/apps", tok, strings.NewReader(`{"description":"a todo list with tasks"}`))
	var out struct {
		App kiln.App `json:"app"`
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &out) != nil {
		tb.Fatalf("create app: %d %s", r.status, r.body)
	}
	return out.App.ID
}

// mustKey creates an ingest key and returns the answer.
func mustKey(tb testing.TB, srv *httptest.Server, tok string, appID int64, body string) api.IngestKeySecret {
	tb.Helper()
	r := do(tb, srv, "POST", fmt.Sprintf("/v1/apps/%d/ingest-keys", appID), tok, strings.NewReader(body))
	var out api.IngestKeySecret
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &out) != nil {
		tb.Fatalf("create ingest key: %d %s", r.status, r.body)
	}
	return out
}

func TestIngestKeys(t *testing.T) {
	t.Parallel()
	e := mustAnalyticsServer(t)
	srv := e.srv
	alice := MustToken(t, srv, "alice@example.com") // an admin: the first user
	bob := MustToken(t, srv, "bob@example.com")
	carol := MustToken(t, srv, "carol@example.com")
	app := mustApp(t, srv, bob)
	base := fmt.Sprintf("/v1/apps/%d/ingest-keys", app)

	created := mustKey(t, srv, bob, app, `{"name":"prod","rate_limit":250}`)
	if !strings.HasPrefix(created.Secret, kiln.IngestKeyPrefix) || created.Key.Name != "prod" || created.Key.RateLimit != 250 {
		t.Fatalf("created %+v", created)
	}
	// No body at all is a key with the defaults.
	r := do(t, srv, "POST", base, bob, nil)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"name":"default"`) {
		t.Fatalf("create without body: %d %s", r.status, r.body)
	}

	r = do(t, srv, "GET", base, bob, nil)
	var list struct{ Items []kiln.IngestKey }
	if r.status != http.StatusOK || json.Unmarshal(r.body, &list) != nil || len(list.Items) != 2 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), created.Secret[len(kiln.IngestKeyPrefix):]) {
		t.Fatal("the list shows a secret")
	}

	r = do(t, srv, "POST", fmt.Sprintf("%s/%d/rotate", base, created.Key.ID), bob, nil)
	var rotated api.IngestKeySecret
	if r.status != http.StatusOK || json.Unmarshal(r.body, &rotated) != nil || rotated.Secret == created.Secret || rotated.Key.RotatedAt == nil {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}

	t.Run("ErrNotFoundForOthers", func(t *testing.T) {
		for _, tc := range []struct{ method, path string }{
			{"GET", base}, {"POST", base},
			{"POST", fmt.Sprintf("%s/%d/rotate", base, created.Key.ID)},
			{"DELETE", fmt.Sprintf("%s/%d", base, created.Key.ID)},
		} {
			for _, tok := range []string{alice, carol} {
				r := do(t, srv, tc.method, tc.path, tok, nil)
				if r.status != http.StatusNotFound || r.problem(t)["code"] != kiln.ENotFound {
					t.Errorf("%s %s by another user: %d %s", tc.method, tc.path, r.status, r.body)
				}
			}
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		r := do(t, srv, "GET", base, "", nil)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, body := range []string{`{"rate_limit":-1}`, `{"rate_limit":1000001}`, `{"name":"` + strings.Repeat("n", 65) + `"}`} {
			r := do(t, srv, "POST", base, bob, strings.NewReader(body))
			if r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d %s", body, r.status, r.body)
			}
		}
	})

	r = do(t, srv, "DELETE", fmt.Sprintf("%s/%d", base, created.Key.ID), bob, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r = do(t, srv, "DELETE", fmt.Sprintf("%s/%d", base, created.Key.ID), bob, nil)
	if r.status != http.StatusNotFound {
		t.Fatalf("revoke again: %d %s", r.status, r.body)
	}
}
