package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/client/clienttest"
)

// MustLogin adds a user to srv and returns a client holding their session.
func MustLogin(tb testing.TB, srv *clienttest.Server, email string, opts ...client.Option) (*client.Client, *kiln.Session) {
	tb.Helper()
	srv.AddUser(email, "correct horse")
	sess, err := client.New(srv.URL).Login(context.Background(), email, "correct horse")
	require.NoError(tb, err)
	opts = append([]client.Option{client.WithSession(client.Tokens{
		AccessToken: sess.AccessToken, AccessExpiresAt: sess.AccessExpiresAt, RefreshToken: sess.RefreshToken,
	}, nil)}, opts...)
	return client.New(srv.URL, opts...), sess
}

func TestAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("SignupLoginMe", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		anon := client.New(srv.URL)
		u, err := anon.Signup(ctx, "ada@example.com", "correct horse")
		require.NoError(t, err)
		assert.Equal(t, "ada@example.com", u.Email)
		assert.Equal(t, kiln.RoleAdmin, u.Role, "the first user is an admin")

		sess, err := anon.Login(ctx, "ada@example.com", "correct horse")
		require.NoError(t, err)
		require.NotEmpty(t, sess.AccessToken)
		me, err := client.New(srv.URL, client.WithToken(sess.AccessToken)).Me(ctx)
		require.NoError(t, err)
		assert.Equal(t, u.ID, me.ID)

		verified, err := anon.VerifyEmail(ctx, srv.VerificationToken("ada@example.com"))
		require.NoError(t, err)
		assert.True(t, verified.EmailVerified)
	})

	t.Run("ErrInvalidNamesFields", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		_, err := client.New(srv.URL).Signup(ctx, "not-an-email", "short")
		var ce *client.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, 422, ce.Status)
		assert.Equal(t, kiln.EInvalid, kiln.ErrorCode(err), "client errors unwrap to *kiln.Error")
		assert.Equal(t, "req-test", ce.RequestID)
		require.Len(t, ce.Fields, 2)
		assert.Equal(t, "body.email", ce.Fields[0].Path)
		assert.Contains(t, err.Error(), "body.password: must be at least 8 characters")
		var ke *kiln.Error
		require.ErrorAs(t, err, &ke)
		assert.Len(t, ke.Fields, 2)
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.AddUser("ada@example.com", "correct horse")
		_, err := client.New(srv.URL).Login(ctx, "ada@example.com", "wrong password")
		assert.Equal(t, kiln.EUnauthorized, kiln.ErrorCode(err))
		assert.Equal(t, "wrong email or password", kiln.ErrorMessage(err))
		_, err = client.New(srv.URL).Me(ctx)
		assert.Equal(t, kiln.EUnauthorized, kiln.ErrorCode(err))
	})

	t.Run("ErrRateLimited", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.LoginRetryAfter = 42
		_, err := client.New(srv.URL).Login(ctx, "ada@example.com", "correct horse")
		var ce *client.Error
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, kiln.ERateLimited, ce.Code)
		assert.Equal(t, 42*time.Second, ce.RetryAfter)
		var ke *kiln.Error
		require.ErrorAs(t, err, &ke)
		assert.Equal(t, 42*time.Second, ke.RetryAfter)
	})

	t.Run("Tokens", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		c, _ := MustLogin(t, srv, "ada@example.com")
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		tok, secret, err := c.CreateToken(ctx, "ci", &exp)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(secret, "kiln_"))
		require.NotNil(t, tok.ExpiresAt)
		assert.True(t, exp.Equal(*tok.ExpiresAt))

		me, err := client.New(srv.URL, client.WithToken(secret)).Me(ctx)
		require.NoError(t, err)
		assert.Equal(t, "ada@example.com", me.Email)

		list, err := c.ListTokens(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.NoError(t, c.RevokeToken(ctx, tok.ID))
		_, err = client.New(srv.URL, client.WithToken(secret)).Me(ctx)
		assert.Equal(t, kiln.EUnauthorized, kiln.ErrorCode(err))
		assert.Equal(t, kiln.ENotFound, kiln.ErrorCode(c.RevokeToken(ctx, tok.ID)))
	})
}

func TestSessionRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("After401", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		var saved []*kiln.Session
		srv.AddUser("ada@example.com", "correct horse")
		sess, err := client.New(srv.URL).Login(ctx, "ada@example.com", "correct horse")
		require.NoError(t, err)
		c := client.New(srv.URL, client.WithSession(client.Tokens{
			AccessToken: sess.AccessToken, AccessExpiresAt: sess.AccessExpiresAt, RefreshToken: sess.RefreshToken,
		}, func(s *kiln.Session) error { saved = append(saved, s); return nil }))

		srv.ExpireAccessTokens()
		srv.ResetCalls()
		me, err := c.Me(ctx)
		require.NoError(t, err)
		assert.Equal(t, "ada@example.com", me.Email)
		assert.Equal(t, []string{"GET /v1/me", "POST /v1/auth/refresh", "GET /v1/me"}, srv.Calls())
		require.Len(t, saved, 1)
		assert.NotEqual(t, sess.RefreshToken, saved[0].RefreshToken, "the rotated pair is saved")
		cur, _ := c.CurrentTokens()
		assert.Equal(t, saved[0].AccessToken, cur.AccessToken)
	})

	t.Run("BeforeExpiry", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.AddUser("ada@example.com", "correct horse")
		sess, err := client.New(srv.URL).Login(ctx, "ada@example.com", "correct horse")
		require.NoError(t, err)
		later := func() time.Time { return sess.AccessExpiresAt.Add(time.Second) }
		c := client.New(srv.URL, client.WithClock(later), client.WithSession(client.Tokens{
			AccessToken: sess.AccessToken, AccessExpiresAt: sess.AccessExpiresAt, RefreshToken: sess.RefreshToken,
		}, nil))
		srv.ResetCalls()
		_, err = c.Me(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"POST /v1/auth/refresh", "GET /v1/me"}, srv.Calls(), "an expired token is refreshed without a wasted call")
	})

	t.Run("ConcurrentCallsRefreshOnce", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		c, _ := MustLogin(t, srv, "ada@example.com")
		srv.ExpireAccessTokens()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := c.Me(ctx)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		assert.Equal(t, 1, srv.LiveRefreshTokens(), "a rotated refresh token was never presented twice")
	})

	t.Run("AdoptsSessionRotatedByAnotherProcess", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		srv.AddUser("ada@example.com", "correct horse")
		sess, err := client.New(srv.URL).Login(ctx, "ada@example.com", "correct horse")
		require.NoError(t, err)
		// Two commands share one credentials "file".
		var mu sync.Mutex
		stored := client.Tokens{AccessToken: sess.AccessToken, AccessExpiresAt: sess.AccessExpiresAt, RefreshToken: sess.RefreshToken}
		load := func() (client.Tokens, bool) { mu.Lock(); defer mu.Unlock(); return stored, true }
		save := func(s *kiln.Session) error {
			mu.Lock()
			defer mu.Unlock()
			stored = client.Tokens{AccessToken: s.AccessToken, AccessExpiresAt: s.AccessExpiresAt, RefreshToken: s.RefreshToken}
			return nil
		}
		first, _ := load()
		a := client.New(srv.URL, client.WithSession(first, save), client.WithSessionReload(load))
		b := client.New(srv.URL, client.WithSession(first, save), client.WithSessionReload(load))

		srv.ExpireAccessTokens()
		_, err = a.Me(ctx) // a rotates the session and stores the new pair
		require.NoError(t, err)
		srv.ResetCalls()
		_, err = b.Me(ctx) // b still holds the rotated refresh token
		require.NoError(t, err)
		assert.Equal(t, []string{"GET /v1/me", "GET /v1/me"}, srv.Calls(), "b adopted a's session instead of refreshing")
		assert.Equal(t, 1, srv.LiveRefreshTokens(), "the session survived")
	})

	t.Run("ErrRefreshRevoked", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		c, sess := MustLogin(t, srv, "ada@example.com")
		require.NoError(t, client.New(srv.URL).Logout(ctx, sess.RefreshToken))
		srv.ExpireAccessTokens()
		_, err := c.Me(ctx)
		assert.Equal(t, kiln.EUnauthorized, kiln.ErrorCode(err))
		assert.Contains(t, err.Error(), "refresh session")
	})
}

