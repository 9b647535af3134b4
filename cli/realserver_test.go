package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/eventbus"
	"github.com/kiln-build/kiln/mail"
	"github.com/kiln-build/kiln/queue/queuetest"
	"github.com/kiln-build/kiln/sqlstore"
)

// realServer runs the real API on the real SQLite store and auth service,
// without a queue (builds stay queued until canceled), so the CLI is checked
// against the server's actual routes, bodies and problem documents.
func realServer(t *testing.T) (*httptest.Server, *mail.DevMailer) {
	t.Helper()
	return realServerWith(t, nil)
}

// realServerWith is realServer with configure adjusting the API's config
// (given the auth service) before it starts.
func realServerWith(t *testing.T, configure func(*api.Config, *auth.Service)) (*httptest.Server, *mail.DevMailer) {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "kiln.db"), sqlstore.Options{Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Migrate(ctx))
	// No worker runs here: builds stay queued, which is all these checks need.
	db.SetEnqueue(func(context.Context, *sql.Tx, int64) error { return nil })
	mailer := mail.NewDevMailer(logger)
	queuetest.StartMail(t, db, mailer)
	ts := httptest.NewUnstartedServer(nil)
	authSvc, err := auth.New(sqlstore.NewAuthStore(db), auth.Config{
		Secret:  []byte(strings.Repeat("s", auth.MinSecretLen)),
		BaseURL: "http://" + ts.Listener.Addr().String(),
	}, logger)
	require.NoError(t, err)
	events := sqlstore.NewBuildEventService(db)
	bus := eventbus.New(eventbus.Config{Source: events, Logger: logger})
	t.Cleanup(bus.Close)
	cfg := api.Config{
		Events:      events,
		Bus:         bus,
		Auth:        authSvc,
		Keys:        authSvc,
		Users:       sqlstore.NewUserService(db),
		Apps:        sqlstore.NewAppService(db),
		Builds:      sqlstore.NewBuildService(db),
		Mail:        sqlstore.NewMailStore(db),
		Idempotency: sqlstore.NewIdempotencyStore(db),
		Usage:       sqlstore.NewUsageService(db),
		LLMLimits:   api.LLMLimits{Model: "gpt-4o", Build: 300, Month: 5000},
		DevOutbox:   mailer,
		Logger:      logger,
		IngestKeys:  sqlstore.NewIngestKeyService(db),
		Ingester:    mustIngester(t, db, logger),
		Analytics:   sqlstore.NewEventStore(db),
	}
	if configure != nil {
		configure(&cfg, authSvc)
	}
	ts.Config.Handler = api.New(cfg)
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, mailer
}

// TestAgainstRealServer walks a user's first session through the CLI.
func TestAgainstRealServer(t *testing.T) {
	t.Parallel()
	ts, mailer := realServer(t)
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL

	res := h.MustRun("correct horse battery\n", "signup", "--email", "ada@example.com", "--password-stdin")
	assert.Contains(t, res.stdout, "Signed up and logged in")
	waitCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	m, err := mailer.Wait(waitCtx, func(m kiln.Mail) bool { return m.To == "ada@example.com" })
	require.NoError(t, err, "a verification mail was sent")
	link, err := url.Parse(m.Link)
	require.NoError(t, err)
	h.MustRun("", "verify-email", link.Query().Get("token"))

	var me kiln.User
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "whoami", "-o", "json").stdout), &me))
	assert.True(t, me.EmailVerified)
	assert.Equal(t, kiln.RoleAdmin, me.Role)

	secret := strings.TrimSpace(h.MustRun("", "tokens", "create", "ci", "--expires", "30d").stdout)
	h.env["KILN_TOKEN"] = secret
	assert.Contains(t, h.MustRun("", "whoami").stdout, "ada@example.com")
	delete(h.env, "KILN_TOKEN")
	assert.Contains(t, h.MustRun("", "tokens", "list").stdout, "ci")
	h.MustRun("", "auth", "refresh")

	res = h.Run("", "apps", "create", strings.Repeat("x", kiln.MaxDescriptionLen+1))
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "description", "the server names the field: %s", res.stderr)

	var created struct {
		App   kiln.App
		Build kiln.Build
	}
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "apps", "create", "a library with books", "--name", "library", "-o", "json").stdout), &created))
	assert.Equal(t, kiln.BuildQueued, created.Build.Status)
	assert.Contains(t, h.MustRun("", "apps", "list").stdout, "library")
	assert.Contains(t, h.MustRun("", "apps", "get", "library").stdout, "Latest build:")
	assert.Contains(t, h.MustRun("", "builds", "list", "--status", "queued").stdout, "queued")
	h.MustRun("", "builds", "get", itoa(created.Build.ID))
	h.MustRun("", "builds", "cancel", itoa(created.Build.ID))
	usage := h.MustRun("", "usage").stdout
	assert.Regexp(t, `Used:\s+0 tokens \(0 prompt \+ 0 completion\) in 0 calls`, usage)
	assert.Regexp(t, `Model:\s+gpt-4o`, usage)
	assert.Regexp(t, `Month limit:\s+5000 tokens`, usage)
	assert.Regexp(t, `Left:\s+5000 tokens`, usage)
	assert.Regexp(t, `Build limit:\s+300 tokens`, usage)
	assert.Contains(t, h.MustRun("", "artifacts", "list", itoa(created.Build.ID)).stdout, "KIND")

	res = h.Run("", "builds", "get", "999999")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "Error: ")

	assert.Contains(t, h.MustRun("", "admin", "users").stdout, "ada@example.com")
	assert.Contains(t, h.MustRun("", "version").stdout, "Server:")
	h.MustRun("", "apps", "delete", "library", "--yes")
	h.MustRun("", "logout")
	res = h.Run("", "whoami")
	assert.Equal(t, 1, res.code)
}

