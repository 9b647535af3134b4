package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/sqlstore"
)

func testAuth(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	ctx := context.Background()

	t.Run("CreateUser", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		first := MustCreateUser(t, e, "first@example.com")
		require.NotZero(t, first.ID)
		require.Equal(t, kiln.RoleAdmin, first.Role, "the first user becomes admin")
		second := MustCreateUser(t, e, "second@example.com")
		require.Equal(t, kiln.RoleUser, second.Role)

		got, err := e.Auth.FindUserByID(ctx, second.ID)
		require.NoError(t, err)
		require.Equal(t, second, got, "times and fields round-trip exactly")
		require.Equal(t, time.UTC, got.CreatedAt.Location())
		require.NotZero(t, got.CreatedAt.Nanosecond(), "sub-second precision is kept")
	})

	t.Run("FirstUserAdminConcurrent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		const n = 8
		var wg sync.WaitGroup
		users := make([]*kiln.User, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				users[i] = &kiln.User{Email: fmt.Sprintf("u%d@example.com", i)}
				errs[i] = e.Auth.CreateUser(ctx, users[i])
			}()
		}
		close(start)
		wg.Wait()
		admins := 0
		for i := range n {
			require.NoError(t, errs[i])
			stored, err := e.Auth.FindUserByID(ctx, users[i].ID)
			require.NoError(t, err)
			if stored.Role == kiln.RoleAdmin {
				admins++
			}
		}
		require.Equal(t, 1, admins)
	})

	t.Run("ErrConflictEmail", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "Ann@Example.com")
		err := e.Auth.CreateUser(ctx, &kiln.User{Email: "ann@EXAMPLE.com"})
		RequireCode(t, err, kiln.EConflict)
		got, err := e.Auth.FindUserByEmail(ctx, "ANN@example.COM")
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, "Ann@Example.com", got.Email, "the email keeps its case")
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		RequireField(t, e.Auth.CreateUser(ctx, &kiln.User{Email: " "}), "email")
		RequireField(t, e.Auth.CreateUser(ctx, &kiln.User{Email: "a\x00b@example.com"}), "email")
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		_, err := e.Auth.FindUserByID(ctx, 12345)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Auth.FindUserByEmail(ctx, "nobody@example.com")
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Auth.FindUserByEmail(ctx, "bad\xff\x00@example.com")
		RequireCode(t, err, kiln.ENotFound)
		RequireCode(t, e.Auth.SetEmailVerified(ctx, 12345), kiln.ENotFound)
		RequireCode(t, e.Auth.SetPasswordHash(ctx, 12345, "x"), kiln.ENotFound)
	})

	t.Run("SetEmailVerifiedAndPassword", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := &kiln.User{Email: "v@example.com", PasswordHash: "old"}
		require.NoError(t, e.Auth.CreateUser(ctx, u))
		require.False(t, u.EmailVerified)
		require.NoError(t, e.Auth.SetEmailVerified(ctx, u.ID))
		require.NoError(t, e.Auth.SetPasswordHash(ctx, u.ID, "new"))
		got, err := e.Auth.FindUserByEmail(ctx, "v@example.com")
		require.NoError(t, err)
		require.True(t, got.EmailVerified)
		require.Equal(t, "new", got.PasswordHash)
	})

	t.Run("OneTimeToken", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "ott@example.com")
		now := time.Now()
		require.NoError(t, e.Auth.CreateOneTimeToken(ctx, u.ID, &auth.OneTimeToken{Kind: auth.TokenVerifyEmail, Hash: "h1", ExpiresAt: now.Add(time.Hour)}))
		RequireCode(t, e.Auth.CreateOneTimeToken(ctx, u.ID, &auth.OneTimeToken{Kind: auth.TokenVerifyEmail, Hash: "h1", ExpiresAt: now.Add(time.Hour)}), kiln.EConflict)
		RequireCode(t, e.Auth.CreateOneTimeToken(ctx, 9999, &auth.OneTimeToken{Kind: auth.TokenVerifyEmail, Hash: "h9", ExpiresAt: now.Add(time.Hour)}), kiln.ENotFound)

		_, err := e.Auth.ConsumeOneTimeToken(ctx, auth.TokenPasswordReset, "h1", now)
		RequireCode(t, err, kiln.EInvalid) // another kind
		id, err := e.Auth.ConsumeOneTimeToken(ctx, auth.TokenVerifyEmail, "h1", now)
		require.NoError(t, err)
		require.Equal(t, u.ID, id)
		_, err = e.Auth.ConsumeOneTimeToken(ctx, auth.TokenVerifyEmail, "h1", now)
		RequireCode(t, err, kiln.EInvalid) // used

		require.NoError(t, e.Auth.CreateOneTimeToken(ctx, u.ID, &auth.OneTimeToken{Kind: auth.TokenVerifyEmail, Hash: "h2", ExpiresAt: now.Add(time.Minute)}))
		_, err = e.Auth.ConsumeOneTimeToken(ctx, auth.TokenVerifyEmail, "h2", now.Add(time.Minute))
		RequireCode(t, err, kiln.EInvalid) // expired at now
		_, err = e.Auth.ConsumeOneTimeToken(ctx, auth.TokenVerifyEmail, "unknown", now)
		RequireCode(t, err, kiln.EInvalid)
	})

	t.Run("OneTimeTokenSingleUseConcurrent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "race@example.com")
		now := time.Now()
		require.NoError(t, e.Auth.CreateOneTimeToken(ctx, u.ID, &auth.OneTimeToken{Kind: auth.TokenPasswordReset, Hash: "race", ExpiresAt: now.Add(time.Hour)}))
		var wins, invalid atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.Auth.ConsumeOneTimeToken(ctx, auth.TokenPasswordReset, "race", now)
				switch kiln.ErrorCode(err) {
				case "":
					wins.Add(1)
				case kiln.EInvalid:
					invalid.Add(1)
				default:
					t.Errorf("consume: %v", err)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.Load())
		require.EqualValues(t, 7, invalid.Load())
	})

	t.Run("RefreshRotation", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "r@example.com")
		now := time.Now()
		first := &auth.RefreshToken{UserID: u.ID, Family: "fam", Hash: "r1", ExpiresAt: now.Add(time.Hour)}
		require.NoError(t, e.Auth.CreateRefreshToken(ctx, first))
		require.NotZero(t, first.ID)
		got, err := e.Auth.FindRefreshToken(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, first, got)

		second := &auth.RefreshToken{UserID: u.ID, Family: "fam", Hash: "r2", ExpiresAt: now.Add(time.Hour)}
		require.NoError(t, e.Auth.RotateRefreshToken(ctx, first.ID, second, now))
		got, err = e.Auth.FindRefreshToken(ctx, "r1")
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt)
		require.True(t, got.RevokedAt.Equal(now.UTC().Truncate(time.Microsecond)))
		got, err = e.Auth.FindRefreshToken(ctx, "r2")
		require.NoError(t, err)
		require.Nil(t, got.RevokedAt)

		// A replay of the rotated token conflicts and stores nothing.
		third := &auth.RefreshToken{UserID: u.ID, Family: "fam", Hash: "r3", ExpiresAt: now.Add(time.Hour)}
		RequireCode(t, e.Auth.RotateRefreshToken(ctx, first.ID, third, now), kiln.EConflict)
		_, err = e.Auth.FindRefreshToken(ctx, "r3")
		RequireCode(t, err, kiln.ENotFound)
		RequireCode(t, e.Auth.RotateRefreshToken(ctx, 9999, third, now), kiln.ENotFound)

		require.NoError(t, e.Auth.RevokeRefreshFamily(ctx, "fam", now))
		got, err = e.Auth.FindRefreshToken(ctx, "r2")
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt)
	})

	t.Run("RefreshRotationConcurrent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "rc@example.com")
		now := time.Now()
		old := &auth.RefreshToken{UserID: u.ID, Family: "f", Hash: "old", ExpiresAt: now.Add(time.Hour)}
		require.NoError(t, e.Auth.CreateRefreshToken(ctx, old))
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next := &auth.RefreshToken{UserID: u.ID, Family: "f", Hash: fmt.Sprintf("next%d", i), ExpiresAt: now.Add(time.Hour)}
				err := e.Auth.RotateRefreshToken(ctx, old.ID, next, now)
				switch kiln.ErrorCode(err) {
				case "":
					wins.Add(1)
				case kiln.EConflict:
					conflicts.Add(1)
				default:
					t.Errorf("rotate: %v", err)
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.Load())
		require.EqualValues(t, 5, conflicts.Load())
		require.Equal(t, 2, e.count(t, "refresh_tokens"))
	})

	t.Run("RevokeRefresh", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "rv@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		now := time.Now()
		for _, tok := range []*auth.RefreshToken{
			{UserID: u.ID, Family: "a", Hash: "a1", ExpiresAt: now.Add(time.Hour)},
			{UserID: u.ID, Family: "b", Hash: "b1", ExpiresAt: now.Add(time.Hour)},
			{UserID: other.ID, Family: "c", Hash: "c1", ExpiresAt: now.Add(time.Hour)},
		} {
			require.NoError(t, e.Auth.CreateRefreshToken(ctx, tok))
		}
		a1, err := e.Auth.FindRefreshToken(ctx, "a1")
		require.NoError(t, err)
		require.NoError(t, e.Auth.RevokeRefreshToken(ctx, a1.ID, now))
		RequireCode(t, e.Auth.RevokeRefreshToken(ctx, 9999, now), kiln.ENotFound)
		require.NoError(t, e.Auth.CreateRefreshToken(ctx, &auth.RefreshToken{UserID: u.ID, Family: "d", Hash: "d1", ExpiresAt: now.Add(-time.Minute)}))
		web := sqlstore.NewWebSessionStore(e.DB)
		for id, owner := range map[string]int64{"u-browser": u.ID, "u-laptop": u.ID, "other-browser": other.ID} {
			require.NoError(t, web.CreateWebSession(ctx, &kiln.WebSession{ID: id, UserID: owner, ExpiresAt: now.Add(time.Hour)}))
		}
		n, err := e.Auth.RevokeUserRefreshTokens(ctx, u.ID, now)
		require.NoError(t, err)
		require.Equal(t, 1, n, "b1 is the one live token left: a1 is revoked, d1 expired")
		n, err = e.Auth.RevokeUserRefreshTokens(ctx, u.ID, now)
		require.NoError(t, err)
		require.Zero(t, n)
		for hash, revoked := range map[string]bool{"a1": true, "b1": true, "c1": false, "d1": false} {
			got, err := e.Auth.FindRefreshToken(ctx, hash)
			require.NoError(t, err)
			require.Equal(t, revoked, got.RevokedAt != nil, hash)
		}
		// The user's portal sessions are gone; the other user's stays.
		for id, gone := range map[string]bool{"u-browser": true, "u-laptop": true, "other-browser": false} {
			_, err := web.FindWebSession(ctx, id, now)
			if gone {
				RequireCode(t, err, kiln.ENotFound)
			} else {
				require.NoError(t, err, id)
			}
		}
	})

	t.Run("APITokens", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "tok@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		now := time.Now()
		exp := now.Add(time.Hour)
		t1 := &kiln.APIToken{UserID: u.ID, Name: "laptop", Prefix: "kiln_ab"}
		require.NoError(t, e.Auth.CreateAPIToken(ctx, t1, "hash1"))
		t2 := &kiln.APIToken{UserID: u.ID, Name: "ci", Prefix: "kiln_cd", ExpiresAt: &exp}
		require.NoError(t, e.Auth.CreateAPIToken(ctx, t2, "hash2"))
		RequireCode(t, e.Auth.CreateAPIToken(ctx, &kiln.APIToken{UserID: u.ID, Name: "dup"}, "hash1"), kiln.EConflict)
		RequireField(t, e.Auth.CreateAPIToken(ctx, &kiln.APIToken{UserID: u.ID, Name: ""}, "hash3"), "name")

		list, err := e.Auth.FindAPITokens(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, []*kiln.APIToken{t2, t1}, list, "newest first, round-tripped exactly")

		got, err := e.Auth.FindUserByAPITokenHash(ctx, "hash1", now)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		list, err = e.Auth.FindAPITokens(ctx, u.ID)
		require.NoError(t, err)
		require.NotNil(t, list[1].LastUsedAt, "use is recorded")

		_, err = e.Auth.FindUserByAPITokenHash(ctx, "hash2", exp)
		RequireCode(t, err, kiln.EUnauthorized) // expired at now
		_, err = e.Auth.FindUserByAPITokenHash(ctx, "nope", now)
		RequireCode(t, err, kiln.EUnauthorized)

		RequireCode(t, e.Auth.DeleteAPIToken(ctx, other.ID, t1.ID), kiln.ENotFound)
		require.NoError(t, e.Auth.DeleteAPIToken(ctx, u.ID, t1.ID))
		_, err = e.Auth.FindUserByAPITokenHash(ctx, "hash1", now)
		RequireCode(t, err, kiln.EUnauthorized)
	})
}

