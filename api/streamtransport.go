package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/kiln-build/kiln/eventbus"
)

// maxCloseReason is the longest close reason a WebSocket close frame holds.
const maxCloseReason = 123

// serveWebSocket upgrades the request and runs the stream over it: one
// event as JSON per text message (or, batched, JSON arrays of events), pings as WebSocket pings, and a close
// frame with one of the Close* codes at the end. The stream runs on its
// own goroutine and the handler returns: the connection is the stream's
// now, and the handler's deep stack is not kept for hours by an idle
// watcher. cleanup runs when the stream ends.
func (st *session) serveWebSocket(w http.ResponseWriter, r *http.Request, cleanup func()) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		cleanup()
		st.log.Info("event stream: websocket upgrade refused", slog.Any("error", err))
		return // Accept answered the request
	}
	ctx := readUntilClosed(conn, context.WithoutCancel(r.Context()))
	go func() {
		defer cleanup()
		defer conn.CloseNow()
		st.run(ctx, &wsSink{conn: conn, timeout: st.srv.streams.cfg.WriteTimeout, batch: st.batch})
	}()
}

// readUntilClosed reads the connection in the background, which answers
// pings and the close handshake: the stream only sends, so a message from
// the client closes the connection with ClosePolicy. The returned context
// ends when the connection does (the client left or the stream closed it).
//
// It is coder/websocket's Conn.CloseRead without its wait on itself: the
// close that CloseRead's goroutine starts waits for that same goroutine to
// end, so a client that sent a message held its stream for 15 seconds.
func readUntilClosed(conn *websocket.Conn, parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		defer cancel()
		if _, _, err := conn.Reader(ctx); err == nil {
			_ = conn.Close(ClosePolicy, "streams only send: the client sent a message")
		}
	}()
	return ctx
}

// maxBatchMessage bounds a batched WebSocket message: events go into one
// JSON array until the next would take it past this many bytes (an event
// bigger than that goes alone). 32 KiB is the smallest read limit common
// WebSocket libraries default to (coder/websocket's), and is still a
// couple of hundred typical log lines: a watcher that fell behind by a
// second of a busy build catches up in a few messages.
const maxBatchMessage = 32 << 10

type wsSink struct {
	conn    *websocket.Conn
	timeout time.Duration
	batch   bool // JSON arrays of events
}

// batchBufs holds the buffers batched messages are built in, shared by
// every stream so that an idle watcher holds none.
var batchBufs = sync.Pool{New: func() any { return new([]byte) }}

// send writes the events, one per message or, batched, as few JSON arrays
// as maxBatchMessage allows: one write (and one system call) for every
// pending event instead of one each is what lets a node feed a thousand
// watchers of a build that logs a thousand lines a second.
func (s *wsSink) send(ctx context.Context, items []*eventbus.Item, _ bool) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if !s.batch {
		for _, it := range items {
			if err := s.conn.Write(ctx, websocket.MessageText, it.JSON()); err != nil {
				return fmt.Errorf("write event: %w", err)
			}
		}
		return nil
	}
	bp := batchBufs.Get().(*[]byte)
	b, err := writeBatches((*bp)[:0], items, maxBatchMessage, func(msg []byte) error {
		if err := s.conn.Write(ctx, websocket.MessageText, msg); err != nil {
			return fmt.Errorf("write events: %w", err)
		}
		return nil
	})
	if cap(b) <= 2*maxBatchMessage { // one huge event's buffer is not kept
		*bp = b
		batchBufs.Put(bp)
	}
	return err
}

// writeBatches writes items as JSON arrays of events in order, each at most
// limit bytes unless it holds a single bigger event, building them in buf.
// It returns buf, grown, for reuse.
func writeBatches(buf []byte, items []*eventbus.Item, limit int, write func([]byte) error) ([]byte, error) {
	b := buf[:0]
	flush := func() error {
		b = append(b, ']')
		err := write(b)
		b = b[:0]
		return err
	}
	for _, it := range items {
		j := it.JSON()
		if len(b) > 0 && len(b)+1+len(j)+1 > limit {
			if err := flush(); err != nil {
				return b, err
			}
		}
		if len(b) == 0 {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		b = append(b, j...)
	}
	if len(b) == 0 {
		return b, nil
	}
	return b, flush()
}

func (s *wsSink) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.conn.Ping(ctx)
}

func (s *wsSink) close(code int, reason string) {
	if len(reason) > maxCloseReason {
		reason = reason[:maxCloseReason]
	}
	_ = s.conn.Close(websocket.StatusCode(code), reason)
}

// serveSSE runs the stream as Server-Sent Events: "id: POSITION" and
// "data: EVENT-JSON" per event, ": ping" comments as keepalive, and an
// "event: close" whose data holds the close code and reason at the end.
func (st *session) serveSSE(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	s := &sseSink{w: w, rc: http.NewResponseController(w), timeout: st.srv.streams.cfg.WriteTimeout}
	// Clients reconnect after two seconds unless told otherwise.
	if err := s.write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	st.run(r.Context(), s)
}

type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
}

// write writes and flushes b within the write timeout.
func (s *sseSink) write(b []byte) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	_ = s.rc.SetWriteDeadline(time.Time{})
	return nil
}

func (s *sseSink) send(_ context.Context, items []*eventbus.Item, owner bool) error {
	b := s.buf[:0]
	for _, it := range items {
		pos := it.Event.Seq
		if owner {
			pos = it.Event.UserSeq
		}
		b = append(b, "id: "...)
		b = strconv.AppendInt(b, pos, 10)
		b = append(b, "\ndata: "...)
		b = append(b, it.JSON()...) // JSON has no raw newlines
		b = append(b, "\n\n"...)
	}
	s.buf = b[:0]
	if cap(s.buf) > 64<<10 {
		s.buf = nil // keep idle streams small after a burst
	}
	return s.write(b)
}

func (s *sseSink) ping(context.Context) error { return s.write([]byte(": ping\n\n")) }

func (s *sseSink) close(code int, reason string) {
	data, _ := json.Marshal(struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	}{code, reason})
	_ = s.write(fmt.Appendf(nil, "event: close\ndata: %s\n\n", data))
}
