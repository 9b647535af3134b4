// Package storetest is the conformance suite of package sqlstore: one set
// of tests that every dialect must pass, run by sqlstore's tests on SQLite
// and on PostgreSQL.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/sqlstore"
)

// Run runs the whole suite. open must return a fresh, migrated database
// for each call and close it when the test ends.
func Run(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, open) })
	t.Run("Auth", func(t *testing.T) { testAuth(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Apps", func(t *testing.T) { testApps(t, open) })
	t.Run("Builds", func(t *testing.T) { testBuilds(t, open) })
	t.Run("Work", func(t *testing.T) { testWork(t, open) })
	t.Run("Rescue", func(t *testing.T) { testRescue(t, open) })
	t.Run("BuildCache", func(t *testing.T) { testBuildCache(t, open) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, open) })
	t.Run("Usage", func(t *testing.T) { testUsage(t, open) })
	t.Run("WebSessions", func(t *testing.T) { testWebSessions(t, open) })
	t.Run("SigningKeys", func(t *testing.T) { testSigningKeys(t, open) })
	t.Run("Identities", func(t *testing.T) { testIdentities(t, open) })
	t.Run("Mail", func(t *testing.T) { testMail(t, open) })
}

// RunRequireVerifiedEmail checks Options.RequireVerifiedEmail; open must
// return a fresh, migrated database opened with opts.
func RunRequireVerifiedEmail(t *testing.T, open func(t *testing.T, opts sqlstore.Options) *sqlstore.DB) {
	t.Run("ErrForbidden", func(t *testing.T) {
		t.Parallel()
		e := newEnvFrom(t, open(t, sqlstore.Options{RequireVerifiedEmail: true}))
		_ = MustCreateUser(t, e, "admin@example.com") // the first user, verified or not
		u := &kiln.User{Email: "new@example.com"}
		require.NoError(t, e.Auth.CreateUser(context.Background(), u))
		ctx := e.ctx(u)
		_, _, err := e.Apps.CreateApp(ctx, kiln.AppCreate{Description: "a todo list"})
		RequireCode(t, err, kiln.EForbidden)
		require.Zero(t, e.count(t, "apps"))
		require.Empty(t, e.Queue.IDs())

		require.NoError(t, e.Auth.SetEmailVerified(context.Background(), u.ID))
		app, _, err := e.Apps.CreateApp(ctx, kiln.AppCreate{Description: "a todo list"})
		require.NoError(t, err)
		_, err = e.Builds.CreateBuild(ctx, app.ID, kiln.BuildCreate{})
		require.NoError(t, err)
	})
	t.Run("OffByDefault", func(t *testing.T) {
		t.Parallel()
		e := newEnvFrom(t, open(t, sqlstore.Options{}))
		u := MustCreateUser(t, e, "new@example.com")
		_, _, err := e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{Description: "a todo list"})
		require.NoError(t, err)
	})
}

// Env is one fresh database with every service over it and a recording
// queue.
type Env struct {
	DB     *sqlstore.DB
	Apps   kiln.AppService
	Builds kiln.BuildService
	Work   kiln.BuildWork
	Users  kiln.UserService
	Auth   auth.Store
	Idem   kiln.IdempotencyStore
	Queue  *Queue
}

func newEnv(t *testing.T, open func(t *testing.T) *sqlstore.DB) *Env {
	t.Helper()
	return newEnvFrom(t, open(t))
}

func newEnvFrom(t *testing.T, db *sqlstore.DB) *Env {
	t.Helper()
	e := &Env{
		DB:     db,
		Apps:   sqlstore.NewAppService(db),
		Builds: sqlstore.NewBuildService(db),
		Work:   sqlstore.NewBuildWork(db),
		Users:  sqlstore.NewUserService(db),
		Auth:   sqlstore.NewAuthStore(db),
		Idem:   sqlstore.NewIdempotencyStore(db),
		Queue:  &Queue{dialect: db.Dialect()},
	}
	db.SetEnqueue(e.Queue.Enqueue)
	return e
}

// ctx returns a context acting for u.
func (e *Env) ctx(u *kiln.User) context.Context {
	return kiln.NewContextWithUser(context.Background(), u)
}

