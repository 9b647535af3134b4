package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// RunAnalytics runs the analytics part of the suite: ingest keys, event
// storage, rollups, summaries and retention. open must return a fresh,
// migrated database for each call.
func RunAnalytics(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("IngestKeys", func(t *testing.T) { testIngestKeys(t, open) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open) })
	t.Run("EventsConcurrent", func(t *testing.T) { testEventsConcurrent(t, open) })
}

func testIngestKeys(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Parallel()
	e := newEnv(t, open)
	keys := sqlstore.NewIngestKeyService(e.DB)
	alice := MustCreateUser(t, e, "alice@example.com") // the first user: an admin
	bob := MustCreateUser(t, e, "bob@example.com")
	app, _ := MustCreateApp(t, e, bob, "a todo list")
	ctx := e.ctx(bob)
	bg := context.Background()

	t.Run("CreateAuthenticateList", func(t *testing.T) {
		k, secret, err := keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{Name: "  prod  ", RateLimit: 500})
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(secret, kiln.IngestKeyPrefix), secret)
		require.Equal(t, "prod", k.Name)
		require.Equal(t, 500, k.RateLimit)
		require.True(t, strings.HasPrefix(secret, k.Prefix))
		require.Equal(t, app.ID, k.AppID)

		got, err := keys.AuthenticateIngestKey(bg, secret)
		require.NoError(t, err)
		require.Equal(t, k.ID, got.ID)
		require.Equal(t, app.ID, got.AppID)
		require.Equal(t, 500, got.RateLimit)

		k2, _, err := keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{})
		require.NoError(t, err)
		require.Equal(t, "default", k2.Name)
		list, err := keys.FindIngestKeys(ctx, app.ID)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, k.ID, list[0].ID)
		require.Equal(t, k2.ID, list[1].ID)
		require.Equal(t, k.CreatedAt, list[0].CreatedAt)

		var stored string
		require.NoError(t, e.DB.Writer().QueryRowContext(bg, rebind(e.DB, "SELECT hash FROM ingest_keys WHERE id = ?"), k.ID).Scan(&stored))
		require.NotContains(t, stored, secret[len(kiln.IngestKeyPrefix):], "only a hash is stored")
	})

	t.Run("RotateRefusesOldSecret", func(t *testing.T) {
		k, old, err := keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{Name: "rotating"})
		require.NoError(t, err)
		rotated, fresh, err := keys.RotateIngestKey(ctx, app.ID, k.ID)
		require.NoError(t, err)
		require.NotEqual(t, old, fresh)
		require.NotNil(t, rotated.RotatedAt)
		require.Equal(t, "rotating", rotated.Name)
		_, err = keys.AuthenticateIngestKey(bg, old)
		RequireCode(t, err, kiln.EUnauthorized)
		got, err := keys.AuthenticateIngestKey(bg, fresh)
		require.NoError(t, err)
		require.Equal(t, k.ID, got.ID)
	})

	t.Run("RevokeRefusesAtOnce", func(t *testing.T) {
		k, secret, err := keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{Name: "revoked"})
		require.NoError(t, err)
		_, err = keys.AuthenticateIngestKey(bg, secret)
		require.NoError(t, err)
		require.NoError(t, keys.RevokeIngestKey(ctx, app.ID, k.ID))
		_, err = keys.AuthenticateIngestKey(bg, secret)
		RequireCode(t, err, kiln.EUnauthorized)
		RequireCode(t, keys.RevokeIngestKey(ctx, app.ID, k.ID), kiln.ENotFound)
		_, _, err = keys.RotateIngestKey(ctx, app.ID, k.ID)
		RequireCode(t, err, kiln.ENotFound)
	})

	t.Run("ErrNotFoundForOthers", func(t *testing.T) {
		k, secret, err := keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{Name: "mine"})
		require.NoError(t, err)
		// Another user, even an admin, neither sees nor changes the keys.
		for _, u := range []*kiln.User{alice} {
			octx := e.ctx(u)
			_, _, err := keys.CreateIngestKey(octx, app.ID, kiln.IngestKeyCreate{})
			RequireCode(t, err, kiln.ENotFound)
			_, err = keys.FindIngestKeys(octx, app.ID)
			RequireCode(t, err, kiln.ENotFound)
			_, _, err = keys.RotateIngestKey(octx, app.ID, k.ID)
			RequireCode(t, err, kiln.ENotFound)
			RequireCode(t, keys.RevokeIngestKey(octx, app.ID, k.ID), kiln.ENotFound)
		}
		// A key of one app is not found under another app id.
		other, _ := MustCreateApp(t, e, bob, "a shopping list")
		RequireCode(t, keys.RevokeIngestKey(ctx, other.ID, k.ID), kiln.ENotFound)
		_, err = keys.AuthenticateIngestKey(bg, secret)
		require.NoError(t, err, "still valid")
		_, err = keys.FindIngestKeys(context.Background(), app.ID)
		RequireCode(t, err, kiln.EUnauthorized)
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		_, _, err := keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{Name: strings.Repeat("n", kiln.MaxIngestKeyNameLen+1)})
		RequireField(t, err, "name")
		_, _, err = keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{Name: "a\x00b"})
		RequireField(t, err, "name")
		_, _, err = keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{RateLimit: -1})
		RequireField(t, err, "rate_limit")
		_, _, err = keys.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{RateLimit: kiln.MaxIngestRateLimit + 1})
		RequireField(t, err, "rate_limit")
		for _, bad := range []string{"", "kiln_ik_", "kiln_ik_" + strings.Repeat("A", 42) + "!", "kiln_" + strings.Repeat("A", 46)} {
			_, err := keys.AuthenticateIngestKey(bg, bad)
			RequireCode(t, err, kiln.EUnauthorized)
		}
	})

	t.Run("ErrConflictAtLimit", func(t *testing.T) {
		full, _ := MustCreateApp(t, e, bob, "an app with many keys")
		for range kiln.MaxIngestKeysPerApp {
			_, _, err := keys.CreateIngestKey(ctx, full.ID, kiln.IngestKeyCreate{})
			require.NoError(t, err)
		}
		_, _, err := keys.CreateIngestKey(ctx, full.ID, kiln.IngestKeyCreate{})
		RequireCode(t, err, kiln.EConflict)
	})

	t.Run("DeletedWithApp", func(t *testing.T) {
		gone, _ := MustCreateApp(t, e, bob, "an app to delete")
		_, secret, err := keys.CreateIngestKey(ctx, gone.ID, kiln.IngestKeyCreate{})
		require.NoError(t, err)
		require.NoError(t, e.Apps.DeleteApp(ctx, gone.ID))
		_, err = keys.AuthenticateIngestKey(bg, secret)
		RequireCode(t, err, kiln.EUnauthorized)
	})
}

// rebind turns ? placeholders into $n on PostgreSQL, for queries a test
// runs straight on the database.
func rebind(db *sqlstore.DB, q string) string {
	if db.Dialect() != sqlstore.DialectPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
