package client

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kiln-build/kiln"
)

// Event streams are read as Server-Sent Events (docs/STREAMING.md): plain
// HTTP, so they pass proxies and reuse the client's authentication and
// session refresh. Each stream reconnects after failures and resumes after
// the last event it delivered, so fn sees every event exactly once.

// Stream close codes the server sends (see api.Close*).
const (
	CloseEnded        = 1000
	CloseGoingAway    = 1001
	CloseInternal     = 1011
	CloseIdle         = 4000
	CloseSlowConsumer = 4008
)

// maxSSELine bounds one line of a stream: an event is at most a log line
// of kiln.MaxLogLineLen bytes, JSON-escaped.
const maxSSELine = 1 << 20

// StreamOptions tunes FollowBuild and FollowEvents.
type StreamOptions struct {
	// After starts the stream after this position: a build's Seq, or for
	// FollowEvents a UserSeq.
	After int64
	// RetryFor is how long the stream keeps reconnecting after a failure
	// before it gives up (default 2 minutes); each event resets it.
	RetryFor time.Duration
	// IdleTimeout reconnects when nothing, not even a keepalive, arrived
	// for this long (default 90 seconds; servers ping every 20).
	IdleTimeout time.Duration
	// OnReconnect, when set, is told why the stream is reconnecting.
	OnReconnect func(err error)
}

// StreamClosed is how the server ended a stream.
type StreamClosed struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// Error says why the stream ended.
func (e *StreamClosed) Error() string {
	return fmt.Sprintf("stream closed by the server (%d): %s", e.Code, e.Reason)
}

// errStreamEnded is returned by a stream of a build that ended when it
// closes without an end event, because that was before its start.
var errStreamEnded = errors.New("build ended")

