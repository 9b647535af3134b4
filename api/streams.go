package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/eventbus"
)

// The live event streams: GET /v1/builds/{id}/events and GET /v1/events,
// each as a WebSocket (when the request asks to upgrade) or as
// Server-Sent Events. docs/STREAMING.md is the protocol's reference.

// BuildEventStore is what the streams read; sqlstore.BuildEventService satisfies it.
type BuildEventStore interface {
	kiln.BuildEventService
	// LastSeq returns the Seq of the build's latest event, for the system.
	LastSeq(ctx context.Context, buildID int64) (int64, error)
	// LastUserSeq returns the UserSeq of the owner's latest event.
	LastUserSeq(ctx context.Context, ownerID int64) (int64, error)
	// BuildEvents is FindEvents for the system, without a user check.
	BuildEvents(ctx context.Context, buildID, after int64, limit int) ([]*kiln.BuildEvent, error)
}

// StreamConfig tunes the event streams. Zero values take the defaults.
type StreamConfig struct {
	PingInterval time.Duration // keepalive (default 20s)
	IdleTimeout  time.Duration // close after no event for this long (default 10m)
	WriteTimeout time.Duration // close a client that takes no data for this long (default 10s)
	MaxPerUser   int           // open streams per user on this node (default 20)
	TicketTTL    time.Duration // lifetime of stream tickets (default 1m)
}

func (c StreamConfig) withDefaults() StreamConfig {
	c.PingInterval = cmp.Or(c.PingInterval, 20*time.Second)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, 10*time.Minute)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, 10*time.Second)
	c.MaxPerUser = cmp.Or(c.MaxPerUser, 20)
	c.TicketTTL = cmp.Or(c.TicketTTL, time.Minute)
	return c
}

// Close codes of the streams: WebSocket close codes, also sent in the
// data of an SSE "close" event.
const (
	CloseEnded        = 1000 // the build ended; its end event was the last message
	CloseGoingAway    = 1001 // the server is shutting down; resume elsewhere or later
	ClosePolicy       = 1008 // the client sent a message; streams only send
	CloseInternal     = 1011 // the server failed; resume later
	CloseIdle         = 4000 // no event for stream.idle_timeout; resume
	CloseSlowConsumer = 4008 // the client fell stream.buffer events behind; resume
)

// streams holds the state the stream handlers share.
type streams struct {
	cfg StreamConfig

	stopped  context.Context // canceled by Shutdown
	shutdown context.CancelFunc

	mu    sync.Mutex
	open  map[int64]int // streams per user
	total int
}

func newStreams(cfg StreamConfig) *streams {
	ctx, cancel := context.WithCancel(context.Background())
	return &streams{cfg: cfg.withDefaults(), open: map[int64]int{}, stopped: ctx, shutdown: cancel}
}

// acquire counts a stream of the user, or refuses one over the limit.
func (st *streams) acquire(userID int64) (release func(), err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.open[userID] >= st.cfg.MaxPerUser {
		return nil, &kiln.Error{Code: kiln.ERateLimited, RetryAfter: 5 * time.Second,
			Message: fmt.Sprintf("too many open event streams (at most %d per user on this server); close one first", st.cfg.MaxPerUser)}
	}
	st.open[userID]++
	st.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			st.mu.Lock()
			defer st.mu.Unlock()
			st.total--
			if st.open[userID]--; st.open[userID] == 0 {
				delete(st.open, userID)
			}
		})
	}, nil
}

// OpenStreams returns how many event streams this server holds open.
func (s *Server) OpenStreams() int {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	return s.streams.total
}

// Shutdown closes every open event stream with CloseGoingAway; new ones
// are refused. http.Server.Shutdown does not wait for hijacked WebSockets
// and would wait for SSE responses forever, so call this first (for
// example with RegisterOnShutdown).
func (s *Server) Shutdown() { s.streams.shutdown() }

// StreamParams are the parameters both event streams take.
type StreamParams struct {
	After       int64  `query:"after" minimum:"0" doc:"Start after this position (seq for a build, user_seq for all builds)."`
	Ticket      string `query:"ticket" maxLength:"100" doc:"A stream ticket from POST /v1/stream-tickets, for clients that cannot send Authorization (browsers)."`
	LastEventID string `header:"Last-Event-ID" maxLength:"20" doc:"SSE resume: the id of the last event received; wins over after."`
	Batch       bool   `query:"batch" doc:"WebSocket: send each message as a JSON array of one or more events, every event pending at the time (up to 32 KiB of them), instead of one event per message. What clients following busy builds should ask for. SSE ignores it: it always writes every pending event at once."`
}

type buildStreamInput struct {
	ID int64 `path:"id" minimum:"1" doc:"Build id."`
	StreamParams
}

