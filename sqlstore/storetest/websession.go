package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

func testWebSessions(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		store := sqlstore.NewWebSessionStore(e.DB)
		u := MustCreateUser(t, e, "u@example.com")
		now := time.Now().UTC().Truncate(time.Microsecond)
		ws := &kiln.WebSession{ID: "abc", UserID: u.ID, Data: []byte{0, 1, 2, 0xff}, ExpiresAt: now.Add(time.Hour)}
		require.NoError(t, store.CreateWebSession(ctx, ws))
		require.False(t, ws.CreatedAt.IsZero())
		got, err := store.FindWebSession(ctx, "abc", now)
		require.NoError(t, err)
		require.Equal(t, ws, got)

		RequireCode(t, store.CreateWebSession(ctx, &kiln.WebSession{ID: "abc", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}), kiln.EConflict)

		require.NoError(t, store.UpdateWebSession(ctx, "abc", []byte("new"), now.Add(2*time.Hour)))
		got, err = store.FindWebSession(ctx, "abc", now)
		require.NoError(t, err)
		require.Equal(t, []byte("new"), got.Data)
		require.True(t, got.ExpiresAt.Equal(now.Add(2*time.Hour)))

		_, err = store.FindWebSession(ctx, "abc", now.Add(3*time.Hour))
		RequireCode(t, err, kiln.ENotFound) // expired

		require.NoError(t, store.DeleteWebSession(ctx, "abc"))
		require.NoError(t, store.DeleteWebSession(ctx, "abc"))
		_, err = store.FindWebSession(ctx, "abc", now)
		RequireCode(t, err, kiln.ENotFound)
		RequireCode(t, store.UpdateWebSession(ctx, "abc", nil, now.Add(time.Hour)), kiln.ENotFound)
		_, err = store.FindWebSession(ctx, "", now)
		RequireCode(t, err, kiln.ENotFound)
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		store := sqlstore.NewWebSessionStore(e.DB)
		u := MustCreateUser(t, e, "u@example.com")
		now := time.Now()
		require.NoError(t, store.CreateWebSession(ctx, &kiln.WebSession{ID: "old", UserID: u.ID, ExpiresAt: now.Add(-time.Minute)}))
		require.NoError(t, store.CreateWebSession(ctx, &kiln.WebSession{ID: "new", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}))
		n, err := store.DeleteExpiredWebSessions(ctx, now)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, err = store.FindWebSession(ctx, "new", now)
		require.NoError(t, err)
		require.Equal(t, 1, e.count(t, "web_sessions"))
	})
}
