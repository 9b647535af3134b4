package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

// adminCtx returns a context carrying an admin.
func adminCtx() context.Context {
	return userCtx(&kiln.User{ID: 1, Email: "root@example.com", Role: kiln.RoleAdmin})
}

func TestSigningKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		old := h.MustLogin(t, "ada@example.com")
		oldKid := tokenHeader(t, old.AccessToken)["kid"]

		keys, err := h.svc.RotateSigningKey(adminCtx(), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || !keys[0].Current || keys[1].Current || keys[1].ID != oldKid || keys[1].RetiresAt == nil || keys[0].RetiresAt != nil {
			t.Fatalf("keys after rotation = %+v", keys)
		}
		// The previous key verifies until its last token has expired.
		if want := h.clock.Now().Add(auth.DefaultAccessTTL); keys[1].RetiresAt.Before(want) {
			t.Fatalf("previous key retires at %v, before its tokens expire at %v", keys[1].RetiresAt, want)
		}
		fresh := h.MustLogin(t, "ada@example.com")
		if kid := tokenHeader(t, fresh.AccessToken)["kid"]; kid != keys[0].ID {
			t.Fatalf("new token kid = %v, want the new key %s", kid, keys[0].ID)
		}
		for name, tok := range map[string]string{"old": old.AccessToken, "new": fresh.AccessToken} {
			if _, err := h.svc.Authenticate(ctx, tok); err != nil {
				t.Fatalf("%s token during rotation: %v", name, err)
			}
		}
		// Past the grace period the previous key is gone: a token it signed
		// (even one still unexpired, as a stolen key would sign) fails.
		h.clock.Advance(auth.DefaultAccessTTL + time.Minute + 2*time.Second)
		_, err = h.svc.Authenticate(ctx, old.AccessToken)
		assertCode(t, err, kiln.EUnauthorized)
		keys, err = h.svc.SigningKeys(adminCtx())
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys after grace = %+v, %v", keys, err)
		}
	})

	t.Run("AtMostTwoKeys", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		first := h.MustLogin(t, "ada@example.com")
		if _, err := h.svc.RotateSigningKey(adminCtx(), false); err != nil {
			t.Fatal(err)
		}
		second := h.MustLogin(t, "ada@example.com")
		keys, err := h.svc.RotateSigningKey(adminCtx(), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 {
			t.Fatalf("keys after two rotations = %d, want 2", len(keys))
		}
		_, err = h.svc.Authenticate(ctx, first.AccessToken)
		assertCode(t, err, kiln.EUnauthorized)
		if _, err := h.svc.Authenticate(ctx, second.AccessToken); err != nil {
			t.Fatalf("token of the previous key: %v", err)
		}
	})

	t.Run("Immediate", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")
		keys, err := h.svc.RotateSigningKey(adminCtx(), true)
		if err != nil || len(keys) != 1 {
			t.Fatalf("immediate rotation = %+v, %v", keys, err)
		}
		_, err = h.svc.Authenticate(ctx, s.AccessToken)
		assertCode(t, err, kiln.EUnauthorized)
		// The refresh token is not a JWT: the session goes on.
		next, err := h.svc.Refresh(ctx, s.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.Authenticate(ctx, next.AccessToken); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrNotAdmin", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		_, err := h.svc.RotateSigningKey(userCtx(&kiln.User{ID: 2, Role: kiln.RoleUser}), false)
		assertCode(t, err, kiln.EForbidden)
		_, err = h.svc.RotateSigningKey(ctx, false)
		assertCode(t, err, kiln.EUnauthorized)
		_, err = h.svc.SigningKeys(userCtx(&kiln.User{ID: 2, Role: kiln.RoleUser}))
		assertCode(t, err, kiln.EForbidden)
	})

	// Two API nodes share the store: a rotation on one reaches the other
	// at once for verifying (unknown kid → reload) and within the reload
	// interval for signing.
	t.Run("TwoNodes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		other, err := auth.New(h.store, h.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		s1 := h.MustLogin(t, "ada@example.com")
		if _, err := other.Authenticate(ctx, s1.AccessToken); err != nil {
			t.Fatalf("node 2 verifying node 1's token: %v", err)
		}
		keys, err := h.svc.RotateSigningKey(adminCtx(), false)
		if err != nil {
			t.Fatal(err)
		}
		s2 := h.MustLogin(t, "ada@example.com")
		if _, err := other.Authenticate(ctx, s2.AccessToken); err != nil {
			t.Fatalf("node 2 verifying a token of the new key: %v", err)
		}
		h.clock.Advance(31 * time.Second)
		s3, err := other.Login(ctx, kiln.LoginInput{Email: "ada@example.com", Password: testPassword})
		if err != nil {
			t.Fatal(err)
		}
		if kid := tokenHeader(t, s3.AccessToken)["kid"]; kid != keys[0].ID {
			t.Fatalf("node 2 signs with %v after the reload interval, want %s", kid, keys[0].ID)
		}
	})

	// Tokens with unknown kids cannot make every request a store query.
	t.Run("UnknownKidReloadsAreSpaced", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		if err := h.svc.CheckSigningKeys(ctx); err != nil {
			t.Fatal(err)
		}
		_, priv, _ := h.signingKey(t)
		bad := forge(t, jwt.SigningMethodES256, priv, "ffffffffffffffff", validClaims(h, u.ID))
		before := h.store.keyLoads()
		for range 100 {
			_, err := h.svc.Authenticate(ctx, bad)
			assertCode(t, err, kiln.EUnauthorized)
		}
		if n := h.store.keyLoads() - before; n > 1 {
			t.Fatalf("100 unknown-kid tokens in one second caused %d key loads, want at most 1", n)
		}
	})
}