// position returns where a stream starts: Last-Event-ID, else after.
func (in StreamParams) position() (int64, error) {
	if in.LastEventID == "" {
		return in.After, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(in.LastEventID), 10, 64)
	if err != nil || n < 0 {
		return 0, kiln.FieldErrorf("Last-Event-ID", "must be the id of an event this stream sent (a non-negative integer)")
	}
	return n, nil
}

type ticketOutput struct{ Body *kiln.StreamTicket }

var errNoStreams = kiln.Errorf(kiln.ENotFound, "this server does not serve event streams")

func (s *Server) registerStreams() {
	s.streams = newStreams(s.cfg.Stream)
	eventSchema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(kiln.BuildEvent{}), true, "BuildEvent")
	streamResponses := func(what string) map[string]*huma.Response {
		return map[string]*huma.Response{
			"101": {Description: "Switching to WebSocket (when the request asks to upgrade): " + what + ", one BuildEvent as JSON per text message (with `batch=true`, a JSON array of BuildEvents per message)."},
			"200": {
				Description: "Server-Sent Events: " + what + ". Each event has `id:` (its position) and `data:` (the BuildEvent as JSON); a final `event: close` says why the stream ended.",
				Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: eventSchema}},
			},
		}
	}

	o := op("create-stream-ticket", http.MethodPost, "/v1/stream-tickets", "Create a stream ticket", "events", true)
	o.DefaultStatus = http.StatusCreated
	o.Description = "A short-lived, single-use credential that opens one event stream as `?ticket=`, for browsers, whose WebSocket and EventSource cannot send an Authorization header."
	huma.Register(s.api, o, func(ctx context.Context, _ *struct{}) (*ticketOutput, error) {
		if s.cfg.Events == nil {
			return nil, s.err.problem(ctx, errNoStreams)
		}
		t, err := s.cfg.Events.CreateStreamTicket(ctx, s.streams.cfg.TicketTTL)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &ticketOutput{Body: t}, nil
	})

	o = op("stream-build-events", http.MethodGet, "/v1/builds/{id}/events", "Follow a build's events live", "events", true)
	o.Description = "Replays the build's events after `after` (or `Last-Event-ID`), then sends new ones as they happen: status, step, log, artifact, end. " +
		"After the end event the stream closes; a build that has ended replays and closes. A WebSocket upgrade request gets the same stream over WebSocket. " +
		"Authenticate with a bearer token or `?ticket=`. See docs/STREAMING.md."
	o.Responses = streamResponses("the build's events")
	huma.Register(s.api, o, func(ctx context.Context, in *buildStreamInput) (*huma.StreamResponse, error) {
		return s.openStream(ctx, in.StreamParams, in.ID)
	})

	o = op("stream-events", http.MethodGet, "/v1/events", "Follow all your builds' events live", "events", true)
	o.Description = "The events of every build you own, in `user_seq` order: replays after `after` (or `Last-Event-ID`), then continues live and never ends by itself. " +
		"What a dashboard needs. Same transports and authentication as a build's stream."
	o.Responses = streamResponses("the events of all your builds")
	huma.Register(s.api, o, func(ctx context.Context, in *StreamParams) (*huma.StreamResponse, error) {
		return s.openStream(ctx, *in, 0)
	})
}

// streamSource yields a stream's events.
type streamSource interface {
	Next(ctx context.Context) ([]*eventbus.Item, error)
	Close()
}

// openStream checks everything a stream needs before any byte is sent, so
// refusals are plain problem responses: the credentials, the build (404
// for another user's), the position and the user's stream count.
// buildID 0 means all the user's builds.
func (s *Server) openStream(ctx context.Context, in StreamParams, buildID int64) (*huma.StreamResponse, error) {
	if s.cfg.Events == nil || s.cfg.Bus == nil {
		return nil, s.err.problem(ctx, errNoStreams)
	}
	if s.streams.stopped.Err() != nil {
		return nil, s.err.problem(ctx, kiln.Errorf(kiln.EUnavailable, "the server is shutting down"))
	}
	u := kiln.UserFromContext(ctx)
	if u == nil && in.Ticket != "" {
		var err error
		if u, err = s.cfg.Events.RedeemStreamTicket(ctx, in.Ticket); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		ctx = kiln.NewContextWithUser(ctx, u)
	}
	if u == nil {
		return nil, s.err.problem(ctx, kiln.Errorf(kiln.EUnauthorized, "authentication required: send Authorization: Bearer <token>, or ?ticket= from POST /v1/stream-tickets"))
	}
	after, err := in.position()
	if err != nil {
		return nil, s.err.problem(ctx, err)
	}
	var last int64
	ended := false
	if buildID != 0 {
		b, err := s.cfg.Builds.FindBuildByID(ctx, buildID)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		// Read after the status: a build seen ended has all its events.
		if last, err = s.cfg.Events.LastSeq(ctx, buildID); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		ended = b.Status.Terminal()
	} else if last, err = s.cfg.Events.LastUserSeq(ctx, u.ID); err != nil {
		return nil, s.err.problem(ctx, err)
	}
	if after > last {
		return nil, s.err.problem(ctx, kiln.FieldErrorf("after", "%d is past the last event (%d)", after, last))
	}
	release, err := s.streams.acquire(u.ID)
	if err != nil {
		return nil, s.err.problem(ctx, err)
	}
	var src streamSource
	switch {
	case buildID == 0:
		src = s.cfg.Bus.SubscribeOwner(u.ID, after)
	case ended:
		src = &replay{events: s.cfg.Events, buildID: buildID, pos: after, last: last}
	default:
		src = s.cfg.Bus.SubscribeBuild(buildID, after)
	}
	log := s.log.With(slog.Int64("user_id", u.ID), slog.Int64("build_id", buildID), slog.String("request_id", RequestIDFromContext(ctx)))
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		cleanup := func() {
			src.Close()
			release()
		}
		r, w := humago.Unwrap(hctx)
		st := &session{srv: s, src: src, log: log, owner: buildID == 0, pos: after, batch: in.Batch}
		if isWebSocket(r) {
			st.serveWebSocket(w, r, cleanup)
			return
		}
		defer cleanup()
		st.serveSSE(w, r)
	}}, nil
}

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// replay reads an ended build's events from the database; no live part.
type replay struct {
	events  BuildEventStore
	buildID int64
	pos     int64
	last    int64
}

