package analytics

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	kiln "github.com/kiln-build/kiln"
)

// gateWriter is an EventWriter whose first call blocks until release is
// closed, recording the size of every call.
type gateWriter struct {
	release chan struct{}
	entered chan struct{}
	fail    error

	mu    sync.Mutex
	calls []int
	once  sync.Once
}

func newGateWriter() *gateWriter {
	return &gateWriter{release: make(chan struct{}), entered: make(chan struct{})}
}

func (w *gateWriter) InsertEvents(ctx context.Context, events []kiln.Event) error {
	first := false
	w.once.Do(func() { first = true })
	if first {
		close(w.entered)
		<-w.release
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, len(events))
	return w.fail
}

func (w *gateWriter) Calls() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.calls...)
}

func events(n int) []kiln.Event { return make([]kiln.Event, n) }

// waitQueued waits until n submissions sit in the committer's queue.
func waitQueued(c *Committer, n int) {
	for len(c.in) < n {
		runtime.Gosched()
	}
}

func TestCommitterGroupsWaitingRequests(t *testing.T) {
	t.Parallel()
	w := newGateWriter()
	c := NewCommitter(CommitterConfig{Writer: w})
	go c.Run()
	defer c.Stop(context.Background()) //nolint:errcheck
	ctx := context.Background()

	errs := make(chan error, 6)
	go func() { errs <- c.Submit(ctx, events(1)) }()
	<-w.entered // the first commit is under way
	for range 5 {
		go func() { errs <- c.Submit(ctx, events(10)) }()
	}
	waitQueued(c, 5)
	close(w.release)
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := w.Calls(); len(got) != 2 || got[0] != 1 || got[1] != 50 {
		t.Fatalf("commits %v, want [1 50]: the five waiting requests share one", got)
	}
}

func TestCommitterBoundsATransaction(t *testing.T) {
	t.Parallel()
	w := newGateWriter()
	c := NewCommitter(CommitterConfig{Writer: w, MaxCommitEvents: 25})
	go c.Run()
	defer c.Stop(context.Background()) //nolint:errcheck
	ctx := context.Background()
	errs := make(chan error, 5)
	go func() { errs <- c.Submit(ctx, events(1)) }()
	<-w.entered
	for range 4 {
		go func() { errs <- c.Submit(ctx, events(10)) }()
	}
	waitQueued(c, 4)
	close(w.release)
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := w.Calls(); len(got) != 3 || got[1] != 30 || got[2] != 10 {
		t.Fatalf("commits %v, want [1 30 10]", got)
	}
}

func TestCommitterFailureReachesEveryWaiter(t *testing.T) {
	t.Parallel()
	w := newGateWriter()
	w.fail = errors.New("disk full")
	c := NewCommitter(CommitterConfig{Writer: w})
	go c.Run()
	defer c.Stop(context.Background()) //nolint:errcheck
	ctx := context.Background()
	errs := make(chan error, 3)
	go func() { errs <- c.Submit(ctx, events(1)) }()
	<-w.entered
	for range 2 {
		go func() { errs <- c.Submit(ctx, events(1)) }()
	}
	waitQueued(c, 2)
	close(w.release)
	for range 3 {
		if err := <-errs; kiln.ErrorCode(err) != kiln.EUnavailable {
			t.Fatalf("err %v, want unavailable", err)
		}
	}
}

func TestCommitterStopCommitsQueued(t *testing.T) {
	t.Parallel()
	w := newGateWriter()
	c := NewCommitter(CommitterConfig{Writer: w})
	go c.Run()
	ctx := context.Background()
	errs := make(chan error, 4)
	go func() { errs <- c.Submit(ctx, events(1)) }()
	<-w.entered
	for range 3 {
		go func() { errs <- c.Submit(ctx, events(2)) }()
	}
	waitQueued(c, 3)
	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop(ctx) }()
	// Stop refuses new submissions at once, while the queued ones wait.
	for {
		c.mu.RLock()
		s := c.stopped
		c.mu.RUnlock()
		if s {
			break
		}
		runtime.Gosched()
	}
	if err := c.Submit(ctx, events(1)); kiln.ErrorCode(err) != kiln.EUnavailable {
		t.Fatalf("submit after stop: %v", err)
	}
	close(w.release)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("a request queued before Stop failed: %v", err)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	var total int
	for _, n := range w.Calls() {
		total += n
	}
	if total != 7 {
		t.Fatalf("committed %d events, want 7", total)
	}
}
