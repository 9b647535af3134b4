// Package queuetest runs Kiln's real queue in tests that need mail
// delivered: signup and reset links reach a dev mailer the way they reach
// a user, through the outbox and a River job.
package queuetest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/queue"
	"github.com/kiln-build/kiln/sqlstore"
)

// StartMail migrates River's tables in db, attaches a queue that delivers
// db's outbox to sender (polling every 20ms) and stops it when tb ends.
// It fails tb on any error.
func StartMail(tb testing.TB, db *sqlstore.DB, sender kiln.Mailer) *queue.Queue {
	tb.Helper()
	ctx := context.Background()
	if err := queue.Migrate(ctx, db.Dialect(), db.Writer(), nil); err != nil {
		tb.Fatalf("migrate queue: %v", err)
	}
	q, err := queue.New(queue.Config{
		Dialect: db.Dialect(), DB: db.Writer(), Pool: db.PgxPool(), PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
		Mail:   &queue.MailConfig{Outbox: sqlstore.NewMailStore(db), Sender: sender, RetryBase: 50 * time.Millisecond},
	})
	if err != nil {
		tb.Fatalf("queue: %v", err)
	}
	db.SetMailEnqueue(q.EnqueueMail)
	if err := q.Start(ctx); err != nil {
		tb.Fatalf("start queue: %v", err)
	}
	tb.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.StopAndCancel(stopCtx)
	})
	return q
}
