package analytics

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// EventWriter stores events durably: when InsertEvents returns nil, they
// are committed. sqlstore.EventStore implements it.
type EventWriter interface {
	InsertEvents(ctx context.Context, events []kiln.Event) error
}

// Committer defaults.
const (
	DefaultMaxCommitEvents = 10000
	DefaultQueueLen        = 256
)

// CommitterConfig configures a Committer.
type CommitterConfig struct {
	Writer EventWriter
	// MaxCommitEvents bounds one transaction (default 10,000). A request
	// is never split, so a commit may exceed it by one request.
	MaxCommitEvents int
	// QueueLen is how many requests may wait for the writer before
	// Submit blocks (default 256).
	QueueLen int
	// Committed, when set, is called after each successful commit with
	// the number of events (the rollup job listens).
	Committed func(n int)
	Logger    *slog.Logger
}

// Committer is the group-commit writer: one goroutine takes every request
// waiting at that moment, stores all their events in one transaction and
// then answers each of them. Under load many requests share a commit; idle,
// a request is committed at once.
type Committer struct {
	cfg  CommitterConfig
	in   chan *pending
	stop chan struct{}
	done chan struct{}

	mu      sync.RWMutex
	stopped bool
}

type pending struct {
	events []kiln.Event
	done   chan error
}

// errStopped answers submissions after Stop.
var errStopped = kiln.Errorf(kiln.EUnavailable, "the server is shutting down; send the events again")

// NewCommitter returns a Committer; call Run to start it.
func NewCommitter(cfg CommitterConfig) *Committer {
	if cfg.MaxCommitEvents <= 0 {
		cfg.MaxCommitEvents = DefaultMaxCommitEvents
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Committer{cfg: cfg, in: make(chan *pending, cfg.QueueLen), stop: make(chan struct{}), done: make(chan struct{})}
}

// Submit stores events and returns once they are committed (nil) or
// failed. When ctx ends first it returns ctx's error; the events may still
// be committed then. EUnavailable after Stop.
func (c *Committer) Submit(ctx context.Context, events []kiln.Event) error {
	p := &pending{events: events, done: make(chan error, 1)}
	c.mu.RLock()
	if c.stopped {
		c.mu.RUnlock()
		return errStopped
	}
	select {
	case c.in <- p:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run is the writer loop. It returns after Stop, once every request
// submitted before Stop has been answered.
func (c *Committer) Run() {
	defer close(c.done)
	for {
		var first *pending
		select {
		case first = <-c.in:
		case <-c.stop:
			// Stop has closed the door: commit what is still queued.
			for {
				select {
				case p := <-c.in:
					c.commit([]*pending{p})
				default:
					return
				}
			}
		}
		group := []*pending{first}
		n := len(first.events)
	gather:
		for n < c.cfg.MaxCommitEvents {
			select {
			case p := <-c.in:
				group = append(group, p)
				n += len(p.events)
			default:
				break gather
			}
		}
		c.commit(group)
	}
}

func (c *Committer) commit(group []*pending) {
	var events []kiln.Event
	if len(group) == 1 {
		events = group[0].events
	} else {
		n := 0
		for _, p := range group {
			n += len(p.events)
		}
		events = make([]kiln.Event, 0, n)
		for _, p := range group {
			events = append(events, p.events...)
		}
	}
	start := time.Now()
	// Nobody cancels a commit halfway: its requests are waiting for it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := c.cfg.Writer.InsertEvents(ctx, events)
	cancel()
	if err != nil {
		c.cfg.Logger.Error("store analytics events", slog.Int("events", len(events)), slog.Int("requests", len(group)), slog.Any("error", err))
		err = kiln.Errorf(kiln.EUnavailable, "the events could not be stored; send them again")
	} else {
		c.cfg.Logger.Debug("analytics events committed", slog.Int("events", len(events)), slog.Int("requests", len(group)), slog.Duration("took", time.Since(start)))
	}
	for _, p := range group {
		p.done <- err
	}
	if err == nil && c.cfg.Committed != nil {
		c.cfg.Committed(len(events))
	}
}

// Stop refuses new submissions, waits for the queued ones to be committed
// and answered, and for Run to return (or ctx to end).
func (c *Committer) Stop(ctx context.Context) error {
	c.mu.Lock()
	if !c.stopped {
		c.stopped = true
		close(c.stop)
	}
	c.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("analytics committer did not stop in time"), ctx.Err())
	}
}
