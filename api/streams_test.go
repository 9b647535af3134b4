package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"pgregory.net/rapid"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/eventbus"
	"github.com/kiln-build/kiln/queue"
	"github.com/kiln-build/kiln/sqlstore"
)

// streamEnv is an API server with live event streams over a fresh SQLite
// store; the test plays the worker through Work.
type streamEnv struct {
	srv  *httptest.Server
	api  *api.Server
	db   *sqlstore.DB
	bus  *eventbus.Bus
	work kiln.BuildWork
}

func mustStreamEnv(tb testing.TB, sc api.StreamConfig, buffer int) *streamEnv {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqlstore.Open(ctx, filepath.Join(tb.TempDir(), "kiln.db"), sqlstore.Options{Logger: quiet})
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
	events := sqlstore.NewBuildEventService(db)
	bus := eventbus.New(eventbus.Config{Source: events, Buffer: buffer, PollInterval: time.Minute, Logger: quiet})
	l, err := db.Listen(ctx, bus.Publish, bus.Resync)
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx)
	}()
	s := api.New(api.Config{
		Auth: authSvc, Users: sqlstore.NewUserService(db), Apps: sqlstore.NewAppService(db),
		Builds: sqlstore.NewBuildService(db), Events: events, Bus: bus, Stream: sc, Logger: quiet,
	})
	srv := httptest.NewServer(s)
	tb.Cleanup(func() {
		s.Shutdown()
		srv.CloseClientConnections()
		srv.Close()
		bus.Close()
		cancel()
		<-done
	})
	return &streamEnv{srv: srv, api: s, db: db, bus: bus, work: sqlstore.NewBuildWork(db)}
}

// build creates an app for the token's user and claims its build.
func (e *streamEnv) build(tb testing.TB, token string) int64 {
	tb.Helper()
	r := do(tb, e.srv, "POST", "/v1/apps", token, strings.NewReader(`{"description":"a todo app with tasks (title)"}`))
	var out struct{ Build kiln.Build }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &out) != nil {
		tb.Fatalf("create app: %d %s", r.status, r.body)
	}
	if _, _, err := e.work.ClaimBuild(context.Background(), out.Build.ID, "lease", time.Now().Add(-time.Hour)); err != nil {
		tb.Fatal(err)
	}
	return out.Build.ID
}

// logs appends n lines to a build.
func (e *streamEnv) logs(tb testing.TB, id int64, n int, prefix string) {
	tb.Helper()
	lines := make([]*kiln.LogLine, n)
	for i := range lines {
		lines[i] = &kiln.LogLine{Stream: kiln.StreamStdout, Text: fmt.Sprintf("%s %d", prefix, i)}
	}
	if err := e.work.AppendLogs(context.Background(), id, lines); err != nil {
		tb.Error(err)
	}
}

func (e *streamEnv) finish(tb testing.TB, id int64) {
	tb.Helper()
	if err := e.work.FinishBuild(context.Background(), id, "lease", kiln.BuildSucceeded, ""); err != nil {
		tb.Error(err)
	}
}

// sse is a test client of one SSE stream.
type sse struct {
	resp *http.Response
	br   *bufio.Reader
}

type sseMsg struct {
	id, event, data string
	comment         bool
}

func openSSE(tb testing.TB, e *streamEnv, path, token string, hdr ...string) (*sse, response) {
	tb.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return nil, response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		tb.Fatalf("content type %q", ct)
	}
	s := &sse{resp: resp, br: bufio.NewReader(resp.Body)}
	tb.Cleanup(s.close)
	return s, response{status: resp.StatusCode, header: resp.Header}
}

func (s *sse) close() { s.resp.Body.Close() }

// next returns the next message or comment.
func (s *sse) next() (sseMsg, error) {
	var m sseMsg
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return m, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if m.comment || m.data != "" || m.event != "" {
				return m, nil
			}
		case strings.HasPrefix(line, ":"):
			m.comment, m.data = true, strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			m.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			m.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			m.data = line[6:]
		case strings.HasPrefix(line, "retry: "):
		default:
			return m, fmt.Errorf("unexpected SSE line %q", line)
		}
	}
}

