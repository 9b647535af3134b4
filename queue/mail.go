package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	kiln "github.com/kiln-build/kiln"
)

// QueueMail is the River queue outbox messages are delivered on.
const QueueMail = "mail"

// Mail delivery defaults: ten attempts whose waits double from 7s (±25%
// jitter) add up to about an hour.
const (
	DefaultMailMaxAttempts = 10
	DefaultMailRetryBase   = 7 * time.Second
	DefaultMailRetryMax    = 30 * time.Minute
	DefaultMailConcurrency = 4
	DefaultMailTimeout     = time.Minute
)

// MailArgs is the job that delivers one outbox message.
type MailArgs struct {
	MailID int64 `json:"mail_id"`
}

// Kind implements river.JobArgs.
func (MailArgs) Kind() string { return "kiln_mail" }

// MailOutbox is what the delivery job needs from the outbox; sqlstore's
// MailStore implements it.
type MailOutbox interface {
	// PendingMail returns the message with its bodies, and false when it
	// is no longer pending (sent, failed or deleted).
	PendingMail(ctx context.Context, id int64) (*kiln.Mail, bool, error)
	// MarkMailSent records the delivery after attempts attempts.
	MarkMailSent(ctx context.Context, id int64, attempts int) error
	// MarkMailAttempt records a failed attempt, failing the message for
	// good when failed is set.
	MarkMailAttempt(ctx context.Context, id int64, attempts int, lastErr string, failed bool) error
}

// MailConfig makes a Queue deliver outbox messages.
type MailConfig struct {
	Outbox MailOutbox
	Sender kiln.Mailer
	// RetryBase and RetryMax shape the backoff: attempt n waits
	// RetryBase·2^(n-1), at most RetryMax, with ±25% jitter.
	RetryBase time.Duration
	RetryMax  time.Duration
	// Concurrency is how many messages are sent at once; Timeout bounds
	// one attempt.
	Concurrency int
	Timeout     time.Duration
}

// MailBackoff returns the wait before the attempt after attempt n (1 for
// the first): base·2^(n-1) capped at maxWait, times a jitter factor from
// 0.75 to 1.25 drawn with rnd (a float in [0, 1)).
func MailBackoff(n int, base, maxWait time.Duration, rnd func() float64) time.Duration {
	d := base
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return time.Duration(float64(d) * (0.75 + 0.5*rnd()))
}

// EnqueueMail inserts the delivery job of an outbox message inside tx; it
// has the signature of sqlstore.MailEnqueueFunc so the store calls it in
// the transaction that writes the message.
func (q *Queue) EnqueueMail(ctx context.Context, tx *sql.Tx, mailID int64) error {
	if err := q.insertMailFn(ctx, tx, MailArgs{MailID: mailID}); err != nil {
		return fmt.Errorf("insert mail job: %w", err)
	}
	return nil
}

// mailWorker sends one message per job.
type mailWorker struct {
	river.WorkerDefaults[MailArgs]
	cfg    MailConfig
	logger *slog.Logger
}

func (w *mailWorker) Timeout(*river.Job[MailArgs]) time.Duration { return w.cfg.Timeout }

// NextRetry backs off exponentially with jitter (MailBackoff).
func (w *mailWorker) NextRetry(job *river.Job[MailArgs]) time.Time {
	return time.Now().Add(MailBackoff(job.Attempt, w.cfg.RetryBase, w.cfg.RetryMax, rand.Float64))
}

// Work sends the message unless it is no longer pending. A permanent
// failure, or a temporary one on the last attempt, marks it failed; other
// failures are recorded and retried.
func (w *mailWorker) Work(ctx context.Context, job *river.Job[MailArgs]) error {
	id := job.Args.MailID
	m, pending, err := w.cfg.Outbox.PendingMail(ctx, id)
	if err != nil {
		return err
	}
	if !pending {
		return nil
	}
	sendErr := w.cfg.Sender.Send(ctx, m)
	if sendErr == nil {
		if err := w.cfg.Outbox.MarkMailSent(ctx, id, job.Attempt); err != nil {
			// The message went out; a retry would send it again, which
			// at-least-once delivery allows but the log should show.
			w.logger.WarnContext(ctx, "mail sent but not recorded; it may be sent again",
				slog.Int64("mail_id", id), slog.String("message_id", m.ID), slog.Any("error", err))
			return err
		}
		return nil
	}
	permanent := errors.Is(sendErr, kiln.ErrPermanentMail)
	last := job.Attempt >= job.MaxAttempts
	failed := permanent || last
	level := slog.LevelWarn
	if failed {
		level = slog.LevelError
	}
	w.logger.Log(ctx, level, "mail attempt failed",
		slog.Int64("mail_id", id), slog.String("message_id", m.ID), slog.String("kind", m.Kind),
		slog.Int("attempt", job.Attempt), slog.Int("max_attempts", job.MaxAttempts),
		slog.Bool("permanent", permanent), slog.Bool("given_up", failed), slog.Any("error", sendErr))
	if err := w.cfg.Outbox.MarkMailAttempt(ctx, id, job.Attempt, sendErr.Error(), failed); err != nil {
		return errors.Join(sendErr, err)
	}
	if permanent {
		return river.JobCancel(sendErr)
	}
	return sendErr
}
