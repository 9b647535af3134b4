package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/eventbus"
)

// source is an in-memory event log with the gapless sequences the store
// keeps: per build (Seq) and per owner (UserSeq).
type source struct {
	mu      sync.Mutex
	events  []*kiln.BuildEvent
	owner   map[int64]int64 // build → owner
	lastB   map[int64]int64
	lastU   map[int64]int64
	failing error
	reads   int
}

var _ eventbus.Source = (*source)(nil)

func newSource() *source {
	return &source{owner: map[int64]int64{}, lastB: map[int64]int64{}, lastU: map[int64]int64{}}
}

// append commits n log events of a build and returns the notice a store
// would send.
func (s *source) append(build, owner int64, n int) kiln.EventNotice {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owner[build] = owner
	for range n {
		s.lastB[build]++
		s.lastU[owner]++
		s.events = append(s.events, &kiln.BuildEvent{
			BuildID: build, Seq: s.lastB[build], UserSeq: s.lastU[owner], Kind: kiln.EventLog,
			Log: &kiln.LogEvent{Stream: kiln.StreamStdout, Text: fmt.Sprintf("b%d #%d", build, s.lastB[build])},
		})
	}
	return kiln.EventNotice{BuildID: build, OwnerID: owner, Seq: s.lastB[build], UserSeq: s.lastU[owner]}
}

func (s *source) end(build, owner int64) kiln.EventNotice {
	n := s.append(build, owner, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events[len(s.events)-1]
	e.Kind, e.Log, e.End = kiln.EventEnd, nil, &kiln.EndEvent{Status: kiln.BuildSucceeded}
	return n
}

func (s *source) find(match func(*kiln.BuildEvent) bool, limit int) ([]*kiln.BuildEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.failing != nil {
		return nil, s.failing
	}
	var out []*kiln.BuildEvent
	for _, e := range s.events {
		if match(e) {
			cp := *e
			out = append(out, &cp)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (s *source) BuildEvents(_ context.Context, id, after int64, limit int) ([]*kiln.BuildEvent, error) {
	return s.find(func(e *kiln.BuildEvent) bool { return e.BuildID == id && e.Seq > after }, limit)
}

func (s *source) OwnerEvents(_ context.Context, owner, after int64, limit int) ([]*kiln.BuildEvent, error) {
	s.mu.Lock()
	owned := map[int64]bool{}
	for b, o := range s.owner {
		owned[b] = o == owner
	}
	s.mu.Unlock()
	return s.find(func(e *kiln.BuildEvent) bool { return owned[e.BuildID] && e.UserSeq > after }, limit)
}

func (s *source) LastSeq(_ context.Context, id int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastB[id], s.failing
}

func (s *source) LastUserSeq(_ context.Context, owner int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastU[owner], s.failing
}

func newBus(tb testing.TB, src *source, cfg eventbus.Config) *eventbus.Bus {
	tb.Helper()
	cfg.Source = src
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Hour // only notices wake feeds unless a test says otherwise
	}
	b := eventbus.New(cfg)
	tb.Cleanup(b.Close)
	return b
}

// next returns the next batch's positions, failing after 10s.
func next(tb testing.TB, s *eventbus.Subscription, userSeq bool) []int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	items, err := s.Next(ctx)
	require.NoError(tb, err)
	return positions(items, userSeq)
}

func positions(items []*eventbus.Item, userSeq bool) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.Event.Seq
		if userSeq {
			out[i] = it.Event.UserSeq
		}
	}
	return out
}

// collect calls Next until it has every position up to last.
func collect(tb testing.TB, s *eventbus.Subscription, userSeq bool, last int64) []int64 {
	tb.Helper()
	var got []int64
	for len(got) == 0 || got[len(got)-1] < last {
		got = append(got, next(tb, s, userSeq)...)
	}
	return got
}

