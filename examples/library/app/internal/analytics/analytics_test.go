package analytics_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"example.com/library/internal/analytics"
)

// fakeKiln is a stand-in of Kiln's ingest endpoint that records what it
// receives and answers with the statuses in answers, then 202.
type fakeKiln struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []int
	requests int
	events   []analytics.Event
	keys     []string
}

func newFakeKiln(t *testing.T, answers ...int) *fakeKiln {
	t.Helper()
	k := &fakeKiln{answers: answers}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.requests++
		k.keys = append(k.keys, r.Header.Get("Authorization"))
		if len(k.answers) > 0 {
			status := k.answers[0]
			k.answers = k.answers[1:]
			w.WriteHeader(status)
			return
		}
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			var e analytics.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("event %q: %v", sc.Text(), err)
			}
			k.events = append(k.events, e)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *fakeKiln) got() (requests int, events []analytics.Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.requests, append([]analytics.Event(nil), k.events...)
}

func mustClose(t *testing.T, c *analytics.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSendsBatches(t *testing.T) {
	kiln := newFakeKiln(t)
	c := analytics.New(analytics.Config{URL: kiln.URL, Key: "kiln_ik_test", BatchSize: 10, FlushInterval: time.Hour})
	for range 25 {
		c.Track("signup", map[string]any{"plan": "pro"})
	}
	mustClose(t, c)
	requests, events := kiln.got()
	if requests != 3 || len(events) != 25 {
		t.Fatalf("%d requests with %d events, want 3 with 25", requests, len(events))
	}
	if e := events[0]; e.Name != "signup" || e.Properties["plan"] != "pro" || e.Time.IsZero() {
		t.Fatalf("event %+v", e)
	}
	if kiln.keys[0] != "Bearer kiln_ik_test" {
		t.Fatalf("authorization %q", kiln.keys[0])
	}
	if s := c.Stats(); s.Sent != 25 || s.Dropped != 0 || s.Failed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMiddlewareRecordsRequests(t *testing.T) {
	kiln := newFakeKiln(t)
	c := analytics.New(analytics.Config{URL: kiln.URL, Key: "kiln_ik_test"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "1" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	})
	h := c.Middleware(mux)
	for _, path := range []string{"/api/items/1", "/api/items/2", "/nowhere"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	mustClose(t, c)
	_, events := kiln.got()
	if len(events) != 3 {
		t.Fatalf("%d events", len(events))
	}
	want := []struct {
		route  string
		status float64
	}{
		{"GET /api/items/{id}", 200},
		{"GET /api/items/{id}", 404},
		{"unmatched", 404},
	}
	for i, w := range want {
		e := events[i]
		if e.Name != "request" || e.Properties["route"] != w.route || e.Properties["method"] != "GET" || e.Properties["status"] != w.status || e.Value == nil || *e.Value < 0 {
			t.Errorf("event %d: %+v, want route %q status %v", i, e, w.route, w.status)
		}
	}
}

func TestRetriesWithBackoff(t *testing.T) {
	kiln := newFakeKiln(t, http.StatusServiceUnavailable, http.StatusTooManyRequests)
	c := analytics.New(analytics.Config{URL: kiln.URL, Key: "k", MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	for range 5 {
		c.Track("x", nil)
	}
	mustClose(t, c)
	requests, events := kiln.got()
	if requests != 3 || len(events) != 5 {
		t.Fatalf("%d requests, %d events: want the batch delivered once on the third try", requests, len(events))
	}
}

func TestRefusedBatchIsDropped(t *testing.T) {
	kiln := newFakeKiln(t, http.StatusUnauthorized)
	c := analytics.New(analytics.Config{URL: kiln.URL, Key: "revoked", MinBackoff: time.Millisecond})
	for range 5 {
		c.Track("x", nil)
	}
	mustClose(t, c)
	if requests, _ := kiln.got(); requests != 1 {
		t.Fatalf("%d requests: a refused key is not retried", requests)
	}
	if s := c.Stats(); s.Failed != 5 || s.Sent != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestKilnDown: with nothing listening, tracking never blocks, the queue
// overflow is dropped and counted, requests are served, and Close ends.
func TestKilnDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/v1/ingest"
	ln.Close()
	c := analytics.New(analytics.Config{URL: url, Key: "k", QueueSize: 100, BatchSize: 10, MinBackoff: time.Millisecond, MaxAttempts: 2})
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for range 5000 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("status %d", rec.Code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx) // may report undelivered events; it must return
	s := c.Stats()
	if s.Dropped == 0 || s.Sent != 0 || s.Dropped+s.Failed > 5000 {
		t.Fatalf("stats %+v", s)
	}
}

// TestKilnSlow: while Kiln does not answer, requests are served at once,
// events beyond the queue are dropped, and Close gives up at its deadline.
func TestKilnSlow(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	c := analytics.New(analytics.Config{URL: slow.URL, Key: "k", QueueSize: 50, BatchSize: 10})
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for range 10 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	<-entered // the first batch is stuck in Kiln
	for range 1000 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	if s := c.Stats(); s.Dropped < 1000-50 {
		t.Fatalf("stats %+v: the overflow should be dropped", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v", err)
	}
}

func TestOffWithoutSettings(t *testing.T) {
	envs := []map[string]string{
		{},
		{"KILN_INGEST_URL": "http://kiln/v1/ingest"},
		{"KILN_APP_KEY": "kiln_ik_x"},
	}
	for _, env := range envs {
		c := analytics.FromEnv(func(k string) string { return env[k] }, nil)
		if c != nil {
			t.Fatalf("%v: analytics on", env)
		}
		h := http.NotFoundHandler()
		if got := c.Middleware(h); got == nil {
			t.Fatal("nil handler")
		}
		c.Track("x", nil)
		if err := c.Close(context.Background()); err != nil || c.Stats() != (analytics.Stats{}) {
			t.Fatal(err)
		}
	}
}
