// Package analytics sends Library's usage events to the Kiln server that
// generated it, when KILN_INGEST_URL and KILN_APP_KEY are set: one event
// per HTTP request (Middleware) and any custom event (Track).
//
// It never slows or breaks the app. Track only hands the event to a
// bounded queue and returns; a background goroutine sends batches, retries
// failed ones with exponential backoff, and when the queue is full because
// Kiln is slow or down, new events are dropped and counted (Stats) rather
// than waited for.
package analytics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultBatchSize     = 100
	DefaultFlushInterval = 2 * time.Second
	DefaultQueueSize     = 10000
	DefaultMinBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultMaxAttempts   = 6
	DefaultTimeout       = 5 * time.Second
)

// maxBatch is the most events Kiln takes in one request.
const maxBatch = 1000

// Config configures a Client. Zero values take the defaults.
type Config struct {
	URL string // the ingest endpoint, e.g. https://kiln.example.com/v1/ingest
	Key string // the app's ingest key, kiln_ik_…

	BatchSize     int           // events per request, at most 1000
	FlushInterval time.Duration // the longest an event waits for its batch
	QueueSize     int           // events waiting to be sent; past it they are dropped
	MinBackoff    time.Duration // the first wait before a retry, doubled each time
	MaxBackoff    time.Duration
	MaxAttempts   int // tries per batch before it is dropped
	HTTPClient    *http.Client
	Logger        *slog.Logger
}

// Event is one thing that happened. Properties are flat: strings, numbers
// and booleans.
type Event struct {
	Name       string         `json:"name"`
	Time       time.Time      `json:"timestamp"`
	UserID     string         `json:"user_id,omitempty"`
	SessionID  string         `json:"session_id,omitempty"`
	Value      *float64       `json:"value,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Stats counts what became of the events.
type Stats struct {
	Sent    int64 // accepted by Kiln
	Dropped int64 // not queued because the queue was full, or sent after Close
	Failed  int64 // given up on: refused by Kiln or still failing after MaxAttempts
}

// Client sends events in the background. A nil *Client is valid and does
// nothing, so the app needs no checks when analytics is off.
type Client struct {
	cfg   Config
	queue chan Event
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	// cancel ends the sends in progress when Close's deadline passes.
	cancel context.CancelFunc

	sent, dropped, failed atomic.Int64
	warned                atomic.Bool
}

// FromEnv returns a started Client configured by KILN_INGEST_URL and
// KILN_APP_KEY, or nil (analytics off) when either is unset.
func FromEnv(getenv func(string) string, log *slog.Logger) *Client {
	url, key := strings.TrimSpace(getenv("KILN_INGEST_URL")), strings.TrimSpace(getenv("KILN_APP_KEY"))
	if url == "" || key == "" {
		return nil
	}
	return New(Config{URL: url, Key: key, Logger: log})
}

// New returns a started Client.
func New(cfg Config) *Client {
	if cfg.BatchSize <= 0 || cfg.BatchSize > maxBatch {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{cfg: cfg, queue: make(chan Event, cfg.QueueSize), stop: make(chan struct{}), done: make(chan struct{})}
	sendCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(sendCtx)
	return c
}

// Track records a custom event with properties (strings, numbers or
// booleans). It never blocks.
func (c *Client) Track(name string, properties map[string]any) {
	c.TrackEvent(Event{Name: name, Properties: properties})
}

// TrackEvent records an event, stamped with the current time when it has
// none. It never blocks: with the queue full the event is dropped.
func (c *Client) TrackEvent(e Event) {
	if c == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	select {
	case <-c.stop:
		c.dropped.Add(1)
		return
	default:
	}
	select {
	case c.queue <- e:
	default:
		c.dropped.Add(1)
	}
}

// Stats returns the counts so far.
func (c *Client) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	return Stats{Sent: c.sent.Load(), Dropped: c.dropped.Load(), Failed: c.failed.Load()}
}

// Middleware records one "request" event per request: the route pattern
// that served it (as "GET /api/items/{id}"; "unmatched" when none did),
// the method, the status and, as its value, the duration in milliseconds.
// With a nil Client it returns next unchanged.
func (c *Client) Middleware(next http.Handler) http.Handler {
	if c == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			route := r.Pattern // set by http.ServeMux on this request
			if route == "" {
				route = "unmatched"
			}
			ms := float64(time.Since(start).Microseconds()) / 1000
			c.TrackEvent(Event{Name: "request", Time: start, Value: &ms, Properties: map[string]any{
				"route": route, "method": r.Method, "status": rec.status,
			}})
		}()
		next.ServeHTTP(rec, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Close stops taking events and sends those queued, until ctx ends; then
// the rest are dropped. It is safe to call more than once.
func (c *Client) Close(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.once.Do(func() { close(c.stop) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.cancel()
		<-c.done // quick now: every send fails at once
		return fmt.Errorf("analytics: events not sent before the deadline: %w", ctx.Err())
	}
}

// run batches queued events and sends them until Close. sendCtx ends
// when Close's deadline passes.
func (c *Client) run(sendCtx context.Context) {
	defer close(c.done)
	defer c.cancel()
	batch := make([]Event, 0, c.cfg.BatchSize)
	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	flush := func() {
		if len(batch) > 0 {
			c.send(sendCtx, batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case e := <-c.queue:
			batch = append(batch, e)
			if len(batch) == c.cfg.BatchSize {
				flush()
			}
		case <-tick.C:
			flush()
		case <-c.stop:
			for {
				select {
				case e := <-c.queue:
					batch = append(batch, e)
					if len(batch) == c.cfg.BatchSize {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

// errPermanent marks an answer that retrying cannot change.
var errPermanent = errors.New("refused")

// send posts one batch, retrying with backoff on network errors, 408,
// 429 and 5xx. While it waits, the app's events keep queueing.
func (c *Client) send(ctx context.Context, batch []Event) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, e := range batch {
		_ = enc.Encode(e) // NDJSON; an Event always encodes
	}
	wait := c.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		err := c.post(ctx, body.Bytes())
		if err == nil {
			c.sent.Add(int64(len(batch)))
			return
		}
		if errors.Is(err, errPermanent) || attempt == c.cfg.MaxAttempts {
			c.failed.Add(int64(len(batch)))
			if !c.warned.Swap(true) {
				c.cfg.Logger.Warn("analytics events not delivered", slog.Int("events", len(batch)), slog.Any("error", err))
			}
			return
		}
		// Full jitter: a fleet of apps does not retry in step.
		sleep := time.Duration(rand.Int64N(int64(wait)) + 1)
		select {
		case <-time.After(sleep):
		case <-ctx.Done(): // Close's deadline passed
			c.failed.Add(int64(len(batch)))
			return
		}
		wait = min(2*wait, c.cfg.MaxBackoff)
	}
}

func (c *Client) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	switch {
	case res.StatusCode < 300:
		return nil
	case res.StatusCode == http.StatusRequestTimeout, res.StatusCode == http.StatusTooManyRequests, res.StatusCode >= 500:
		return fmt.Errorf("kiln answered %d", res.StatusCode)
	}
	return fmt.Errorf("%w: kiln answered %d: %s", errPermanent, res.StatusCode, bytes.TrimSpace(msg))
}