func seqs(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// goLive waits until the subscription has replayed the stored events (and
// found none) and follows the live feed.
func goLive(tb testing.TB, s *eventbus.Subscription) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !s.Live() {
		if !idle(tb, s, 5*time.Millisecond) {
			tb.Fatal("events where none were expected")
		}
		if time.Now().After(deadline) {
			tb.Fatal("not live after 10s")
		}
	}
}

// idle reports whether Next has nothing for d.
func idle(tb testing.TB, s *eventbus.Subscription, d time.Duration) bool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	items, err := s.Next(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	tb.Logf("Next returned %d items, %v", len(items), err)
	return false
}

func TestReplayThenLive(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{})
	src.append(1, 10, 5)

	sub := bus.SubscribeBuild(1, 2)
	defer sub.Close()
	require.Equal(t, seqs(3, 5), next(t, sub, false), "replay after the position asked for")
	require.True(t, idle(t, sub, 20*time.Millisecond))
	bus.Publish(src.append(1, 10, 3))
	require.Equal(t, seqs(6, 8), next(t, sub, false), "then live")
	bus.Publish(src.append(2, 10, 2)) // another build of the owner: not this stream
	bus.Publish(src.append(1, 10, 1))
	require.Equal(t, []int64{9}, next(t, sub, false))
	require.EqualValues(t, 9, sub.Pos())

	owner := bus.SubscribeOwner(10, 0)
	defer owner.Close()
	require.Equal(t, seqs(1, 11), collect(t, owner, true, 11), "all of the owner's builds by user seq")
	bus.Publish(src.append(2, 10, 1))
	require.Equal(t, []int64{12}, next(t, owner, true))
	require.Equal(t, eventbus.Stats{Feeds: 2, Subscriptions: 2}, bus.Stats())

	sub.Close()
	sub.Close()
	_, err := sub.Next(context.Background())
	require.ErrorIs(t, err, eventbus.ErrClosed)
	owner.Close()
	require.Equal(t, eventbus.Stats{}, bus.Stats(), "the last subscription takes its feed along")
}

func TestSharedFeedReadsOnce(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{})
	const watchers = 50
	subs := make([]*eventbus.Subscription, watchers)
	for i := range subs {
		subs[i] = bus.SubscribeBuild(1, 0)
		defer subs[i].Close()
		goLive(t, subs[i])
	}
	src.mu.Lock()
	before := src.reads
	src.mu.Unlock()
	bus.Publish(src.append(1, 1, 4))
	var first *eventbus.Item
	for _, s := range subs {
		items, err := s.Next(context.Background())
		require.NoError(t, err)
		require.Equal(t, seqs(1, 4), positions(items, false))
		if first == nil {
			first = items[0]
		}
		require.Same(t, first, items[0], "every watcher gets the same item")
	}
	require.JSONEq(t, `{"build_id":1,"seq":1,"user_seq":1,"time":"0001-01-01T00:00:00Z","kind":"log","log":{"stream":"stdout","text":"b1 #1"}}`, string(first.JSON()))
	src.mu.Lock()
	require.Equal(t, 1, src.reads-before, "one database read for all the watchers")
	src.mu.Unlock()
}

func TestSlowSubscriberLagsAlone(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{Buffer: 4})
	stalled := bus.SubscribeBuild(1, 0)
	defer stalled.Close()
	reader := bus.SubscribeBuild(1, 0)
	defer reader.Close()
	goLive(t, stalled) // both caught up
	goLive(t, reader)

	for range 5 {
		bus.Publish(src.append(1, 1, 3))
		got := next(t, reader, false)
		require.Len(t, got, 3, "the reader keeps up whatever the stalled one does")
	}
	_, err := stalled.Next(context.Background())
	require.ErrorIs(t, err, eventbus.ErrLagging)
	require.Zero(t, stalled.Pos())

	// It resumes from where it was: a replay, then live again.
	again := bus.SubscribeBuild(1, stalled.Pos())
	defer again.Close()
	require.Equal(t, seqs(1, 15), collect(t, again, false, 15))
}