// TestUsageNoModelAgainstRealServer: on a server without a model, `kiln
// usage` says so instead of showing limits nothing can use.
func TestUsageNoModelAgainstRealServer(t *testing.T) {
	t.Parallel()
	ts, _ := realServerWith(t, func(cfg *api.Config, _ *auth.Service) {
		cfg.LLMLimits = api.LLMLimits{Build: 300, Month: 5000} // the defaults, with no llm.model
	})
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL
	h.MustRun("correct horse battery\n", "signup", "--email", "ada@example.com", "--password-stdin")
	usage := h.MustRun("", "usage").stdout
	assert.Regexp(t, `Used:\s+0 tokens \(0 prompt \+ 0 completion\) in 0 calls`, usage)
	assert.Regexp(t, `Model:\s+no model configured on this server: builds plan offline and use no tokens`, usage)
	assert.NotContains(t, usage, "limit")
	assert.NotContains(t, usage, "Left")
	var u kiln.MonthUsage
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "usage", "-o", "json").stdout), &u))
	assert.Equal(t, "", u.Model)
	assert.Zero(t, u.MonthLimit)
	assert.Zero(t, u.BuildLimit)
	assert.Nil(t, u.Remaining)
}

// TestSigningKeysAgainstRealServer rotates the access-token signing key
// through the CLI: a token of the previous key keeps working until an
// immediate rotation retires it, and the CLI's session goes on throughout.
func TestSigningKeysAgainstRealServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts, _ := realServer(t)
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL
	h.MustRun("correct horse battery\n", "signup", "--email", "ada@example.com", "--password-stdin")
	sess, err := client.New(ts.URL).Login(ctx, "ada@example.com", "correct horse battery")
	require.NoError(t, err)
	old := client.New(ts.URL, client.WithToken(sess.AccessToken))

	res := h.MustRun("", "admin", "keys", "list")
	assert.Equal(t, 2, strings.Count(res.stdout, "\n"), "a header and one key: %s", res.stdout)
	assert.Contains(t, res.stdout, "signs")

	res = h.MustRun("", "admin", "keys", "rotate")
	assert.Contains(t, res.stdout, "signs")
	assert.Contains(t, res.stdout, "verifies", "the previous key still verifies: %s", res.stdout)
	_, err = old.Me(ctx)
	require.NoError(t, err, "a token of the previous key works during the rotation")

	var keys struct{ Items []*kiln.SigningKey }
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "admin", "keys", "rotate", "--immediate", "-o", "json").stdout), &keys))
	require.Len(t, keys.Items, 1)
	assert.True(t, keys.Items[0].Current)
	// A write resolves the credential afresh (reads may reuse it for 2 s).
	_, _, err = old.CreateToken(ctx, "after-rotation", nil)
	assert.Equal(t, kiln.EUnauthorized, kiln.ErrorCode(err), "retired key: %v", err)
	assert.Contains(t, h.MustRun("", "whoami").stdout, "ada@example.com", "the CLI refreshes its session")

	// Only admins rotate.
	h.MustRun("", "logout")
	h.MustRun("correct horse battery\n", "signup", "--email", "bob@example.com", "--password-stdin")
	res = h.Run("", "admin", "keys", "rotate")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "only admins")
}