// count returns the number of rows in a table, read straight from the database.
func (e *Env) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, e.DB.Writer().QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// Queue is a test EnqueueFunc: it records the build ids it was called
// with, checks that the build is visible inside the transaction, and fails
// when told to.
type Queue struct {
	dialect string
	mu      sync.Mutex
	ids     []int64
	fail    error
}

// Enqueue implements sqlstore.EnqueueFunc.
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, buildID int64) error {
	q.mu.Lock()
	fail := q.fail
	q.mu.Unlock()
	if fail != nil {
		return fail
	}
	query := "SELECT status FROM builds WHERE id = ?"
	if q.dialect == sqlstore.DialectPostgres {
		query = strings.ReplaceAll(query, "?", "$1")
	}
	var status string
	if err := tx.QueryRowContext(ctx, query, buildID).Scan(&status); err != nil {
		return err
	}
	if status != string(kiln.BuildQueued) {
		return errors.New("enqueued a build that is not queued: " + status)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ids = append(q.ids, buildID)
	return nil
}

// IDs returns the build ids enqueued so far.
func (q *Queue) IDs() []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]int64(nil), q.ids...)
}

// FailWith makes later calls fail with err (nil to succeed again).
func (q *Queue) FailWith(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fail = err
}

// MustCreateUser creates a user with the email, verified.
func MustCreateUser(tb testing.TB, e *Env, email string) *kiln.User {
	tb.Helper()
	u := &kiln.User{Email: email, PasswordHash: "hash:" + email, EmailVerified: true}
	require.NoError(tb, e.Auth.CreateUser(context.Background(), u))
	return u
}

// MustCreateApp creates an app for u and returns it with build #1.
func MustCreateApp(tb testing.TB, e *Env, u *kiln.User, desc string) (*kiln.App, *kiln.Build) {
	tb.Helper()
	app, b, err := e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{Description: desc})
	require.NoError(tb, err)
	return app, b
}

// MustClaim claims a build under lease as a fresh worker would.
func MustClaim(tb testing.TB, e *Env, buildID int64, lease string) *kiln.Build {
	tb.Helper()
	b, _, err := e.Work.ClaimBuild(context.Background(), buildID, lease, time.Now().Add(-time.Hour))
	require.NoError(tb, err)
	return b
}

// RequireCode fails unless err carries a kiln.Error with the code.
func RequireCode(tb testing.TB, err error, code string) {
	tb.Helper()
	require.Error(tb, err)
	require.Equal(tb, code, kiln.ErrorCode(err), "error: %v", err)
}

// RequireField fails unless err is EInvalid naming the field path.
func RequireField(tb testing.TB, err error, path string) {
	tb.Helper()
	RequireCode(tb, err, kiln.EInvalid)
	var ke *kiln.Error
	require.True(tb, errors.As(err, &ke))
	var paths []string
	for _, f := range ke.Fields {
		paths = append(paths, f.Path)
	}
	require.Contains(tb, paths, path)
}

// validSpec returns a spec that passes Validate.
func validSpec(name string) *kiln.AppSpec {
	return &kiln.AppSpec{
		KilnSpec: kiln.SpecVersion,
		Name:     name,
		Summary:  "A list of books",
		Entities: []kiln.Entity{{
			Name: "book", Plural: "books",
			Fields: []kiln.Field{
				{Name: "title", Type: kiln.FieldString, Required: true},
				{Name: "pages", Type: kiln.FieldInteger, Default: float64(100)},
			},
		}},
		Features: []string{"search"},
	}
}

func testMigrate(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("Idempotent", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		ctx := context.Background()
		require.NoError(t, db.Ping(ctx))
		require.NoError(t, db.Migrate(ctx))
		require.NoError(t, db.Migrate(ctx))
		require.NoError(t, db.Ping(ctx))
	})
	t.Run("Dialect", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		require.Contains(t, []string{sqlstore.DialectSQLite, sqlstore.DialectPostgres}, db.Dialect())
		require.Equal(t, db.Dialect() == sqlstore.DialectPostgres, db.PgxPool() != nil)
		require.NotNil(t, db.Writer())
	})
}