// event returns the next event, skipping pings; a close event comes back
// as an error naming its code.
func (s *sse) event(tb testing.TB) (*kiln.BuildEvent, error) {
	tb.Helper()
	for {
		m, err := s.next()
		if err != nil {
			return nil, err
		}
		if m.comment {
			continue
		}
		if m.event == "close" {
			return nil, closeError(m.data)
		}
		var e kiln.BuildEvent
		if err := json.Unmarshal([]byte(m.data), &e); err != nil {
			tb.Fatalf("event data %q: %v", m.data, err)
		}
		want := e.Seq
		if strings.Contains(s.resp.Request.URL.Path, "/v1/events") {
			want = e.UserSeq
		}
		if m.id != strconv.FormatInt(want, 10) {
			tb.Fatalf("SSE id %q for event %+v", m.id, e)
		}
		return &e, nil
	}
}

type closedError struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func (e *closedError) Error() string { return fmt.Sprintf("closed %d: %s", e.Code, e.Reason) }

func closeError(data string) error {
	var c closedError
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return fmt.Errorf("bad close data %q", data)
	}
	return &c
}

func closeCode(err error) int {
	var c *closedError
	if errors.As(err, &c) {
		return c.Code
	}
	return int(websocket.CloseStatus(err))
}

// untilClose reads events until the stream closes and returns them with
// the close error.
func (s *sse) untilClose(tb testing.TB) ([]*kiln.BuildEvent, error) {
	tb.Helper()
	var out []*kiln.BuildEvent
	for {
		e, err := s.event(tb)
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func dialWS(tb testing.TB, e *streamEnv, path, token string) (*websocket.Conn, *http.Response, error) {
	tb.Helper()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
	if token != "" {
		opts.HTTPHeader.Set("Authorization", "Bearer "+token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+path, opts)
	if err == nil {
		tb.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func readWS(tb testing.TB, c *websocket.Conn) (*kiln.BuildEvent, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		tb.Fatalf("message type %v", typ)
	}
	var e kiln.BuildEvent
	if err := json.Unmarshal(b, &e); err != nil {
		tb.Fatalf("message %q: %v", b, err)
	}
	return &e, nil
}

// readWSBatch reads one message of a batch=true stream: a JSON array of
// events. It returns them with the message's size.
func readWSBatch(tb testing.TB, c *websocket.Conn) ([]*kiln.BuildEvent, int, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		return nil, 0, err
	}
	if typ != websocket.MessageText {
		tb.Fatalf("message type %v", typ)
	}
	var events []*kiln.BuildEvent
	if err := json.Unmarshal(b, &events); err != nil || len(events) == 0 {
		tb.Fatalf("message %.200q is not a non-empty JSON array of events: %v", b, err)
	}
	return events, len(b), nil
}

func kinds(events []*kiln.BuildEvent) string {
	var out []string
	for _, e := range events {
		out = append(out, string(e.Kind))
	}
	return strings.Join(out, " ")
}

func TestBuildEventsSSE(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	id := e.build(t, tok)
	e.logs(t, id, 2, "before")

	s, _ := openSSE(t, e, fmt.Sprintf("/v1/builds/%d/events", id), tok)
	var got []*kiln.BuildEvent
	for len(got) < 3 {
		ev, err := s.event(t)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if kinds(got) != "status log log" || got[1].Log.Text != "before 0" {
		t.Fatalf("replay: %s", kinds(got))
	}
	e.logs(t, id, 3, "live")
	e.finish(t, id)
	rest, err := s.untilClose(t)
	if closeCode(err) != api.CloseEnded {
		t.Fatalf("stream ended with %v", err)
	}
	got = append(got, rest...)
	if kinds(got) != "status log log log log log end" || got[4].Log.Text != "live 1" || got[6].End.Status != kiln.BuildSucceeded {
		t.Fatalf("events: %s", kinds(got))
	}
	for i, ev := range got {
		if ev.Seq != int64(i+1) || ev.BuildID != id {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if _, err := s.next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the close event: %v, want EOF", err)
	}

	// An ended build replays and closes.
	s, _ = openSSE(t, e, fmt.Sprintf("/v1/builds/%d/events?after=5", id), tok)
	rest, err = s.untilClose(t)
	if kinds(rest) != "log end" || rest[0].Seq != 6 || closeCode(err) != api.CloseEnded {
		t.Fatalf("replay of an ended build: %s %v", kinds(rest), err)
	}
	s, _ = openSSE(t, e, fmt.Sprintf("/v1/builds/%d/events", id), tok, "Last-Event-ID", "7")
	rest, err = s.untilClose(t)
	if len(rest) != 0 || closeCode(err) != api.CloseEnded {
		t.Fatalf("resume at the end: %s %v", kinds(rest), err)
	}
}

func TestBuildEventsWebSocket(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	id := e.build(t, tok)
	e.logs(t, id, 1, "before")
	c, _, err := dialWS(t, e, fmt.Sprintf("/v1/builds/%d/events?after=1", id), tok)
	if err != nil {
		t.Fatal(err)
	}
	first, err := readWS(t, c)
	if err != nil || first.Seq != 2 || first.Log.Text != "before 0" {
		t.Fatalf("first message: %+v %v", first, err)
	}
	e.logs(t, id, 2, "live")
	e.finish(t, id)
	var got []*kiln.BuildEvent
	for {
		ev, err := readWS(t, c)
		if err != nil {
			if websocket.CloseStatus(err) != api.CloseEnded {
				t.Fatalf("closed with %v", err)
			}
			break
		}
		got = append(got, ev)
	}
	if kinds(got) != "log log end" || got[0].Seq != 3 {
		t.Fatalf("live: %s", kinds(got))
	}
}

func TestStreamAuth(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	ada := MustToken(t, e.srv, "ada@example.com")
	bob := MustToken(t, e.srv, "bob@example.com")
	id := e.build(t, ada)
	path := fmt.Sprintf("/v1/builds/%d/events", id)

	t.Run("OtherUsersBuild", func(t *testing.T) {
		_, r := openSSE(t, e, path, bob)
		if r.status != http.StatusNotFound || r.problem(t)["code"] != "not_found" {
			t.Fatalf("SSE: %d %s", r.status, r.body)
		}
		_, resp, err := dialWS(t, e, path, bob)
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("WebSocket: %v %v", resp, err)
		}
	})
	t.Run("Unauthenticated", func(t *testing.T) {
		_, r := openSSE(t, e, path, "")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("%d %s", r.status, r.body)
		}
		_, r = openSSE(t, e, path+"?ticket=kst_forged", "")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("forged ticket: %d %s", r.status, r.body)
		}
	})
	t.Run("TicketSingleUse", func(t *testing.T) {
		r := do(t, e.srv, "POST", "/v1/stream-tickets", ada, nil)
		var tk kiln.StreamTicket
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &tk) != nil || !tk.ExpiresAt.After(time.Now()) {
			t.Fatalf("ticket: %d %s", r.status, r.body)
		}
		c, _, err := dialWS(t, e, path+"?ticket="+tk.Ticket, "")
		if err != nil {
			t.Fatalf("dial with ticket: %v", err)
		}
		if ev, err := readWS(t, c); err != nil || ev.Kind != kiln.EventStatus {
			t.Fatalf("first event: %+v %v", ev, err)
		}
		_, resp, err := dialWS(t, e, path+"?ticket="+tk.Ticket, "")
		if err == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("second use: %v %v", resp, err)
		}
		r = do(t, e.srv, "POST", "/v1/stream-tickets", "", nil)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("ticket without a user: %d", r.status)
		}
	})
	t.Run("ExpiredTicket", func(t *testing.T) {
		for _, transport := range []string{"SSE", "WebSocket"} {
			r := do(t, e.srv, "POST", "/v1/stream-tickets", ada, nil)
			var tk kiln.StreamTicket
			if r.status != http.StatusCreated || json.Unmarshal(r.body, &tk) != nil {
				t.Fatalf("ticket: %d %s", r.status, r.body)
			}
			// Let every ticket run out.
			if _, err := e.db.Writer().Exec("UPDATE stream_tickets SET expires_at = created_at"); err != nil {
				t.Fatal(err)
			}
			if transport == "SSE" {
				_, r = openSSE(t, e, path+"?ticket="+tk.Ticket, "")
				if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "stream ticket expired") {
					t.Fatalf("SSE with an expired ticket: %d %s", r.status, r.body)
				}
				continue
			}
			_, resp, err := dialWS(t, e, path+"?ticket="+tk.Ticket, "")
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("WebSocket with an expired ticket: %v %v", resp, err)
			}
		}
	})
	t.Run("OtherUsersTicket", func(t *testing.T) {
		r := do(t, e.srv, "POST", "/v1/stream-tickets", bob, nil)
		var tk kiln.StreamTicket
		if json.Unmarshal(r.body, &tk) != nil {
			t.Fatal(string(r.body))
		}
		_, r = openSSE(t, e, path+"?ticket="+tk.Ticket, "")
		if r.status != http.StatusNotFound {
			t.Fatalf("bob's ticket on ada's build: %d %s", r.status, r.body)
		}
	})
}

