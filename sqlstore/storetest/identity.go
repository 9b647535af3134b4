package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/sqlstore"
)

func testKey(id string, t0 time.Time) *auth.SigningKey {
	return &auth.SigningKey{ID: id, Algorithm: "ES256", Public: []byte("pub-" + id), Sealed: []byte("sealed-" + id), CreatedAt: t0}
}

func kids(keys []*auth.SigningKey) []string {
	var out []string
	for _, k := range keys {
		id := k.ID
		if k.Current {
			id += "*"
		}
		out = append(out, id)
	}
	return out
}

func testSigningKeys(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("Rotate", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		keys, err := e.Auth.FindSigningKeys(ctx, t0)
		require.NoError(t, err)
		require.Empty(t, keys)

		require.NoError(t, e.Auth.CreateSigningKey(ctx, testKey("k1", t0)))
		RequireCode(t, e.Auth.CreateSigningKey(ctx, testKey("k1b", t0)), kiln.EConflict)
		keys, err = e.Auth.FindSigningKeys(ctx, t0)
		require.NoError(t, err)
		require.Equal(t, []string{"k1*"}, kids(keys))
		require.Equal(t, []byte("pub-k1"), keys[0].Public)
		require.Equal(t, []byte("sealed-k1"), keys[0].Sealed)
		require.Nil(t, keys[0].RetiresAt)

		t1 := t0.Add(time.Hour)
		require.NoError(t, e.Auth.RotateSigningKey(ctx, testKey("k2", t1), t1, t1.Add(16*time.Minute)))
		keys, err = e.Auth.FindSigningKeys(ctx, t1)
		require.NoError(t, err)
		require.Equal(t, []string{"k2*", "k1"}, kids(keys))
		require.Equal(t, t1.Add(16*time.Minute), *keys[1].RetiresAt)

		// A second rotation within the grace period retires k1 at once.
		t2 := t1.Add(time.Minute)
		require.NoError(t, e.Auth.RotateSigningKey(ctx, testKey("k3", t2), t2, t2.Add(16*time.Minute)))
		keys, err = e.Auth.FindSigningKeys(ctx, t2)
		require.NoError(t, err)
		require.Equal(t, []string{"k3*", "k2"}, kids(keys))

		keys, err = e.Auth.FindSigningKeys(ctx, t2.Add(16*time.Minute))
		require.NoError(t, err)
		require.Equal(t, []string{"k3*"}, kids(keys))
	})

	// Nodes starting together race to create the first key: one wins,
	// the others get EConflict and use it.
	t.Run("ConcurrentCreate", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = e.Auth.CreateSigningKey(ctx, testKey(string(rune('a'+i)), t0)) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else {
				RequireCode(t, err, kiln.EConflict)
			}
		}
		require.Equal(t, 1, won)
		keys, err := e.Auth.FindSigningKeys(ctx, t0)
		require.NoError(t, err)
		require.Len(t, keys, 1)
		require.True(t, keys[0].Current)
	})
}

func testIdentities(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	ctx := context.Background()
	const iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		_, err := e.Auth.FindUserByIdentity(ctx, iss, "sub-1")
		RequireCode(t, err, kiln.ENotFound)

		u := &kiln.User{Email: "ada@example.com", EmailVerified: true}
		require.NoError(t, e.Auth.CreateUserWithIdentity(ctx, u, iss, "sub-1"))
		require.Equal(t, kiln.RoleAdmin, u.Role, "the first user is an admin however it arrives")
		got, err := e.Auth.FindUserByIdentity(ctx, iss, "sub-1")
		require.NoError(t, err)
		require.NoError(t, e.Auth.RecordIdentityLogin(ctx, iss, "sub-1", time.Now()))
		require.Equal(t, u.ID, got.ID)
		require.True(t, got.EmailVerified)
		require.Empty(t, got.PasswordHash)

		// The same subject at another issuer is another identity.
		_, err = e.Auth.FindUserByIdentity(ctx, "https://other.example.com", "sub-1")
		RequireCode(t, err, kiln.ENotFound)

		RequireCode(t, e.Auth.CreateUserWithIdentity(ctx, &kiln.User{Email: "other@example.com"}, iss, "sub-1"), kiln.EConflict)
		RequireCode(t, e.Auth.CreateUserWithIdentity(ctx, &kiln.User{Email: "ADA@example.com"}, iss, "sub-2"), kiln.EConflict)
		_, err = e.Auth.FindUserByEmail(ctx, "other@example.com")
		RequireCode(t, err, kiln.ENotFound) // rolled back with the failed link

		bob := MustCreateUser(t, e, "bob@example.com")
		require.NoError(t, e.Auth.LinkIdentity(ctx, bob.ID, iss, "sub-bob"))
		RequireCode(t, e.Auth.LinkIdentity(ctx, bob.ID, iss, "sub-bob"), kiln.EConflict)
		RequireCode(t, e.Auth.LinkIdentity(ctx, 99999, iss, "sub-x"), kiln.ENotFound)
		got, err = e.Auth.FindUserByIdentity(ctx, iss, "sub-bob")
		require.NoError(t, err)
		require.Equal(t, bob.ID, got.ID)

		require.NoError(t, e.Auth.SetRole(ctx, bob.ID, kiln.RoleAdmin))
		got, err = e.Auth.FindUserByID(ctx, bob.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.RoleAdmin, got.Role)
		RequireCode(t, e.Auth.SetRole(ctx, 99999, kiln.RoleAdmin), kiln.ENotFound)
	})
}