// TestAgainstRealServerPathIDs covers the operations whose input embeds the
// api package's path-id struct: PATCH /v1/apps/{id}, PUT /v1/apps/{id}/spec,
// GET and POST /v1/apps/{id}/builds and GET /v1/builds/{id}/logs.
func TestAgainstRealServerPathIDs(t *testing.T) {
	t.Parallel()
	ts, _ := realServer(t)
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL
	h.MustRun("correct horse battery\n", "signup", "--email", "ada@example.com", "--password-stdin")
	_, buildID := h.mustCreate("a library with books", "library")
	h.mustCreate("a todo list", "todo")

	assert.Contains(t, h.MustRun("", "apps", "update", "library", "--name", "books").stdout, `"books"`)
	good := `{"kiln_spec":1,"name":"library","entities":[{"name":"book","plural":"books","fields":[{"name":"title","type":"string","required":true}]}]}`
	h.MustRun(good, "apps", "spec", "set", "books", "-")
	assert.Contains(t, h.MustRun("", "apps", "spec", "get", "books").stdout, `"plural": "books"`)

	var list struct{ Items []kiln.Build }
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "builds", "list", "--app", "books", "-o", "json").stdout), &list))
	require.Len(t, list.Items, 1, "only the books app's build")
	assert.Equal(t, buildID, list.Items[0].ID)
	assert.Contains(t, h.MustRun("", "apps", "rebuild", "books").stdout, "(#2)")

	h.MustRun("", "builds", "cancel", itoa(buildID))
	h.MustRun("", "builds", "logs", itoa(buildID))
	res := h.Run("", "builds", "logs", "-f", itoa(buildID))
	assert.Equal(t, 1, res.code, "a canceled build exits 1: %s", res.stderr)
	assert.Contains(t, res.stderr, "was canceled")
}

// TestRevokeSessionsAgainstRealServer ends another user's sessions with
// kiln admin users revoke-sessions: their CLI can no longer refresh.
func TestRevokeSessionsAgainstRealServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts, _ := realServer(t)
	admin, ada := newHarness(t), newHarness(t)
	admin.env["KILN_SERVER"], ada.env["KILN_SERVER"] = ts.URL, ts.URL
	admin.MustRun("correct horse battery\n", "signup", "--email", "root@example.com", "--password-stdin") // the first user: admin
	ada.MustRun("correct horse battery\n", "signup", "--email", "ada@example.com", "--password-stdin")
	web, err := client.New(ts.URL).Login(ctx, "ada@example.com", "correct horse battery")
	require.NoError(t, err)
	var me kiln.User
	require.NoError(t, json.Unmarshal([]byte(ada.MustRun("", "whoami", "-o", "json").stdout), &me))

	// Only admins; ada's sessions survive her attempt on root's.
	res := ada.Run("", "admin", "users", "revoke-sessions", "root@example.com")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "only admins")
	res = ada.Run("", "admin", "users", "revoke-sessions", "1")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "only admins")

	assert.Contains(t, admin.MustRun("", "admin", "users", "--email", "ADA@example.com").stdout, "ada@example.com")
	res = admin.MustRun("", "admin", "users", "revoke-sessions", "ada@example.com")
	assert.Contains(t, res.stdout, "Ended 2 sessions of ada@example.com.")
	assert.Contains(t, res.stdout, "until they expire")
	res = ada.Run("", "auth", "refresh")
	assert.Equal(t, 1, res.code, "ada's CLI session has ended: %s", res.stdout)
	assert.Contains(t, res.stderr, "kiln login")
	_, err = client.New(ts.URL).Refresh(ctx, web.RefreshToken)
	assert.Equal(t, kiln.EUnauthorized, kiln.ErrorCode(err), "ada's other session has ended: %v", err)
	// Her access token works until it expires.
	_, err = client.New(ts.URL, client.WithToken(web.AccessToken)).Me(ctx)
	require.NoError(t, err)

	// By id, and as JSON.
	var out struct {
		User          kiln.User `json:"user"`
		SessionsEnded int       `json:"sessions_ended"`
	}
	require.NoError(t, json.Unmarshal([]byte(admin.MustRun("", "admin", "users", "revoke-sessions", itoa(me.ID), "-o", "json").stdout), &out))
	assert.Equal(t, me.ID, out.User.ID)
	assert.Zero(t, out.SessionsEnded)

	res = admin.Run("", "admin", "users", "revoke-sessions", "nobody@example.com")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, `no user has the email "nobody@example.com"`)
	res = admin.Run("", "admin", "users", "revoke-sessions", "99999")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "user not found")
	res = admin.Run("", "admin", "users", "revoke-sessions", "ada")
	assert.Equal(t, 2, res.code)
	assert.Contains(t, res.stderr, "an email address or a numeric user id")
}