func TestErrorResponses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name, ctype, body string
		status            int
		code, contains    string
	}{
		{"HTMLFromProxy", "text/html", "<html><body>Bad gateway</body></html>", 502, kiln.EUnavailable, "server answered 502 Bad Gateway"},
		{"PlainText", "text/plain", "upstream is down\nmore", 503, kiln.EUnavailable, "upstream is down"},
		{"MalformedCode", "application/problem+json", `{"status":400,"title":"Bad Request","detail":"bad json","code":"malformed"}`, 400, kiln.EInvalid, "bad json"},
		{"EscapeSequences", "application/problem+json", "{\"detail\":\"evil\\u001b[2Jtext\",\"code\":\"conflict\"}", 409, kiln.EConflict, "evil[2Jtext"},
		{"InternalWithRequestID", "application/problem+json", `{"detail":"internal error","code":"internal","request_id":"r-1"}`, 500, kiln.EInternal, "internal error [request id r-1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(ts.Close)
			_, err := client.New(ts.URL).Version(ctx)
			require.Error(t, err)
			assert.Equal(t, tc.code, kiln.ErrorCode(err))
			assert.Contains(t, err.Error(), tc.contains)
			assert.NotContains(t, err.Error(), "\x1b")
			assert.NotContains(t, err.Error(), "<html>")
		})
	}

	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.NotFoundHandler())
		url := ts.URL
		ts.Close()
		_, err := client.New(url).Version(ctx)
		assert.Equal(t, kiln.EUnavailable, kiln.ErrorCode(err))
		assert.Contains(t, err.Error(), "cannot reach")
	})
}

func TestApps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := clienttest.NewServer(t)
	c, _ := MustLogin(t, srv, "ada@example.com")

	app, build, err := c.CreateApp(ctx, kiln.AppCreate{Description: "a library with books", Name: "library"}, client.WithIdempotencyKey("k1"))
	require.NoError(t, err)
	assert.Equal(t, "library", app.Name)
	assert.Equal(t, 1, build.Number)
	assert.Equal(t, kiln.BuildQueued, build.Status)

	again, againBuild, err := c.CreateApp(ctx, kiln.AppCreate{Description: "a library with books", Name: "library"}, client.WithIdempotencyKey("k1"))
	require.NoError(t, err)
	assert.Equal(t, app.ID, again.ID, "the same key replays the first response")
	assert.Equal(t, build.ID, againBuild.ID)

	_, _, err = c.CreateApp(ctx, kiln.AppCreate{Description: strings.Repeat("x", kiln.MaxDescriptionLen+1)})
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "body.description", ce.Fields[0].Path)

	for i := range 3 {
		_, _, err := c.CreateApp(ctx, kiln.AppCreate{Description: "app " + string(rune('a'+i))})
		require.NoError(t, err)
	}
	first, next, err := c.ListApps(ctx, kiln.AppFilter{Page: kiln.Page{Limit: 3}})
	require.NoError(t, err)
	require.Len(t, first, 3)
	require.NotEmpty(t, next)
	rest, next, err := c.ListApps(ctx, kiln.AppFilter{Page: kiln.Page{Limit: 3, Cursor: next}})
	require.NoError(t, err)
	require.Len(t, rest, 1)
	assert.Empty(t, next)
	assert.Equal(t, app.ID, rest[0].ID, "newest first")

	name := "books"
	upd, err := c.UpdateApp(ctx, app.ID, kiln.AppUpdate{Name: &name})
	require.NoError(t, err)
	assert.Equal(t, "books", upd.Name)
	assert.Equal(t, "a library with books", upd.Description)

	_, err = c.GetSpec(ctx, app.ID)
	assert.Equal(t, kiln.ENotFound, kiln.ErrorCode(err))
	spec := &kiln.AppSpec{KilnSpec: kiln.SpecVersion, Name: "library", Entities: []kiln.Entity{{
		Name: "book", Plural: "books", Fields: []kiln.Field{{Name: "title", Type: kiln.FieldString, Required: true}},
	}}}
	_, err = c.SetSpec(ctx, app.ID, spec)
	require.NoError(t, err)
	got, err := c.GetSpec(ctx, app.ID)
	require.NoError(t, err)
	assert.Equal(t, spec, got)

	bad := *spec
	bad.Entities = []kiln.Entity{{Name: "Book!", Plural: "books"}}
	_, err = c.SetSpec(ctx, app.ID, &bad)
	require.ErrorAs(t, err, &ce)
	assert.NotEmpty(t, ce.Fields)
	assert.Contains(t, ce.Fields[0].Path, "entities[0]")

	b2, err := c.CreateBuild(ctx, app.ID, kiln.BuildCreate{NoCache: true})
	require.NoError(t, err)
	assert.Equal(t, 2, b2.Number)
	assert.True(t, b2.NoCache)
	builds, _, err := c.ListBuilds(ctx, kiln.BuildFilter{AppID: app.ID})
	require.NoError(t, err)
	require.Len(t, builds, 2)
	assert.Equal(t, b2.ID, builds[0].ID)
	queued, _, err := c.ListBuilds(ctx, kiln.BuildFilter{Status: kiln.BuildQueued})
	require.NoError(t, err)
	assert.Len(t, queued, 5)

	require.NoError(t, c.DeleteApp(ctx, app.ID))
	_, err = c.GetApp(ctx, app.ID)
	assert.Equal(t, kiln.ENotFound, kiln.ErrorCode(err))
}

