// Package eventbus fans the events of builds out to the live streams of one
// API node. The database is the source of truth: a Bus never carries an
// event it did not read from its Source. Notices (kiln.EventNotice) only
// wake it up — from this process's own commits on SQLite, from PostgreSQL's
// LISTEN/NOTIFY when workers and other nodes write — and a slow poll covers
// any notice that got lost.
//
// Watchers of one build (or of all of one user's builds) share a feed: one
// goroutine that reads each new event from the database once and hands the
// same batch to every subscription. A subscription first replays what it
// asked for from the database, then continues with the feed's batches; it
// tracks its position so that it delivers every event exactly once and in
// order, whatever the interleaving. Each subscription buffers a bounded
// number of events: one that falls too far behind the live feed is told so
// (ErrLagging) instead of slowing the feed or anyone else.
package eventbus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// Errors a Subscription returns.
var (
	// ErrLagging means the subscriber did not keep up with the live feed
	// and its buffer overflowed; it may subscribe again after its position.
	ErrLagging = errors.New("the watcher fell too far behind the live events")
	// ErrClosed means the subscription or the bus was closed.
	ErrClosed = errors.New("event bus closed")
)

// Defaults of Config.
const (
	DefaultPollInterval = 2 * time.Second
	DefaultBuffer       = 1024
	DefaultReadLimit    = 500
)

// Source reads events from the database for the system; sqlstore's
// EventService implements it.
type Source interface {
	BuildEvents(ctx context.Context, buildID, after int64, limit int) ([]*kiln.BuildEvent, error)
	OwnerEvents(ctx context.Context, ownerID, after int64, limit int) ([]*kiln.BuildEvent, error)
	LastSeq(ctx context.Context, buildID int64) (int64, error)
	LastUserSeq(ctx context.Context, ownerID int64) (int64, error)
}

// Config configures a Bus. Zero values take the defaults.
type Config struct {
	Source Source
	// PollInterval is how often a feed reads the database when no notice
	// woke it, the backstop for lost notices.
	PollInterval time.Duration
	// Buffer is how many live events a subscription holds before it counts
	// as lagging.
	Buffer int
	// ReadLimit is how many events one database read returns at most.
	ReadLimit int
	Logger    *slog.Logger
}

// Item is one event as streams send it. Its JSON encoding is made once and
// shared by every stream that sends it.
type Item struct {
	Event *kiln.BuildEvent
	once  sync.Once
	json  []byte
}

// JSON returns the event encoded as JSON.
func (it *Item) JSON() []byte {
	it.once.Do(func() {
		b, err := json.Marshal(it.Event)
		if err != nil { // an Event always encodes; keep the stream alive regardless
			b = []byte(`{}`)
		}
		it.json = b
	})
	return it.json
}

func wrap(events []*kiln.BuildEvent) []*Item {
	items := make([]*Item, len(events))
	for i, e := range events {
		items[i] = &Item{Event: e}
	}
	return items
}

type scope uint8

const (
	scopeBuild scope = iota + 1 // one build's events, by Seq
	scopeOwner                  // all of one owner's builds, by UserSeq
)

type key struct {
	scope scope
	id    int64
}

// cursor is an item's position in its scope's sequence.
func (k key) cursor(it *Item) int64 {
	if k.scope == scopeOwner {
		return it.Event.UserSeq
	}
	return it.Event.Seq
}

// Bus fans events out to subscriptions. It is safe for concurrent use.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	feeds  map[key]*feed
	closed bool
}

// New returns a Bus reading from cfg.Source.
func New(cfg Config) *Bus {
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	cfg.Buffer = cmp.Or(cfg.Buffer, DefaultBuffer)
	cfg.ReadLimit = cmp.Or(cfg.ReadLimit, DefaultReadLimit)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Bus{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, feeds: map[key]*feed{}}
}

// Publish wakes the feeds of the build and of its owner. It never blocks.
func (b *Bus) Publish(n kiln.EventNotice) {
	b.mu.Lock()
	fb, fo := b.feeds[key{scopeBuild, n.BuildID}], b.feeds[key{scopeOwner, n.OwnerID}]
	b.mu.Unlock()
	if fb != nil {
		fb.poke(n.Seq)
	}
	if fo != nil {
		fo.poke(n.UserSeq)
	}
}

// Resync makes every feed read the database, for when notices may have
// been lost (the listener reconnected).
func (b *Bus) Resync() {
	b.mu.Lock()
	feeds := make([]*feed, 0, len(b.feeds))
	for _, f := range b.feeds {
		feeds = append(feeds, f)
	}
	b.mu.Unlock()
	for _, f := range feeds {
		f.poke(math.MaxInt64)
	}
}

// Close stops every feed; open subscriptions return ErrClosed.
func (b *Bus) Close() {
	b.mu.Lock()
	b.closed = true
	var subs []*Subscription
	for _, f := range b.feeds {
		f.mu.Lock()
		for s := range f.subs {
			subs = append(subs, s)
		}
		f.mu.Unlock()
	}
	b.mu.Unlock()
	b.cancel()
	for _, s := range subs {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal()
	}
}

