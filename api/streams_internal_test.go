package api

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/eventbus"
)

// memEvents is one build's event log in memory.
type memEvents struct {
	mu     sync.Mutex
	events []*kiln.BuildEvent
}

func (m *memEvents) append(n int) kiln.EventNotice {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range n {
		seq := int64(len(m.events) + 1)
		m.events = append(m.events, &kiln.BuildEvent{BuildID: 1, Seq: seq, UserSeq: seq, Kind: kiln.EventLog, Log: &kiln.LogEvent{Text: "x"}})
	}
	last := int64(len(m.events))
	return kiln.EventNotice{BuildID: 1, OwnerID: 1, Seq: last, UserSeq: last}
}

func (m *memEvents) BuildEvents(_ context.Context, _, after int64, limit int) ([]*kiln.BuildEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if after >= int64(len(m.events)) {
		return nil, nil
	}
	out := m.events[after:]
	return out[:min(len(out), limit)], nil
}

func (m *memEvents) OwnerEvents(ctx context.Context, _, after int64, limit int) ([]*kiln.BuildEvent, error) {
	return m.BuildEvents(ctx, 1, after, limit)
}

func (m *memEvents) LastSeq(context.Context, int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.events)), nil
}

func (m *memEvents) LastUserSeq(ctx context.Context, id int64) (int64, error) {
	return m.LastSeq(ctx, id)
}

// blockingSink holds every send until released.
type blockingSink struct {
	sending chan []*eventbus.Item
	release chan struct{}
	closed  chan string
	code    int
}

func (s *blockingSink) send(ctx context.Context, items []*eventbus.Item, _ bool) error {
	s.sending <- items
	<-s.release
	return nil
}

func (s *blockingSink) ping(context.Context) error { return nil }

func (s *blockingSink) close(code int, reason string) {
	s.code = code
	s.closed <- reason
}

// TestSlowConsumerClosed: a client whose connection takes its events
// slower than the build makes them is closed with CloseSlowConsumer and a
// reason that says where to resume.
func TestSlowConsumerClosed(t *testing.T) {
	t.Parallel()
	src := &memEvents{}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := eventbus.New(eventbus.Config{Source: src, Buffer: 16, PollInterval: time.Hour, Logger: quiet})
	defer bus.Close()
	s := &Server{cfg: Config{Bus: bus}, log: quiet, streams: newStreams(StreamConfig{})}
	sub := bus.SubscribeBuild(1, 0)
	defer sub.Close()
	sink := &blockingSink{sending: make(chan []*eventbus.Item, 1), release: make(chan struct{}), closed: make(chan string, 1)}
	st := &session{srv: s, src: sub, log: quiet}
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.run(context.Background(), sink)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !sub.Live() {
		if time.Now().After(deadline) {
			t.Fatal("the stream never went live")
		}
		time.Sleep(time.Millisecond)
	}
	bus.Publish(src.append(1))
	if got := <-sink.sending; len(got) != 1 {
		t.Fatalf("first send: %d items", len(got))
	}
	// While that send is stuck in the network, the build goes on.
	bus.Publish(src.append(20))
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("the slow stream is still open")
		}
		select {
		case sink.release <- struct{}{}:
			continue
		case reason := <-sink.closed:
			if sink.code != CloseSlowConsumer || !strings.Contains(reason, "fell more than 16 events behind") || !strings.Contains(reason, "resume with after=1") {
				t.Fatalf("closed %d: %q", sink.code, reason)
			}
		case <-sink.sending:
			continue
		}
		break
	}
	<-done
}