// CreateStreamTicket makes a single-use ticket that opens one event stream
// as ?ticket= (POST /v1/stream-tickets).
func (c *Client) CreateStreamTicket(ctx context.Context) (*kiln.StreamTicket, error) {
	var out kiln.StreamTicket
	if err := c.do(ctx, request{method: "POST", path: "/v1/stream-tickets"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DownloadLog writes a build's whole log after seq after as plain text to
// w (GET /v1/builds/{id}/logs?format=text).
func (c *Client) DownloadLog(ctx context.Context, buildID, after int64, w io.Writer) error {
	q := url.Values{"format": {"text"}}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	resp, err := c.send(ctx, request{method: "GET", path: buildPath(buildID) + "/logs", query: q, opts: []CallOption{func(r *http.Request) {
		r.Header.Set("Accept", "text/plain, application/problem+json")
	}}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("download log of build %d: %w", buildID, err)
	}
	return nil
}

// FollowBuild streams the build's events after o.After to fn (GET
// /v1/builds/{id}/events) until the build's end event, which it passes to
// fn and returns. When the build had already ended before o.After, it
// returns an end event made from the build. It stops with fn's error, with
// ctx's, or when the server stays unreachable for o.RetryFor.
func (c *Client) FollowBuild(ctx context.Context, buildID int64, o StreamOptions, fn func(*kiln.BuildEvent) error) (*kiln.BuildEvent, error) {
	var end *kiln.BuildEvent
	err := c.follow(ctx, buildPath(buildID)+"/events", o, false, func(e *kiln.BuildEvent) error {
		if err := fn(e); err != nil {
			return err
		}
		if e.Kind == kiln.EventEnd {
			end = e
		}
		return nil
	})
	if errors.Is(err, errStreamEnded) {
		if end != nil {
			return end, nil
		}
		b, _, err := c.GetBuild(ctx, buildID)
		if err != nil {
			return nil, err
		}
		return &kiln.BuildEvent{BuildID: b.ID, Kind: kiln.EventEnd, Time: c.now(), End: &kiln.EndEvent{Status: b.Status, Error: b.Error}}, nil
	}
	return nil, err
}

// FollowEvents streams the events of all the user's builds after o.After
// (a UserSeq) to fn (GET /v1/events). It runs until fn fails or ctx ends,
// or the server stays unreachable for o.RetryFor.
func (c *Client) FollowEvents(ctx context.Context, o StreamOptions, fn func(*kiln.BuildEvent) error) error {
	return c.follow(ctx, "/v1/events", o, true, fn)
}

// follow runs one stream with reconnects; it returns errStreamEnded when
// the server closed it as ended.
func (c *Client) follow(ctx context.Context, path string, o StreamOptions, owner bool, fn func(*kiln.BuildEvent) error) error {
	o.RetryFor = cmp.Or(o.RetryFor, 2*time.Minute)
	o.IdleTimeout = cmp.Or(o.IdleTimeout, 90*time.Second)
	pos := o.After
	var failingSince time.Time
	wait := 100 * time.Millisecond
	for {
		delivered := false
		err := c.streamOnce(ctx, path, pos, o.IdleTimeout, func(e *kiln.BuildEvent) error {
			at := e.Seq
			if owner {
				at = e.UserSeq
			}
			if at <= pos {
				return nil // never deliver an event twice, whatever the server sends
			}
			if err := fn(e); err != nil {
				return &callbackError{err}
			}
			pos, delivered = at, true
			return nil
		})
		var cbErr *callbackError
		var closed *StreamClosed
		switch {
		case errors.As(err, &cbErr):
			return cbErr.err
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &closed) && closed.Code == CloseEnded && !owner:
			return errStreamEnded
		case !retryable(err):
			return err
		}
		if delivered {
			failingSince, wait = time.Time{}, 100*time.Millisecond
		}
		if failingSince.IsZero() {
			failingSince = c.now()
		} else if c.now().Sub(failingSince) > o.RetryFor {
			return fmt.Errorf("gave up reconnecting after %s: %w", o.RetryFor.Round(time.Second), err)
		}
		if o.OnReconnect != nil {
			o.OnReconnect(err)
		}
		// Jitter keeps many clients of a restarted server apart.
		if err := sleep(ctx, wait/2+rand.N(wait/2+1)); err != nil {
			return err
		}
		wait = min(2*wait, 5*time.Second)
	}
}

type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// retryable reports whether a stream that ended with err may resume.
func retryable(err error) bool {
	var closed *StreamClosed
	if errors.As(err, &closed) {
		return true // idle, slow, going away, internal: all say resume
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code == kiln.EUnavailable || ce.Status >= 500 || ce.Status == http.StatusTooManyRequests
	}
	return true // the connection broke
}

// streamOnce opens the stream once and passes its events to fn until it
// ends. It returns a *StreamClosed when the server closed it, an *Error
// when the server refused it, and any other error when the connection
// broke or idled out.
func (c *Client) streamOnce(ctx context.Context, path string, after int64, idle time.Duration, fn func(*kiln.BuildEvent) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errIdle := fmt.Errorf("no data for %s", idle)
	timer := time.AfterFunc(idle, func() { cancel(errIdle) })
	defer timer.Stop()
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	resp, err := c.send(ctx, request{method: "GET", path: path, query: q, opts: []CallOption{func(r *http.Request) {
		r.Header.Set("Accept", "text/event-stream")
		if after > 0 {
			r.Header.Set("Last-Event-ID", strconv.FormatInt(after, 10))
		}
	}}})
	if err != nil {
		if context.Cause(ctx) == errIdle {
			return errIdle
		}
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 16<<10), maxSSELine)
	var event string
	var data []byte
	for sc.Scan() {
		timer.Reset(idle)
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data == nil {
				event = ""
				continue
			}
			if event == "close" {
				var closed StreamClosed
				if err := json.Unmarshal(data, &closed); err != nil {
					return fmt.Errorf("GET %s: bad close event: %w", path, err)
				}
				return &closed
			}
			var e kiln.BuildEvent
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("GET %s: bad event: %w", path, err)
			}
			if err := fn(&e); err != nil {
				return err
			}
			event, data = "", nil
		case line[0] == ':':
			// a keepalive comment
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "event":
				event = string(value)
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
	if err := sc.Err(); err != nil {
		if context.Cause(ctx) == errIdle {
			return errIdle
		}
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return fmt.Errorf("GET %s: the connection closed", path)
}
