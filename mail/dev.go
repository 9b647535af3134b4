package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	kiln "github.com/kiln-build/kiln"
)

// DevOutboxSize is how many messages a DevMailer keeps.
const DevOutboxSize = 200

// DevMailer is the development kiln.Mailer: it delivers nothing, logs every
// message and keeps the last DevOutboxSize of them in memory so a developer
// (or an end-to-end test) can follow the links. It is safe for concurrent use.
type DevMailer struct {
	logger *slog.Logger

	mu      sync.Mutex
	ring    []kiln.Mail   // circular buffer of at most DevOutboxSize messages
	next    int           // index the next message goes to once ring is full
	changed chan struct{} // closed and replaced by every Send, for Wait
}

var _ kiln.Mailer = (*DevMailer)(nil)

// NewDevMailer returns a DevMailer that logs to logger (discarded when nil).
func NewDevMailer(logger *slog.Logger) *DevMailer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DevMailer{logger: logger, changed: make(chan struct{})}
}

// Send logs m and keeps a copy of it. It fails only for a nil message or
// one without a recipient.
func (d *DevMailer) Send(ctx context.Context, m *kiln.Mail) error {
	if m == nil {
		return errors.New("dev mailer: nil message")
	}
	if strings.TrimSpace(m.To) == "" {
		return errors.New("dev mailer: message has no recipient")
	}
	d.mu.Lock()
	if len(d.ring) < DevOutboxSize {
		d.ring = append(d.ring, *m)
	} else {
		d.ring[d.next] = *m
		d.next = (d.next + 1) % DevOutboxSize
	}
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()

	d.logger.InfoContext(ctx, "mail written to dev outbox",
		slog.String("message_id", m.ID),
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("kind", m.Kind),
		slog.String("link", m.Link),
	)
	return nil
}

// Messages returns a copy of the kept messages, oldest first.
func (d *DevMailer) Messages() []kiln.Mail {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.messagesLocked()
}

func (d *DevMailer) messagesLocked() []kiln.Mail {
	out := make([]kiln.Mail, 0, len(d.ring))
	out = append(out, d.ring[d.next:]...)
	return append(out, d.ring[:d.next]...)
}

// Last returns the newest kept message to the address to (compared
// case-insensitively), and false when there is none.
func (d *DevMailer) Last(to string) (kiln.Mail, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.ring)
	for i := range n {
		// Walk newest to oldest: the newest sits just before next.
		m := d.ring[(d.next-1-i+2*n)%n]
		if strings.EqualFold(m.To, to) {
			return m, true
		}
	}
	return kiln.Mail{}, false
}

// Wait returns the newest kept message for which match is true, waiting
// for one to be sent when there is none yet. It fails only when ctx ends.
// Delivery through the outbox is asynchronous; tests and tools that read
// links from the dev outbox wait here instead of polling.
func (d *DevMailer) Wait(ctx context.Context, match func(kiln.Mail) bool) (kiln.Mail, error) {
	for {
		d.mu.Lock()
		changed := d.changed
		msgs := d.messagesLocked()
		d.mu.Unlock()
		for i := len(msgs) - 1; i >= 0; i-- {
			if match(msgs[i]) {
				return msgs[i], nil
			}
		}
		select {
		case <-ctx.Done():
			return kiln.Mail{}, fmt.Errorf("wait for mail: %w", ctx.Err())
		case <-changed:
		}
	}
}