func (r *replay) Next(ctx context.Context) ([]*eventbus.Item, error) {
	if r.pos >= r.last {
		return nil, eventbus.ErrClosed
	}
	events, err := r.events.BuildEvents(ctx, r.buildID, r.pos, 0)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, eventbus.ErrClosed // pruned log lines can leave the end short of last
	}
	r.pos = events[len(events)-1].Seq
	items := make([]*eventbus.Item, len(events))
	for i, e := range events {
		items[i] = &eventbus.Item{Event: e}
	}
	return items, nil
}

func (r *replay) Close() {}

// sink is one transport: WebSocket or SSE.
type sink interface {
	send(ctx context.Context, items []*eventbus.Item, owner bool) error
	ping(ctx context.Context) error
	close(code int, reason string)
}

// session is one open stream.
type session struct {
	srv   *Server
	src   streamSource
	log   *slog.Logger
	owner bool  // all the user's builds: positions are user seqs
	pos   int64 // the position of the last event sent
	batch bool  // WebSocket: events as JSON arrays
}

// run sends events until the build ends, the client leaves or falls
// behind, the stream idles out, or the server shuts down. ctx ends when the
// client is gone.
func (st *session) run(ctx context.Context, out sink) {
	cfg := st.srv.streams.cfg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(st.srv.streams.stopped, cancel)()
	lastEvent := time.Now()
	for {
		wait, waitCancel := context.WithTimeout(ctx, cfg.PingInterval)
		items, err := st.src.Next(wait)
		waitCancel()
		switch {
		case err == nil:
			if err := out.send(ctx, items, st.owner); err != nil {
				st.log.Info("event stream: client too slow or gone", slog.Any("error", err))
				return
			}
			last := items[len(items)-1].Event
			st.pos, lastEvent = last.Seq, time.Now()
			if st.owner {
				st.pos = last.UserSeq
			}
			if !st.owner && last.Kind == kiln.EventEnd {
				out.close(CloseEnded, "build ended")
				return
			}
		case ctx.Err() != nil:
			if st.srv.streams.stopped.Err() != nil {
				out.close(CloseGoingAway, fmt.Sprintf("server shutting down; resume with after=%d", st.pos))
			} // else the client left
			return
		case errors.Is(err, context.DeadlineExceeded):
			if idle := time.Since(lastEvent); idle >= cfg.IdleTimeout {
				out.close(CloseIdle, fmt.Sprintf("no events for %s; resume with after=%d", idle.Round(time.Second), st.pos))
				return
			}
			if err := out.ping(ctx); err != nil {
				st.log.Info("event stream: ping failed", slog.Any("error", err))
				return
			}
		case errors.Is(err, eventbus.ErrLagging):
			st.log.Warn("event stream: slow consumer closed", slog.Int64("after", st.pos))
			out.close(CloseSlowConsumer, fmt.Sprintf("too slow: fell more than %d events behind; resume with after=%d", st.srv.cfg.Bus.Buffer(), st.pos))
			return
		case errors.Is(err, eventbus.ErrClosed):
			if _, ok := st.src.(*replay); ok {
				out.close(CloseEnded, "build ended")
			} else {
				out.close(CloseGoingAway, fmt.Sprintf("server shutting down; resume with after=%d", st.pos))
			}
			return
		default:
			st.log.Error("event stream: read events", slog.Any("error", err))
			out.close(CloseInternal, fmt.Sprintf("internal error; resume with after=%d", st.pos))
			return
		}
	}
}
