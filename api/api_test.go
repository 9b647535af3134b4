package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/codegen/plan"
	"github.com/kiln-build/kiln/queue"
	"github.com/kiln-build/kiln/sqlstore"
	"github.com/kiln-build/kiln/sqlstore/pgtest"
	"github.com/kiln-build/kiln/telemetry"
)

// MustServer serves the API over a fresh SQLite store with an insert-only queue.
func MustServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv, _ := MustServerDB(tb)
	return srv
}

// MustServerDB is MustServer that also returns the store; opts change the
// API's configuration before it starts.
func MustServerDB(tb testing.TB, opts ...func(*api.Config)) (*httptest.Server, *sqlstore.DB) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(tb.TempDir(), "kiln.db"), sqlstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return mustServerOver(tb, db, opts...), db
}

// MustServerPostgres is MustServerDB over PostgreSQL, in a fresh schema
// dropped when the test ends; it skips without KILN_TEST_POSTGRES_URL.
func MustServerPostgres(tb testing.TB, opts ...func(*api.Config)) (*httptest.Server, *sqlstore.DB) {
	tb.Helper()
	dbURL, _ := pgtest.MustSchema(tb)
	db, err := sqlstore.Open(context.Background(), dbURL, sqlstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return mustServerOver(tb, db, opts...), db
}

// mustServerOver migrates db and serves the API over it, with opts applied
// to the configuration.
func mustServerOver(tb testing.TB, db *sqlstore.DB, opts ...func(*api.Config)) *httptest.Server {
	tb.Helper()
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := queue.Migrate(ctx, db.Dialect(), db.Writer(), nil); err != nil {
		tb.Fatal(err)
	}
	q, err := queue.New(queue.Config{Dialect: db.Dialect(), DB: db.Writer(), Pool: db.PgxPool()})
	if err != nil {
		tb.Fatal(err)
	}
	db.SetEnqueue(q.Enqueue)
	authSvc, err := auth.New(sqlstore.NewAuthStore(db), auth.Config{Secret: bytes.Repeat([]byte("k"), 32), BaseURL: "http://kiln.test"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := api.Config{
		Auth: authSvc, Users: sqlstore.NewUserService(db), Apps: sqlstore.NewAppService(db),
		Builds: sqlstore.NewBuildService(db), Idempotency: sqlstore.NewIdempotencyStore(db),
		Usage: sqlstore.NewUsageService(db), LLMLimits: api.LLMLimits{Model: "gpt-4o", Build: 3000, Month: 10000},
		Ready: db.Ping, Metrics: telemetry.NewMetrics(nil, nil), Planner: plan.Rules{},
		AppNamer: func(d string) string {
			if spec, err := (plan.Rules{}).Plan(context.Background(), d); err == nil {
				return spec.Name
			}
			return ""
		},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), // every request is still formatted
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv := httptest.NewServer(api.New(cfg))
	tb.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) problem(tb testing.TB) map[string]any {
	tb.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		tb.Fatalf("content type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p map[string]any
	if err := json.Unmarshal(r.body, &p); err != nil {
		tb.Fatalf("problem body %s: %v", r.body, err)
	}
	if p["request_id"] == "" || p["request_id"] == nil {
		tb.Errorf("problem without request_id: %s", r.body)
	}
	return p
}

func do(tb testing.TB, srv *httptest.Server, method, path, token string, body io.Reader, hdr ...string) response {
	tb.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// MustToken signs up and logs in, returning an access token.
func MustToken(tb testing.TB, srv *httptest.Server, email string) string {
	tb.Helper()
	creds := `{"email":"` + email + `","password":"correct horse battery"}`
	if r := do(tb, srv, "POST", "/v1/auth/signup", "", strings.NewReader(creds)); r.status != http.StatusCreated {
		tb.Fatalf("signup: %d %s", r.status, r.body)
	}
	r := do(tb, srv, "POST", "/v1/auth/login", "", strings.NewReader(creds))
	var sess kiln.Session
	if r.status != http.StatusOK || json.Unmarshal(r.body, &sess) != nil {
		tb.Fatalf("login: %d %s", r.status, r.body)
	}
	return sess.AccessToken
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	tok := MustToken(t, srv, "ada@example.com")

	t.Run("Malformed", func(t *testing.T) {
		r := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(`{"description": "x",`))
		if r.status != http.StatusBadRequest || r.problem(t)["code"] != "malformed" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		big := `{"description":"` + strings.Repeat("a", 1<<20) + `"}`
		r := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(big))
		if r.status != http.StatusRequestEntityTooLarge || r.problem(t)["code"] != "too_large" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("DescriptionTooLong", func(t *testing.T) {
		body := `{"description":"` + strings.Repeat("a", kiln.MaxDescriptionLen+1) + `"}`
		r := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(body))
		p := r.problem(t)
		if r.status != http.StatusUnprocessableEntity || p["code"] != "invalid" || !strings.Contains(string(r.body), "body.description") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("Unauthenticated", func(t *testing.T) {
		r := do(t, srv, "GET", "/v1/apps", "", nil)
		if r.status != http.StatusUnauthorized || r.problem(t)["code"] != "unauthorized" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("BadToken", func(t *testing.T) {
		r := do(t, srv, "GET", "/v1/me", tok+"x", nil)
		if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		r := do(t, srv, "GET", "/v1/builds/999999", tok, nil)
		if r.status != http.StatusNotFound || r.problem(t)["code"] != "not_found" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("Conflict", func(t *testing.T) {
		r := do(t, srv, "POST", "/v1/auth/signup", "", strings.NewReader(`{"email":"ada@example.com","password":"another password"}`))
		if r.status != http.StatusConflict || r.problem(t)["code"] != "conflict" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("RateLimited", func(t *testing.T) {
		var r response
		for range 30 {
			r = do(t, srv, "POST", "/v1/auth/login", "", strings.NewReader(`{"email":"grace@example.com","password":"wrong password"}`))
			if r.status == http.StatusTooManyRequests {
				break
			}
		}
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.problem(t)["code"] != "rate_limited" {
			t.Fatalf("%d %v %s", r.status, r.header, r.body)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	tok := MustToken(t, srv, "ada@example.com")
	body := `{"description":"a todo app with tasks (title, done)"}`
	first := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(body), "Idempotency-Key", "k1")
	again := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(body), "Idempotency-Key", "k1")
	if first.status != http.StatusCreated || again.status != http.StatusCreated || !bytes.Equal(first.body, again.body) {
		t.Fatalf("replay differs: %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Error("replay not marked")
	}
	other := do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(`{"description":"another app with notes (body)"}`), "Idempotency-Key", "k1")
	if other.status != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other body: %d %s", other.status, other.body)
	}
	r := do(t, srv, "GET", "/v1/apps", tok, nil)
	var list struct{ Items []kiln.App }
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 1 {
		t.Fatalf("apps after replays: %s", r.body)
	}
	// Without a key, the same body creates a second app.
	do(t, srv, "POST", "/v1/apps", tok, strings.NewReader(body))
	r = do(t, srv, "GET", "/v1/apps", tok, nil)
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("apps: %s", r.body)
	}
}

func TestOps(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	// /metrics last: it lists request counters only once requests were counted.
	for _, tc := range [][2]string{{"/healthz", "ok"}, {"/readyz", "ready"}, {"/openapi.json", "\"openapi\""}, {"/v1/version", "version"}, {"/metrics", `kiln_http_requests_total{method="GET",route="/v1/version",status="200"} 1`}} {
		path, want := tc[0], tc[1]
		r := do(t, srv, "GET", path, "", nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), want) {
			t.Errorf("%s: %d %.200s", path, r.status, r.body)
		}
		if r.header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", path)
		}
	}
}

// TestRevokedTokenRefusedForWrites: reads may reuse a resolved credential
// for a moment (the auth cache), but a write after revoking a token is
// refused at once.
func TestRevokedTokenRefusedForWrites(t *testing.T) {
	t.Parallel()
	srv := MustServer(t)
	access := MustToken(t, srv, "ada@example.com")
	r := do(t, srv, "POST", "/v1/tokens", access, strings.NewReader(`{"name":"ci"}`))
	var created struct {
		Token  kiln.APIToken `json:"token"`
		Secret string        `json:"secret"`
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &created) != nil {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/v1/me", created.Secret, nil); r.status != http.StatusOK {
		t.Fatalf("me with the API token: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "DELETE", "/v1/tokens/"+strconv.FormatInt(created.Token.ID, 10), access, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r = do(t, srv, "POST", "/v1/apps", created.Secret, strings.NewReader(`{"description":"a todo app with tasks (title)"}`))
	if r.status != http.StatusUnauthorized {
		t.Fatalf("write with a revoked token: %d %s", r.status, r.body)
	}
}