func TestBehindSubscriberGetsQueuedBatchesAtOnce(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{})
	behind := bus.SubscribeBuild(1, 0)
	defer behind.Close()
	reader := bus.SubscribeBuild(1, 0)
	defer reader.Close()
	goLive(t, behind)
	goLive(t, reader)

	// The feed hands each read to every subscription before it reads
	// again, so once the reader has the fourth batch, the first three are
	// queued for the subscription that did not read.
	for range 4 {
		bus.Publish(src.append(1, 1, 3))
		require.Len(t, next(t, reader, false), 3)
	}
	got := next(t, behind, false)
	require.GreaterOrEqual(t, len(got), 9, "one Next returns every queued batch, not one feed read")
	require.Equal(t, seqs(1, int64(len(got))), got)
	if len(got) < 12 {
		got = append(got, collect(t, behind, false, 12)...)
	}
	require.Equal(t, seqs(1, 12), got)
	require.True(t, idle(t, behind, 20*time.Millisecond))
}

func TestReplayOutrunByLiveIsNotLagging(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{Buffer: 4, ReadLimit: 10})
	src.append(1, 1, 100)
	sub := bus.SubscribeBuild(1, 0)
	defer sub.Close()
	// The watcher replays slowly while the build goes on: its live buffer
	// overflows before it catches up, which costs it nothing.
	var got []int64
	for i := range 10 {
		bus.Publish(src.append(1, 1, 5))
		if i == 0 {
			got = append(got, next(t, sub, false)...)
		}
	}
	got = append(got, collect(t, sub, false, 150)...)
	require.Equal(t, seqs(1, 150), got)
}

func TestLostNoticesArePolled(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{PollInterval: 5 * time.Millisecond})
	sub := bus.SubscribeOwner(7, 0)
	defer sub.Close()
	goLive(t, sub)
	src.append(3, 7, 2) // committed elsewhere; the notice never came
	require.Equal(t, seqs(1, 2), collect(t, sub, true, 2))
}

func TestResync(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{})
	sub := bus.SubscribeBuild(1, 0)
	defer sub.Close()
	goLive(t, sub)
	src.append(1, 1, 2)
	require.True(t, idle(t, sub, 20*time.Millisecond), "no notice, no poll yet")
	bus.Resync()
	require.Equal(t, seqs(1, 2), next(t, sub, false))
}

func TestSourceErrors(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{PollInterval: 5 * time.Millisecond})
	src.append(1, 1, 1)
	src.mu.Lock()
	src.failing = errors.New("database down")
	src.mu.Unlock()
	sub := bus.SubscribeBuild(1, 0)
	defer sub.Close()
	require.True(t, idle(t, sub, 20*time.Millisecond), "waits for the feed's start")
	src.mu.Lock()
	src.failing = nil
	src.mu.Unlock()
	require.Equal(t, []int64{1}, next(t, sub, false))
}

func TestCloseBus(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{})
	sub := bus.SubscribeBuild(1, 0)
	defer sub.Close()
	done := make(chan error)
	go func() {
		_, err := sub.Next(context.Background())
		done <- err
	}()
	bus.Close()
	require.ErrorIs(t, <-done, eventbus.ErrClosed)
	late := bus.SubscribeBuild(1, 0)
	_, err := late.Next(context.Background())
	require.ErrorIs(t, err, eventbus.ErrClosed)
	late.Close()
}

