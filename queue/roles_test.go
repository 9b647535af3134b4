package queue_test

import (
	"context"
	"testing"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/queue"
	"github.com/kiln-build/kiln/sqlstore"
)

// noMail is a MailOutbox and Mailer that never has anything to do.
type noMail struct{}

func (noMail) PendingMail(context.Context, int64) (*kiln.Mail, bool, error) { return nil, false, nil }
func (noMail) MarkMailSent(context.Context, int64, int) error               { return nil }
func (noMail) MarkMailAttempt(context.Context, int64, int, string, bool) error {
	return nil
}
func (noMail) Send(context.Context, *kiln.Mail) error { return nil }

// TestMailNodeQueuesBuilds: a node that delivers mail but runs no builds
// (an API node beside separate workers) must still queue builds; River
// refuses to insert a kind its client does not work unless told otherwise.
func TestMailNodeQueuesBuilds(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{sqlstore.DialectSQLite, sqlstore.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openBenchDB(t, dialect)
			q, err := queue.New(queue.Config{Dialect: db.Dialect(), DB: db.Writer(), Pool: db.PgxPool(),
				Mail: &queue.MailConfig{Outbox: noMail{}, Sender: noMail{}}})
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.Writer().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if err := q.Enqueue(ctx, tx, 1); err != nil {
				t.Fatalf("a mail-only node could not queue a build: %v", err)
			}
		})
	}
}
