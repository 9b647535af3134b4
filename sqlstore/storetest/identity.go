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

	})

	t.Run("AdminFromOIDC", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		root := MustCreateUser(t, e, "root@example.com") // the first user: admin by hand
		bob := MustCreateUser(t, e, "bob@example.com")
		role := func(id int64) (kiln.Role, bool) {
			t.Helper()
			u, err := e.Auth.FindUserByID(ctx, id)
			require.NoError(t, err)
			return u.Role, u.AdminFromOIDC
		}
		set := func(id int64, admin, wantChanged bool) {
			t.Helper()
			changed, err := e.Auth.SetAdminFromOIDC(ctx, id, admin)
			require.NoError(t, err)
			require.Equal(t, wantChanged, changed, "SetAdminFromOIDC(%d, %v)", id, admin)
		}

		// The group makes bob admin, marked as the provider's, once.
		set(bob.ID, true, true)
		r, fromOIDC := role(bob.ID)
		require.Equal(t, kiln.RoleAdmin, r)
		require.True(t, fromOIDC)
		set(bob.ID, true, false)
		// Leaving the group takes it back.
		set(bob.ID, false, true)
		r, fromOIDC = role(bob.ID)
		require.Equal(t, kiln.RoleUser, r)
		require.False(t, fromOIDC)
		set(bob.ID, false, false)

		// An admin made by hand is neither marked nor demoted.
		set(root.ID, true, false)
		set(root.ID, false, false)
		r, fromOIDC = role(root.ID)
		require.Equal(t, kiln.RoleAdmin, r)
		require.False(t, fromOIDC)

		// A grant by hand makes the provider's admin the operator's.
		set(bob.ID, true, true)
		granted, err := e.Users.SetUserRole(ctx, "bob@example.com", kiln.RoleAdmin)
		require.NoError(t, err)
		require.False(t, granted.AdminFromOIDC)
		set(bob.ID, false, false)
		r, _ = role(bob.ID)
		require.Equal(t, kiln.RoleAdmin, r)

		_, err = e.Auth.SetAdminFromOIDC(ctx, 99999, true)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Auth.SetAdminFromOIDC(ctx, 99999, false)
		RequireCode(t, err, kiln.ENotFound)
	})
}