// Buffer returns how many live events a subscription holds.
func (b *Bus) Buffer() int { return b.cfg.Buffer }

// Stats counts what a bus holds.
type Stats struct {
	Feeds         int
	Subscriptions int
}

// Stats returns the number of live feeds and subscriptions.
func (b *Bus) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := Stats{Feeds: len(b.feeds)}
	for _, f := range b.feeds {
		st.Subscriptions += f.refs
	}
	return st
}

// SubscribeBuild returns the events of a build with Seq > after: first
// those stored, then live ones as they are committed. The caller must have
// checked that its user may see the build, and must Close the subscription.
func (b *Bus) SubscribeBuild(buildID, after int64) *Subscription {
	return b.subscribe(key{scopeBuild, buildID}, after)
}

// SubscribeOwner returns the events of all the owner's builds with
// UserSeq > after, stored then live.
func (b *Bus) SubscribeOwner(ownerID, after int64) *Subscription {
	return b.subscribe(key{scopeOwner, ownerID}, after)
}

func (b *Bus) subscribe(k key, after int64) *Subscription {
	s := &Subscription{bus: b, key: k, pos: max(after, 0), ready: make(chan struct{}, 1)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.closed = true
		s.feed = &feed{ready: closedChan}
		return s
	}
	f := b.feeds[k]
	if f == nil {
		f = b.newFeed(k)
		b.feeds[k] = f
	}
	f.refs++
	s.feed = f
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// read reads events of k's scope after pos.
func (b *Bus) read(ctx context.Context, k key, pos int64) ([]*kiln.BuildEvent, error) {
	if k.scope == scopeOwner {
		return b.cfg.Source.OwnerEvents(ctx, k.id, pos, b.cfg.ReadLimit)
	}
	return b.cfg.Source.BuildEvents(ctx, k.id, pos, b.cfg.ReadLimit)
}

// feed reads one scope's new events and hands them to its subscriptions.
type feed struct {
	bus    *Bus
	key    key
	wake   chan struct{} // cap 1
	hint   atomic.Int64  // the highest position a notice announced
	ready  chan struct{} // closed once the start position is known
	cancel context.CancelFunc
	refs   int // under bus.mu

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

func (b *Bus) newFeed(k key) *feed {
	ctx, cancel := context.WithCancel(b.ctx)
	f := &feed{bus: b, key: k, wake: make(chan struct{}, 1), ready: make(chan struct{}), cancel: cancel, subs: map[*Subscription]struct{}{}}
	go f.run(ctx)
	return f
}

func (f *feed) poke(pos int64) {
	for {
		h := f.hint.Load()
		if pos <= h || f.hint.CompareAndSwap(h, pos) {
			break
		}
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feed) run(ctx context.Context) {
	b := f.bus
	defer func() {
		select {
		case <-f.ready:
		default:
			close(f.ready) // subscriptions waiting for the start see the close
		}
	}()
	// The feed is registered (notices wake it) before it reads where the
	// log ends, so an event committed meanwhile is either below the start
	// or read after it.
	var pos int64
	for {
		var err error
		if f.key.scope == scopeOwner {
			pos, err = b.cfg.Source.LastUserSeq(ctx, f.key.id)
		} else {
			pos, err = b.cfg.Source.LastSeq(ctx, f.key.id)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		b.log.WarnContext(ctx, "event feed: read start", slog.Any("error", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(b.cfg.PollInterval):
		}
	}
	close(f.ready)
	t := time.NewTicker(b.cfg.PollInterval)
	defer t.Stop()
	ended := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
			if f.hint.Load() <= pos {
				continue // announced events already read
			}
		case <-t.C:
		}
		if !ended {
			pos, ended = f.readNew(ctx, pos)
		}
	}
}

// readNew reads and delivers every event after pos and returns the new
// position, and whether the build's end was read.
func (f *feed) readNew(ctx context.Context, pos int64) (int64, bool) {
	b := f.bus
	for {
		events, err := b.read(ctx, f.key, pos)
		if err != nil {
			if ctx.Err() == nil {
				b.log.WarnContext(ctx, "event feed: read events", slog.Int64("after", pos), slog.Any("error", err))
			}
			return pos, false
		}
		if len(events) == 0 {
			return pos, false
		}
		items := wrap(events)
		pos = f.key.cursor(items[len(items)-1])
		f.deliver(items)
		if f.key.scope == scopeBuild && items[len(items)-1].Event.Kind == kiln.EventEnd {
			return pos, true
		}
		if len(events) < b.cfg.ReadLimit {
			return pos, false
		}
	}
}

func (f *feed) deliver(items []*Item) {
	f.mu.Lock()
	subs := make([]*Subscription, 0, len(f.subs))
	for s := range f.subs {
		subs = append(subs, s)
	}
	f.mu.Unlock()
	for _, s := range subs {
		s.push(items)
	}
}

// Subscription is one watcher's view of a feed. Next is not safe for
// concurrent use; Close is, and may be called more than once.
type Subscription struct {
	bus   *Bus
	key   key
	feed  *feed
	ready chan struct{} // cap 1: the feed pushed something

	pos int64 // the last position Next returned; only Next touches it

	mu        sync.Mutex
	queue     [][]*Item
	queued    int
	caughtUp  bool // the replay from the database reached its end
	wasLive   bool // caughtUp was true once: the first replay is over
	trustNext bool // the last replay came back empty: accept the next batch as it is
	lagged    bool
	closed    bool
}

// Live reports whether the subscription has replayed what was stored and
// now follows the live feed.
func (s *Subscription) Live() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caughtUp
}

// Pos returns the position of the last event Next returned (the after the
// subscription began with, before any).
func (s *Subscription) Pos() int64 { return s.pos }

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// push queues a live batch. A subscription still in its first replay
// drops its queue when it would overflow, since the replay reads those
// events from the database anyway: a long history is no reason to give up
// on a watcher. Once it has been live, an overflow means it is lagging.
func (s *Subscription) push(items []*Item) {
	s.mu.Lock()
	switch {
	case s.closed || s.lagged:
	case s.queued+len(items) <= s.bus.cfg.Buffer:
		s.queue = append(s.queue, items)
		s.queued += len(items)
	case s.wasLive:
		s.lagged = true
		s.queue, s.queued = nil, 0
	default:
		s.queue, s.queued = nil, 0
	}
	s.mu.Unlock()
	s.signal()
}

// Next returns the next events in order, blocking until there are some.
// It returns ErrLagging when the subscriber fell too far behind, ErrClosed
// after Close, ctx's error when ctx ends first (the subscription stays
// usable), or the Source's error.
func (s *Subscription) Next(ctx context.Context) ([]*Item, error) {
	select {
	case <-s.feed.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		s.mu.Lock()
		if s.lagged {
			s.mu.Unlock()
			return nil, ErrLagging
		}
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if !s.caughtUp {
			s.mu.Unlock()
			events, err := s.bus.read(ctx, s.key, s.pos)
			if err != nil {
				return nil, err
			}
			if len(events) > 0 {
				items := wrap(events)
				s.pos = s.key.cursor(items[len(items)-1])
				s.mu.Lock()
				s.trustNext = false
				s.mu.Unlock()
				return items, nil
			}
			s.mu.Lock()
			s.caughtUp, s.trustNext, s.wasLive = true, true, true
		}
		for len(s.queue) > 0 {
			batch := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.queued -= len(batch)
			if batch = s.undelivered(batch); len(batch) == 0 {
				continue
			}
			if s.key.cursor(batch[0]) != s.pos+1 && !s.trustNext {
				// Events between are missing here (the queue was dropped
				// while replaying): read them from the database.
				s.caughtUp = false
				s.queue, s.queued = nil, 0
				break
			}
			s.pos = s.key.cursor(batch[len(batch)-1])
			s.trustNext = false
			batch = s.takeFollowing(batch)
			s.mu.Unlock()
			return batch, nil
		}
		if !s.caughtUp {
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// maxMerge bounds how many events one Next returns when it merges queued
// batches.
const maxMerge = 4096

// undelivered returns the part of a queued batch after s.pos: the start
// of a batch can have been delivered already, by the replay.
func (s *Subscription) undelivered(batch []*Item) []*Item {
	i := 0
	for i < len(batch) && s.key.cursor(batch[i]) <= s.pos {
		i++
	}
	return batch[i:]
}

// takeFollowing appends to batch the queued batches that continue it
// without a gap, so that a watcher that fell behind catches up in one Next
// (and its stream in few writes) instead of one per feed read. It leaves a
// batch that does not continue s.pos queued for Next to sort out. Called
// with s.mu held, after s.pos was set to batch's end.
func (s *Subscription) takeFollowing(batch []*Item) []*Item {
	batch = slices.Clip(batch) // so appends copy: the feed's batches are shared
	for len(s.queue) > 0 && len(batch) < maxMerge {
		next := s.undelivered(s.queue[0])
		if len(next) > 0 && s.key.cursor(next[0]) != s.pos+1 {
			break
		}
		s.queued -= len(s.queue[0])
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if len(next) > 0 {
			batch = append(batch, next...)
			s.pos = s.key.cursor(next[len(next)-1])
		}
	}
	return batch
}

// Close ends the subscription and, with the last one of its feed, the
// feed.
func (s *Subscription) Close() {
	b, f := s.bus, s.feed
	b.mu.Lock()
	f.mu.Lock()
	_, member := f.subs[s]
	delete(f.subs, s)
	f.mu.Unlock()
	if member {
		f.refs--
		if f.refs == 0 {
			if b.feeds[s.key] == f {
				delete(b.feeds, s.key)
			}
			f.cancel()
		}
	}
	b.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.queue, s.queued = nil, 0
	s.mu.Unlock()
	s.signal()
}