func TestStreamBadPositions(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	id := e.build(t, tok)
	for _, tc := range []struct{ path, hdr, field string }{
		{fmt.Sprintf("/v1/builds/%d/events?after=99", id), "", "after"},
		{fmt.Sprintf("/v1/builds/%d/events?after=-1", id), "", "after"},
		{fmt.Sprintf("/v1/builds/%d/events", id), "nope", "Last-Event-ID"},
		{"/v1/events?after=99", "", "after"},
	} {
		_, r := openSSE(t, e, tc.path, tok, "Last-Event-ID", tc.hdr)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), tc.field) {
			t.Errorf("%s (Last-Event-ID %q): %d %s", tc.path, tc.hdr, r.status, r.body)
		}
	}
}

func TestUserEvents(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	ada := MustToken(t, e.srv, "ada@example.com")
	bob := MustToken(t, e.srv, "bob@example.com")
	first := e.build(t, ada)
	s, _ := openSSE(t, e, "/v1/events", ada)
	second := e.build(t, ada)
	e.build(t, bob)
	e.logs(t, first, 1, "one")
	e.logs(t, second, 1, "two")
	var got []*kiln.BuildEvent
	for len(got) < 4 {
		ev, err := s.event(t)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	for i, ev := range got {
		if ev.UserSeq != int64(i+1) {
			t.Fatalf("event %d has user_seq %d", i, ev.UserSeq)
		}
	}
	if got[0].BuildID != first || got[1].BuildID != second || got[3].Log.Text != "two 0" {
		t.Fatalf("events: %+v", got)
	}
	s.close()
	s, _ = openSSE(t, e, "/v1/events", ada, "Last-Event-ID", "3")
	if ev, err := s.event(t); err != nil || ev.UserSeq != 4 {
		t.Fatalf("resume: %+v %v", ev, err)
	}
}

func TestStreamLimitsAndKeepalive(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{MaxPerUser: 2, PingInterval: 20 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	id := e.build(t, tok)
	path := fmt.Sprintf("/v1/builds/%d/events?after=1", id)

	a, _ := openSSE(t, e, path, tok)
	c, _, err := dialWS(t, e, path, tok)
	if err != nil {
		t.Fatal(err)
	}
	_, r := openSSE(t, e, path, tok)
	if r.status != http.StatusTooManyRequests || r.problem(t)["code"] != "rate_limited" {
		t.Fatalf("third stream: %d %s", r.status, r.body)
	}
	m, err := a.next()
	if err != nil || !m.comment || m.data != "ping" {
		t.Fatalf("keepalive: %+v %v", m, err)
	}
	_, err = a.untilClose(t)
	if closeCode(err) != api.CloseIdle || !strings.Contains(err.Error(), "resume with after=1") {
		t.Fatalf("idle stream: %v", err)
	}
	if _, err := readWS(t, c); websocket.CloseStatus(err) != api.CloseIdle {
		t.Fatalf("idle WebSocket: %v", err)
	}
	waitFor(t, func() bool { return e.api.OpenStreams() == 0 })
	b, _ := openSSE(t, e, path, tok)
	b.close()
}

func TestStreamShutdown(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	id := e.build(t, tok)
	s, _ := openSSE(t, e, fmt.Sprintf("/v1/builds/%d/events", id), tok)
	c, _, err := dialWS(t, e, fmt.Sprintf("/v1/builds/%d/events", id), tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.event(t); err != nil {
		t.Fatal(err)
	}
	if _, err := readWS(t, c); err != nil {
		t.Fatal(err)
	}
	e.api.Shutdown()
	if _, err := s.untilClose(t); closeCode(err) != api.CloseGoingAway || !strings.Contains(err.Error(), "after=1") {
		t.Fatalf("SSE at shutdown: %v", err)
	}
	if _, err := readWS(t, c); websocket.CloseStatus(err) != api.CloseGoingAway {
		t.Fatalf("WebSocket at shutdown: %v", err)
	}
	_, r := openSSE(t, e, fmt.Sprintf("/v1/builds/%d/events", id), tok)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("a new stream while shutting down: %d", r.status)
	}
}

// TestStreamClientMessage: the stream only sends, so a WebSocket client
// that sends a message is closed with 1008 and its stream is freed at once.
func TestStreamClientMessage(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	id := e.build(t, tok)
	c, _, err := dialWS(t, e, fmt.Sprintf("/v1/builds/%d/events", id), tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readWS(t, c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"hello":"server"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := readWS(t, c)
		if err == nil {
			continue
		}
		if websocket.CloseStatus(err) != api.ClosePolicy {
			t.Fatalf("closed with %v, want %d", err, api.ClosePolicy)
		}
		break
	}
	// At once, not after a close handshake timeout.
	start := time.Now()
	for e.api.OpenStreams() != 0 {
		if time.Since(start) > 3*time.Second {
			t.Fatal("the stream is still open 3s after it closed the client")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStalledClientAlone has one client stop reading while another
// follows a busy build: the follower gets everything, and the stalled one
// is dropped, not waited for.
//
// With batch=true the follower gets JSON arrays: a feed read of 20 lines
// of 4 KB does not fit one 32 KiB message, so it comes as three or more,
// each within the bound, and nothing is lost at the seams.
func TestStalledClientAlone(t *testing.T) {
	t.Parallel()
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			t.Parallel()
			testStalledClientAlone(t, batch)
		})
	}
}

func testStalledClientAlone(t *testing.T, batch bool) {
	e := mustStreamEnv(t, api.StreamConfig{WriteTimeout: 300 * time.Millisecond}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	id := e.build(t, tok)
	path := fmt.Sprintf("/v1/builds/%d/events", id)
	stalled, _, err := dialWS(t, e, path, tok)
	if err != nil {
		t.Fatal(err)
	}
	if batch {
		path += "?batch=true"
	}
	follower, _, err := dialWS(t, e, path, tok)
	if err != nil {
		t.Fatal(err)
	}
	follower.SetReadLimit(1 << 20)
	const batches, perBatch = 100, 20 // 8 MB: more than socket buffers hold
	line := strings.Repeat("x", 4000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range batches {
			e.logs(t, id, perBatch, fmt.Sprintf("%s %d", line, i))
		}
		e.finish(t, id)
	}()
	defer func() { <-done }()
	n, messages := 0, 0
	for {
		var events []*kiln.BuildEvent
		if batch {
			var size int
			events, size, err = readWSBatch(t, follower)
			if len(events) > 1 && size > 32<<10 {
				t.Fatalf("a message of %d events is %d bytes, over 32 KiB", len(events), size)
			}
		} else {
			var ev *kiln.BuildEvent
			ev, err = readWS(t, follower)
			events = []*kiln.BuildEvent{ev}
		}
		if err != nil {
			if websocket.CloseStatus(err) != api.CloseEnded {
				t.Fatalf("follower closed after %d events: %v", n, err)
			}
			break
		}
		messages++
		for _, ev := range events {
			n++
			if ev.Seq != int64(n) {
				t.Fatalf("follower got seq %d as event %d", ev.Seq, n)
			}
		}
	}
	<-done
	if want := 1 + batches*perBatch + 1; n != want {
		t.Fatalf("follower got %d events, want %d", n, want)
	}
	if batch && messages*4 > n {
		t.Errorf("%d events came in %d messages: batching did not batch", n, messages)
	}
	// The stalled client is gone from the server; reading now it finds
	// what the kernel buffered, then the end of the connection.
	waitFor(t, func() bool { return e.api.OpenStreams() == 0 })
	for {
		if _, err := readWS(t, stalled); err != nil {
			break
		}
	}
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestResumeNoGapsNoDuplicates follows builds while they run, dropping the
// connection at random points and resuming over a random transport, and
// checks that every event arrives exactly once, in order.
func TestResumeNoGapsNoDuplicates(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	rapid.Check(t, func(rt *rapid.T) {
		id := e.build(t, tok)
		batches := rapid.SliceOfN(rapid.IntRange(1, 30), 1, 15).Draw(rt, "batches")
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i, n := range batches {
				e.logs(t, id, n, fmt.Sprintf("batch %d", i))
			}
			e.finish(t, id)
		}()
		defer func() { <-done }()
		var got []int64
		for attempt := 0; ; attempt++ {
			if attempt > 200 {
				rt.Fatal("too many reconnects")
			}
			after := int64(len(got))
			stopAfter := rapid.IntRange(1, 40).Draw(rt, "readThenDrop")
			path := fmt.Sprintf("/v1/builds/%d/events", id)
			ended := false
			switch transport := rapid.SampledFrom([]string{"websocket", "websocket-batch", "sse"}).Draw(rt, "transport"); transport {
			case "websocket", "websocket-batch":
				batch := transport == "websocket-batch"
				c, _, err := dialWS(t, e, fmt.Sprintf("%s?after=%d&batch=%v", path, after, batch), tok)
				if err != nil {
					rt.Fatalf("dial: %v", err)
				}
				for range stopAfter {
					var events []*kiln.BuildEvent
					if batch {
						events, _, err = readWSBatch(t, c)
					} else {
						var ev *kiln.BuildEvent
						ev, err = readWS(t, c)
						events = []*kiln.BuildEvent{ev}
					}
					if err != nil {
						if websocket.CloseStatus(err) != api.CloseEnded {
							rt.Fatalf("closed: %v", err)
						}
						ended = true
						break
					}
					for _, ev := range events {
						got = append(got, ev.Seq)
					}
				}
				c.CloseNow()
			default:
				hdr := []string{}
				if after > 0 {
					hdr = []string{"Last-Event-ID", strconv.FormatInt(after, 10)}
				}
				s, r := openSSE(t, e, path, tok, hdr...)
				if s == nil {
					rt.Fatalf("open: %d %s", r.status, r.body)
				}
				for range stopAfter {
					ev, err := s.event(t)
					if err != nil {
						if closeCode(err) != api.CloseEnded {
							rt.Fatalf("closed: %v", err)
						}
						ended = true
						break
					}
					got = append(got, ev.Seq)
				}
				s.close()
			}
			for i, seq := range got {
				if seq != int64(i+1) {
					rt.Fatalf("event %d has seq %d: %v", i, seq, got)
				}
			}
			if ended {
				break
			}
		}
		total := 2 // the queued status and the end
		for _, n := range batches {
			total += n
		}
		if len(got) != total {
			rt.Fatalf("got %d events, want %d", len(got), total)
		}
	})
}

func TestLogText(t *testing.T) {
	t.Parallel()
	e := mustStreamEnv(t, api.StreamConfig{}, 0)
	tok := MustToken(t, e.srv, "ada@example.com")
	bob := MustToken(t, e.srv, "bob@example.com")
	id := e.build(t, tok)
	e.logs(t, id, 5001, "line") // more than one page
	if err := e.work.AppendLogs(context.Background(), id, []*kiln.LogLine{{Stream: kiln.StreamStderr, Text: "oops"}, {Text: "done"}}); err != nil {
		t.Fatal(err)
	}
	r := do(t, e.srv, "GET", fmt.Sprintf("/v1/builds/%d/logs?format=text", id), tok, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(r.header.Get("Content-Disposition"), fmt.Sprintf("build-%d.log", id)) {
		t.Fatalf("%d %v", r.status, r.header)
	}
	lines := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
	if len(lines) != 5003 || !strings.HasSuffix(lines[0], " line 0") || !strings.HasSuffix(lines[5000], " line 5000") ||
		!strings.HasSuffix(lines[5001], " ! oops") || !strings.HasSuffix(lines[5002], " ==> done") {
		t.Fatalf("%d lines; first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(lines[0])[0]); err != nil {
		t.Errorf("line time: %v", err)
	}
	r = do(t, e.srv, "GET", fmt.Sprintf("/v1/builds/%d/logs?format=text", id), bob, nil)
	if r.status != http.StatusNotFound {
		t.Errorf("bob: %d", r.status)
	}
	r = do(t, e.srv, "GET", fmt.Sprintf("/v1/builds/%d/logs?limit=2&after=1", id), tok, nil)
	var page struct {
		Items     []kiln.LogLine `json:"items"`
		NextAfter int64          `json:"next_after"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil || len(page.Items) != 2 || page.NextAfter != 3 {
		t.Fatalf("JSON page: %d %s", r.status, r.body)
	}
	r = do(t, e.srv, "GET", fmt.Sprintf("/v1/builds/%d/logs?format=xml", id), tok, nil)
	if r.status != http.StatusUnprocessableEntity {
		t.Errorf("format=xml: %d", r.status)
	}
}
