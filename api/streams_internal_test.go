package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
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

// TestWriteBatches checks the batched WebSocket messages: JSON arrays that
// keep every event once and in order, within the limit unless one event
// alone is bigger.
func TestWriteBatches(t *testing.T) {
	var items []*eventbus.Item
	for i, size := range []int{10, 200, 30, 5000, 40, 40, 40, 1, 600, 900} {
		items = append(items, &eventbus.Item{Event: &kiln.BuildEvent{BuildID: 1, Seq: int64(i + 1), Kind: kiln.EventLog,
			Log: &kiln.LogEvent{Text: "\"" + strings.Repeat("x", size)}}})
	}
	const limit = 1500
	var got []int64
	var sizes []int
	buf, err := writeBatches(nil, items, limit, func(msg []byte) error {
		var events []*kiln.BuildEvent
		if err := json.Unmarshal(msg, &events); err != nil || len(events) == 0 {
			t.Fatalf("message %.100q: %v", msg, err)
		}
		if len(events) > 1 && len(msg) > limit {
			t.Errorf("a message of %d events is %d bytes, over %d", len(events), len(msg), limit)
		}
		for _, e := range events {
			got = append(got, e.Seq)
		}
		sizes = append(sizes, len(events))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("seqs %v, want %v", got, want)
	}
	// Events take about 90 bytes more than their text. 1-3 fit; 4 is
	// bigger than the limit and goes alone; 5-9 fit; 10 does not fit with
	// them.
	if want := []int{3, 1, 5, 1}; !slices.Equal(sizes, want) {
		t.Errorf("events per message %v, want %v", sizes, want)
	}
	if len(buf) != 0 {
		t.Errorf("the returned buffer holds %d bytes", len(buf))
	}

	wantErr := errors.New("gone")
	calls := 0
	if _, err := writeBatches(buf, items, limit, func([]byte) error { calls++; return wantErr }); !errors.Is(err, wantErr) || calls != 1 {
		t.Errorf("a failed write: %v after %d calls, want the write's error after 1", err, calls)
	}
	if _, err := writeBatches(buf, nil, limit, func([]byte) error { t.Error("wrote nothing"); return nil }); err != nil {
		t.Error(err)
	}
}