func TestBuilds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FollowLogsUntilTerminal", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		c, _ := MustLogin(t, srv, "ada@example.com")
		_, b, err := c.CreateApp(ctx, kiln.AppCreate{Description: "todo list", Name: "todo"})
		require.NoError(t, err)
		var lines []string
		status, err := c.FollowLogs(ctx, b.ID, client.FollowOptions{Interval: time.Millisecond}, func(l *kiln.LogLine) error {
			lines = append(lines, l.Text)
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, kiln.BuildSucceeded, status)
		assert.Equal(t, []string{"planning todo", "go vet ./...", "go test ./...", "packaged source.tar.gz"}, lines)

		got, steps, err := c.GetBuild(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, kiln.BuildSucceeded, got.Status)
		require.Len(t, steps, 3)
		assert.Equal(t, kiln.StepSucceeded, steps[2].Outcome)

		_, err = c.CancelBuild(ctx, b.ID)
		assert.Equal(t, kiln.EConflict, kiln.ErrorCode(err))
	})

	t.Run("FollowLogsResumesAfter", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		c, _ := MustLogin(t, srv, "ada@example.com")
		_, b, err := c.CreateApp(ctx, kiln.AppCreate{Description: "todo that will fail", Name: "todo"})
		require.NoError(t, err)
		page, err := c.Logs(ctx, b.ID, 0, 0)
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		var lines []string
		status, err := c.FollowLogs(ctx, b.ID, client.FollowOptions{After: page.NextAfter, Interval: time.Millisecond}, func(l *kiln.LogLine) error {
			lines = append(lines, l.Text)
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, kiln.BuildFailed, status)
		assert.Equal(t, []string{"go vet ./...", "go test ./...", "--- FAIL: TestCreate"}, lines)
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		c, _ := MustLogin(t, srv, "ada@example.com")
		_, b, err := c.CreateApp(ctx, kiln.AppCreate{Description: "todo", Name: "todo"})
		require.NoError(t, err)
		got, err := c.CancelBuild(ctx, b.ID)
		require.NoError(t, err)
		assert.Equal(t, kiln.BuildCanceled, got.Status)
	})

	t.Run("OtherUserGetsNotFound", func(t *testing.T) {
		t.Parallel()
		srv := clienttest.NewServer(t)
		_, _ = MustLogin(t, srv, "admin@example.com")
		ada, _ := MustLogin(t, srv, "ada@example.com")
		bob, _ := MustLogin(t, srv, "bob@example.com")
		_, b, err := ada.CreateApp(ctx, kiln.AppCreate{Description: "todo", Name: "todo"})
		require.NoError(t, err)
		_, _, err = bob.GetBuild(ctx, b.ID)
		assert.Equal(t, kiln.ENotFound, kiln.ErrorCode(err))
	})
}