// TestNoGapsNoDuplicates drives random appends (with and without notices),
// watchers joining at random positions, reading, falling behind and
// reconnecting, and checks that every watcher sees each event of its scope
// exactly once, in order.
func TestNoGapsNoDuplicates(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		src := newSource()
		bus := newBus(t, src, eventbus.Config{
			Buffer: rapid.IntRange(1, 8).Draw(rt, "buffer"), ReadLimit: rapid.IntRange(1, 6).Draw(rt, "readLimit"),
			PollInterval: time.Millisecond,
		})
		defer bus.Close()
		type watcher struct {
			sub   *eventbus.Subscription
			owner bool
			id    int64
			got   []int64
			start int64
		}
		last := func(w *watcher) int64 {
			src.mu.Lock()
			defer src.mu.Unlock()
			if w.owner {
				return src.lastU[w.id]
			}
			return src.lastB[w.id]
		}
		subscribe := func(w *watcher, after int64) {
			if w.owner {
				w.sub = bus.SubscribeOwner(w.id, after)
			} else {
				w.sub = bus.SubscribeBuild(w.id, after)
			}
		}
		var watchers []*watcher
		read := func(w *watcher) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			items, err := w.sub.Next(ctx)
			if errors.Is(err, eventbus.ErrLagging) {
				pos := w.sub.Pos()
				w.sub.Close()
				subscribe(w, pos) // the client reconnects after what it has
				return
			}
			if err != nil {
				rt.Fatalf("next: %v", err)
			}
			w.got = append(w.got, positions(items, w.owner)...)
		}
		rt.Repeat(map[string]func(*rapid.T){
			"append": func(rt *rapid.T) {
				n := src.append(rapid.Int64Range(1, 3).Draw(rt, "build"), 1, rapid.IntRange(1, 5).Draw(rt, "n"))
				if rapid.Bool().Draw(rt, "notify") {
					bus.Publish(n)
				}
			},
			"watch": func(rt *rapid.T) {
				w := &watcher{owner: rapid.Bool().Draw(rt, "owner"), id: 1}
				if !w.owner {
					w.id = rapid.Int64Range(1, 3).Draw(rt, "build")
				}
				w.start = rapid.Int64Range(0, last(w)).Draw(rt, "after")
				subscribe(w, w.start)
				watchers = append(watchers, w)
			},
			"read": func(rt *rapid.T) {
				if len(watchers) == 0 {
					rt.Skip("no watchers")
				}
				w := rapid.SampledFrom(watchers).Draw(rt, "watcher")
				if pos := w.start + int64(len(w.got)); pos >= last(w) {
					rt.Skip("nothing new")
				}
				read(w)
			},
			"reconnect": func(rt *rapid.T) {
				if len(watchers) == 0 {
					rt.Skip("no watchers")
				}
				w := rapid.SampledFrom(watchers).Draw(rt, "watcher")
				w.sub.Close()
				subscribe(w, w.start+int64(len(w.got)))
			},
			"": func(rt *rapid.T) {
				for _, w := range watchers {
					if want := seqs(w.start+1, w.start+int64(len(w.got))); len(w.got) > 0 && !equal(want, w.got) {
						rt.Fatalf("watcher from %d got %v", w.start, w.got)
					}
				}
			},
		})
		for _, w := range watchers {
			for w.start+int64(len(w.got)) < last(w) {
				read(w)
			}
			if want := seqs(w.start+1, last(w)); !equal(want, w.got) {
				rt.Fatalf("watcher (owner %v, id %d) from %d got %v, want %v", w.owner, w.id, w.start, w.got, want)
			}
			w.sub.Close()
		}
	})
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEndStopsTheFeed(t *testing.T) {
	t.Parallel()
	src := newSource()
	bus := newBus(t, src, eventbus.Config{PollInterval: time.Millisecond})
	sub := bus.SubscribeBuild(1, 0)
	defer sub.Close()
	goLive(t, sub)
	bus.Publish(src.end(1, 1))
	items, err := sub.Next(context.Background())
	require.NoError(t, err)
	require.Equal(t, kiln.EventEnd, items[0].Event.Kind)
	src.mu.Lock()
	reads := src.reads
	src.mu.Unlock()
	require.True(t, idle(t, sub, 20*time.Millisecond))
	src.mu.Lock()
	require.Equal(t, reads, src.reads, "an ended build's feed reads no more")
	src.mu.Unlock()
}
