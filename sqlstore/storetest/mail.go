package storetest

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/sqlstore"
)

// mailQueue records the outbox's delivery jobs and can fail them.
type mailQueue struct {
	mu   sync.Mutex
	ids  []int64
	fail error
}

func (q *mailQueue) enqueue(_ context.Context, tx *sql.Tx, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if tx == nil {
		return errors.New("mail enqueued outside a transaction")
	}
	if q.fail != nil {
		return q.fail
	}
	q.ids = append(q.ids, id)
	return nil
}

func (q *mailQueue) IDs() []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]int64(nil), q.ids...)
}

func testMail(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	bg := context.Background()
	newMailEnv := func(t *testing.T) (*Env, *mailQueue, *sqlstore.MailStore) {
		e := newEnv(t, open)
		q := &mailQueue{}
		e.DB.SetMailEnqueue(q.enqueue)
		return e, q, sqlstore.NewMailStore(e.DB)
	}
	mail := func(to string) *kiln.Mail {
		return &kiln.Mail{To: to, Subject: "Verify", Text: "open http://x/?token=s", HTML: "<a href=\"http://x/?token=s\">x</a>",
			Kind: "verify_email", Link: "http://x/?token=s"}
	}

	t.Run("SignupWritesMailInItsTransaction", func(t *testing.T) {
		t.Parallel()
		e, q, ms := newMailEnv(t)
		u := &kiln.User{Email: "ada@example.com", PasswordHash: "h"}
		m := mail(u.Email)
		require.NoError(t, e.Auth.CreateUserWithToken(bg, u, &auth.OneTimeToken{Kind: auth.TokenVerifyEmail, Hash: "v1",
			ExpiresAt: time.Now().Add(time.Hour), Mail: m}))
		require.NotEmpty(t, m.ID, "the stable message id is filled in")
		require.True(t, u.Notifications.BuildFinished, "build mails are on for new accounts")
		require.Len(t, q.IDs(), 1)

		got, pending, err := ms.PendingMail(bg, q.IDs()[0])
		require.NoError(t, err)
		require.True(t, pending)
		require.Equal(t, m.ID, got.ID)
		require.Equal(t, m.Text, got.Text)
		require.Equal(t, m.HTML, got.HTML)
		require.Equal(t, m.Link, got.Link)
		id, err := e.Auth.ConsumeOneTimeToken(bg, auth.TokenVerifyEmail, "v1", time.Now())
		require.NoError(t, err)
		require.Equal(t, u.ID, id)
	})

	t.Run("ErrEnqueueRollsBack", func(t *testing.T) {
		t.Parallel()
		e, q, _ := newMailEnv(t)
		q.fail = errors.New("queue down")
		u := &kiln.User{Email: "ada@example.com", PasswordHash: "h"}
		err := e.Auth.CreateUserWithToken(bg, u, &auth.OneTimeToken{Kind: auth.TokenVerifyEmail, Hash: "v1",
			ExpiresAt: time.Now().Add(time.Hour), Mail: mail(u.Email)})
		require.ErrorContains(t, err, "queue down")
		require.Zero(t, e.count(t, "users"))
		require.Zero(t, e.count(t, "one_time_tokens"))
		require.Zero(t, e.count(t, "mail_outbox"))

		q.fail = nil
		v := MustCreateUser(t, e, "v@example.com")
		q.fail = errors.New("queue down")
		err = e.Auth.CreateOneTimeToken(bg, v.ID, &auth.OneTimeToken{Kind: auth.TokenPasswordReset, Hash: "r1",
			ExpiresAt: time.Now().Add(time.Hour), Mail: mail(v.Email)})
		require.ErrorContains(t, err, "queue down")
		require.Zero(t, e.count(t, "one_time_tokens"))
		require.Zero(t, e.count(t, "mail_outbox"))
	})

	t.Run("DeliveryLifecycle", func(t *testing.T) {
		t.Parallel()
		e, q, ms := newMailEnv(t)
		admin := MustCreateUser(t, e, "admin@example.com")
		bob := MustCreateUser(t, e, "bob@example.com")
		require.NoError(t, e.Auth.CreateOneTimeToken(bg, bob.ID, &auth.OneTimeToken{Kind: auth.TokenPasswordReset, Hash: "r1",
			ExpiresAt: time.Now().Add(time.Hour), Mail: mail(bob.Email)}))
		id := q.IDs()[0]

		require.NoError(t, ms.MarkMailAttempt(bg, id, 1, "connection refused", false))
		_, pending, err := ms.PendingMail(bg, id)
		require.NoError(t, err)
		require.True(t, pending, "a temporary failure keeps the message pending")
		require.NoError(t, ms.MarkMailAttempt(bg, id, 2, "550 no such user", true))
		_, pending, err = ms.PendingMail(bg, id)
		require.NoError(t, err)
		require.False(t, pending)

		failed := kiln.MailFailed
		_, _, err = ms.FindMail(e.ctx(bob), kiln.MailFilter{})
		RequireCode(t, err, kiln.EForbidden)
		_, _, err = ms.FindMail(bg, kiln.MailFilter{})
		RequireCode(t, err, kiln.EUnauthorized)
		list, next, err := ms.FindMail(e.ctx(admin), kiln.MailFilter{Status: &failed})
		require.NoError(t, err)
		require.Empty(t, next)
		require.Len(t, list, 1)
		require.Equal(t, kiln.MailFailed, list[0].Status)
		require.Equal(t, 2, list[0].Attempts)
		require.Equal(t, "550 no such user", list[0].LastError)
		require.Equal(t, "bob@example.com", list[0].To)
		bad := kiln.MailStatus("lost")
		_, _, err = ms.FindMail(e.ctx(admin), kiln.MailFilter{Status: &bad})
		RequireCode(t, err, kiln.EInvalid)

		_, err = ms.RetryMail(e.ctx(bob), id)
		RequireCode(t, err, kiln.EForbidden)
		_, err = ms.RetryMail(e.ctx(admin), 99999)
		RequireCode(t, err, kiln.ENotFound)
		m, err := ms.RetryMail(e.ctx(admin), id)
		require.NoError(t, err)
		require.Equal(t, kiln.MailPending, m.Status)
		require.Zero(t, m.Attempts)
		require.Equal(t, []int64{id, id}, q.IDs(), "a retry enqueues a new delivery job")
		_, err = ms.RetryMail(e.ctx(admin), id)
		RequireCode(t, err, kiln.EConflict)

		require.NoError(t, ms.MarkMailSent(bg, id, 1))
		_, pending, err = ms.PendingMail(bg, id)
		require.NoError(t, err)
		require.False(t, pending)
		out, err := ms.OutboxMail(bg, "bob@example.com")
		require.NoError(t, err)
		require.Len(t, out, 1)
		require.Empty(t, out[0].Text+out[0].HTML+out[0].Link, "a sent message keeps no single-use link")
		sent := kiln.MailSent
		list, _, err = ms.FindMail(e.ctx(admin), kiln.MailFilter{Status: &sent})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.NotNil(t, list[0].SentAt)
		require.Empty(t, list[0].LastError)
	})

	t.Run("ResetPassword", func(t *testing.T) {
		t.Parallel()
		e, _, _ := newMailEnv(t)
		u := &kiln.User{Email: "r@example.com", PasswordHash: "old"}
		require.NoError(t, e.Auth.CreateUser(bg, u))
		now := time.Now()
		rt := &auth.RefreshToken{UserID: u.ID, Family: "f", Hash: "rt", ExpiresAt: now.Add(time.Hour)}
		require.NoError(t, e.Auth.CreateRefreshToken(bg, rt))
		require.NoError(t, e.Auth.CreateOneTimeToken(bg, u.ID, &auth.OneTimeToken{Kind: auth.TokenVerifyEmail, Hash: "v", ExpiresAt: now.Add(time.Hour)}))
		require.NoError(t, e.Auth.CreateOneTimeToken(bg, u.ID, &auth.OneTimeToken{Kind: auth.TokenPasswordReset, Hash: "p", ExpiresAt: now.Add(time.Hour)}))

		_, err := e.Auth.ResetPassword(bg, "v", "new", now)
		RequireCode(t, err, kiln.EInvalid) // a verify token is no reset token
		id, err := e.Auth.ResetPassword(bg, "p", "new", now)
		require.NoError(t, err)
		require.Equal(t, u.ID, id)
		_, err = e.Auth.ResetPassword(bg, "p", "newer", now)
		RequireCode(t, err, kiln.EInvalid) // used

		got, err := e.Auth.FindUserByID(bg, u.ID)
		require.NoError(t, err)
		require.Equal(t, "new", got.PasswordHash)
		require.True(t, got.EmailVerified)
		stored, err := e.Auth.FindRefreshToken(bg, "rt")
		require.NoError(t, err)
		require.NotNil(t, stored.RevokedAt, "a reset revokes the user's refresh tokens")
	})

	t.Run("BuildFinishedMail", func(t *testing.T) {
		t.Parallel()
		e, q, ms := newMailEnv(t)
		var rendered []string
		e.DB.SetBuildMail(func(to string, app *kiln.App, b *kiln.Build) (*kiln.Mail, error) {
			rendered = append(rendered, string(b.Status))
			return &kiln.Mail{To: to, Subject: app.Name + " " + string(b.Status), Text: "t", HTML: "h", Kind: "build_finished"}, nil
		})
		u := MustCreateUser(t, e, "b@example.com")
		_, b1 := MustCreateApp(t, e, u, "a todo list")
		MustClaim(t, e, b1.ID, "l1")
		require.NoError(t, e.Work.FinishBuild(bg, b1.ID, "l1", kiln.BuildSucceeded, ""))
		require.Equal(t, []string{"succeeded"}, rendered)
		require.Len(t, q.IDs(), 1)
		out, err := ms.OutboxMail(bg, "b@example.com")
		require.NoError(t, err)
		require.Len(t, out, 1)
		require.Equal(t, "build_finished", out[0].Kind)

		// Canceled builds send nothing; users can turn the mail off.
		b2, err := e.Builds.CreateBuild(e.ctx(u), b1.AppID, kiln.BuildCreate{})
		require.NoError(t, err)
		MustClaim(t, e, b2.ID, "l2")
		require.NoError(t, e.Work.FinishBuild(bg, b2.ID, "l2", kiln.BuildCanceled, ""))
		updated, err := e.Users.SetNotifications(e.ctx(u), kiln.Notifications{BuildFinished: false})
		require.NoError(t, err)
		require.False(t, updated.Notifications.BuildFinished)
		b3, err := e.Builds.CreateBuild(e.ctx(u), b1.AppID, kiln.BuildCreate{})
		require.NoError(t, err)
		MustClaim(t, e, b3.ID, "l3")
		require.NoError(t, e.Work.FinishBuild(bg, b3.ID, "l3", kiln.BuildFailed, "boom"))
		require.Len(t, q.IDs(), 1)

		_, err = e.Users.SetNotifications(bg, kiln.Notifications{})
		RequireCode(t, err, kiln.EUnauthorized)
	})
}