func testUsers(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	t.Run("FindUserByID", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		admin := MustCreateUser(t, e, "admin@example.com")
		a := MustCreateUser(t, e, "a@example.com")
		b := MustCreateUser(t, e, "b@example.com")
		got, err := e.Users.FindUserByID(e.ctx(a), a.ID)
		require.NoError(t, err)
		require.Equal(t, a.Email, got.Email)
		_, err = e.Users.FindUserByID(e.ctx(a), b.ID)
		RequireCode(t, err, kiln.ENotFound)
		got, err = e.Users.FindUserByID(e.ctx(admin), b.ID)
		require.NoError(t, err)
		require.Equal(t, b.ID, got.ID)
		_, err = e.Users.FindUserByID(context.Background(), a.ID)
		RequireCode(t, err, kiln.EUnauthorized)
	})

	t.Run("FindUsers", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		admin := MustCreateUser(t, e, "admin@example.com")
		for i := range 4 {
			MustCreateUser(t, e, fmt.Sprintf("u%d@example.com", i))
		}
		_, _, err := e.Users.FindUsers(e.ctx(&kiln.User{ID: 2, Role: kiln.RoleUser}), kiln.UserFilter{})
		RequireCode(t, err, kiln.EForbidden)

		var emails []string
		page := kiln.Page{Limit: 2}
		for range 10 {
			users, next, err := e.Users.FindUsers(e.ctx(admin), kiln.UserFilter{Page: page})
			require.NoError(t, err)
			for _, u := range users {
				emails = append(emails, u.Email)
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		require.Equal(t, []string{"u3@example.com", "u2@example.com", "u1@example.com", "u0@example.com", "admin@example.com"}, emails)

		email := "U2@Example.com"
		users, next, err := e.Users.FindUsers(e.ctx(admin), kiln.UserFilter{Email: &email})
		require.NoError(t, err)
		require.Len(t, users, 1)
		require.Equal(t, "u2@example.com", users[0].Email)
		require.Empty(t, next)
	})

	t.Run("SetUserRole", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		MustCreateUser(t, e, "admin@example.com")
		u := MustCreateUser(t, e, "grant@example.com")
		got, err := e.Users.SetUserRole(context.Background(), "GRANT@example.com", kiln.RoleAdmin)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, kiln.RoleAdmin, got.Role)
		_, err = e.Users.SetUserRole(context.Background(), "nobody@example.com", kiln.RoleAdmin)
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Users.SetUserRole(context.Background(), "grant@example.com", "root")
		RequireField(t, err, "role")
	})
}
