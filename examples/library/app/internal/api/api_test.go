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
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"example.com/library/internal/api"
	"example.com/library/internal/store"
)

// newServer returns the app's handler over a fresh database.
func newServer(t *testing.T) http.Handler {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return api.New(db, slog.New(slog.DiscardHandler))
}

// do sends a request; body is sent as it is when it is a string, else as
// JSON. It returns the status and the decoded JSON answer (nil for none).
func do(t *testing.T, h http.Handler, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, rec.Body.String())
		}
	}
	return rec.Code, out
}

// mustDo is do that fails the test unless the status is want.
func mustDo(t *testing.T, h http.Handler, method, path string, body any, want int) map[string]any {
	t.Helper()
	status, out := do(t, h, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; answer %v", method, path, status, want, out)
	}
	return out
}

// assertFields checks that got holds every key of want with the same JSON
// value.
func assertFields(t *testing.T, want, got map[string]any) {
	t.Helper()
	for k, w := range want {
		if !reflect.DeepEqual(normalize(t, w), got[k]) {
			t.Errorf("field %s = %#v, want %#v", k, got[k], w)
		}
	}
}

func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// assertProblem checks an error answer: its status, and that each named
// field has a problem.
func assertProblem(t *testing.T, status int, out map[string]any, wantStatus int, fields ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d; answer %v", status, wantStatus, out)
	}
	if msg, _ := out["error"].(string); msg == "" {
		t.Errorf("answer has no error message: %v", out)
	}
	problems, _ := out["fields"].(map[string]any)
	for _, f := range fields {
		if msg, _ := problems[f].(string); msg == "" {
			t.Errorf("no problem reported for field %s: %v", f, out)
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	out := mustDo(t, h, "GET", "/healthz", nil, http.StatusOK)
	if out["status"] != "ok" {
		t.Errorf("healthz = %v", out)
	}
}

func TestWebUI(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	for _, path := range []string{"/", "/app.js", "/style.css"} {
		req := httptest.NewRequest("GET", path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET %s: status %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
}

func TestUnknownAPIRoute(t *testing.T) {
	t.Parallel()
	h := newServer(t)
	status, out := do(t, h, "GET", "/api/no_such_things", nil)
	assertProblem(t, status, out, http.StatusNotFound)
}

var counter atomic.Int64

// seq returns a number no other call in this test binary returns, so that
// records made from it never collide on unique fields.
func seq() int { return int(counter.Add(1)) + 100 }

// recordPath returns the API path of a record answered by the API.
func recordPath(plural string, rec map[string]any) string {
	id, _ := rec["id"].(float64)
	return "/api/" + plural + "/" + strconv.FormatInt(int64(id), 10)
}

// raw marks a JSON literal to send as it is.
func raw(s string) json.RawMessage { return json.RawMessage(s) }

// items returns the records of a list answer.
func items(t *testing.T, list map[string]any) []map[string]any {
	t.Helper()
	xs, ok := list["items"].([]any)
	if !ok {
		t.Fatalf("list answer has no items: %v", list)
	}
	out := make([]map[string]any, len(xs))
	for i, x := range xs {
		out[i], _ = x.(map[string]any)
	}
	return out
}