func TestDownloadArtifact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup := func(t *testing.T) (*clienttest.Server, *client.Client, *kiln.Artifact) {
		srv := clienttest.NewServer(t)
		c, _ := MustLogin(t, srv, "ada@example.com")
		_, b, err := c.CreateApp(ctx, kiln.AppCreate{Description: "todo", Name: "todo"})
		require.NoError(t, err)
		_, err = c.FollowLogs(ctx, b.ID, client.FollowOptions{Interval: time.Millisecond}, func(*kiln.LogLine) error { return nil })
		require.NoError(t, err)
		arts, err := c.ListArtifacts(ctx, b.ID)
		require.NoError(t, err)
		require.Len(t, arts, 1)
		return srv, c, arts[0]
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		_, c, a := setup(t)
		var buf bytes.Buffer
		d, err := c.DownloadArtifact(ctx, a.ID, &buf)
		require.NoError(t, err)
		assert.Equal(t, a.Name, d.Filename)
		assert.Equal(t, a.SHA256, d.SHA256)
		assert.Equal(t, a.Size, int64(buf.Len()))
	})

	t.Run("ErrChecksum", func(t *testing.T) {
		t.Parallel()
		srv, c, a := setup(t)
		srv.BadChecksum = true
		_, err := c.DownloadArtifact(ctx, a.ID, &bytes.Buffer{})
		assert.True(t, errors.Is(err, client.ErrChecksum), "got %v", err)
	})

	t.Run("ErrNoChecksum", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("bytes"))
		}))
		t.Cleanup(ts.Close)
		_, err := client.New(ts.URL).DownloadArtifact(ctx, 1, &bytes.Buffer{})
		assert.ErrorContains(t, err, "no X-Checksum-Sha256")
		_, err = client.New(ts.URL).OpenArtifact(ctx, 1)
		assert.ErrorContains(t, err, "no X-Checksum-Sha256")
	})

	t.Run("Open", func(t *testing.T) {
		t.Parallel()
		_, c, a := setup(t)
		as, err := c.OpenArtifact(ctx, a.ID)
		require.NoError(t, err)
		defer as.Close()
		b, err := io.ReadAll(as)
		require.NoError(t, err)
		assert.Equal(t, a.Name, as.Filename)
		assert.Equal(t, a.SHA256, as.SHA256)
		assert.Equal(t, a.Size, as.Size)
		assert.Equal(t, a.Size, int64(len(b)))
	})

	t.Run("OpenErrChecksum", func(t *testing.T) {
		t.Parallel()
		srv, c, a := setup(t)
		srv.BadChecksum = true
		as, err := c.OpenArtifact(ctx, a.ID)
		require.NoError(t, err, "the checksum is checked at the end of the bytes")
		defer as.Close()
		_, err = io.ReadAll(as)
		assert.True(t, errors.Is(err, client.ErrChecksum), "got %v", err)
	})

	t.Run("OpenErrShort", func(t *testing.T) {
		t.Parallel()
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Checksum-Sha256", strings.Repeat("0", 64))
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write([]byte("short"))
		}))
		t.Cleanup(ts.Close)
		as, err := client.New(ts.URL).OpenArtifact(ctx, 1)
		require.NoError(t, err)
		defer as.Close()
		_, err = io.ReadAll(as)
		assert.Error(t, err)
	})
}

func TestSafeFilename(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"app-1.tar.gz":       "app-1.tar.gz",
		"../../etc/passwd":   "passwd",
		`..\..\evil.exe`:     "evil.exe",
		"..":                 "",
		".bashrc":            "bashrc",
		"a\x1b[31mred":       "a[31mred",
		"dir/":               "",
		"C:secret":           "",
		"  spaced name.zip ": "spaced name.zip",
	} {
		assert.Equal(t, want, client.SafeFilename(in), "SafeFilename(%q)", in)
	}
}

func TestAdminAndVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := clienttest.NewServer(t)
	admin, _ := MustLogin(t, srv, "admin@example.com")
	user, _ := MustLogin(t, srv, "ada@example.com")

	_, _, err := user.AdminListUsers(ctx, kiln.Page{})
	assert.Equal(t, kiln.EForbidden, kiln.ErrorCode(err))
	users, next, err := admin.AdminListUsers(ctx, kiln.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, users, 1)
	assert.NotEmpty(t, next)

	u, err := admin.AdminGrant(ctx, "ada@example.com", kiln.RoleAdmin)
	require.NoError(t, err)
	assert.Equal(t, kiln.RoleAdmin, u.Role)
	_, err = admin.AdminGrant(ctx, "nobody@example.com", kiln.RoleAdmin)
	assert.Equal(t, kiln.ENotFound, kiln.ErrorCode(err))

	v, err := client.New(srv.URL).Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, "9.9.9-test", v.Version)
}

func TestParseServerURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"http://127.0.0.1:8080", "https://kiln.example.com/", "https://example.com/kiln"} {
		_, err := client.ParseServerURL(ok)
		assert.NoError(t, err, ok)
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://x", "https://u:p@x", "https://x/?q=1", "http://"} {
		_, err := client.ParseServerURL(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "https://example.com/kiln", client.New("https://example.com/kiln/").BaseURL())
}
