package auth_test

import (
	"context"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

const newPassword = "a brand new passphrase"

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fast := func(c *auth.Config) { c.ResetMinTime = time.Millisecond }

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, fast)
		h.MustSignup(t, "ada@example.com")
		sess := h.MustLogin(t, "ada@example.com")
		if err := h.svc.RequestPasswordReset(ctx, "  ADA@example.com "); err != nil {
			t.Fatal(err)
		}
		tok := h.MustResetToken(t, "ada@example.com")
		if err := h.svc.ResetPassword(ctx, tok, newPassword); err != nil {
			t.Fatal(err)
		}
		_, err := h.svc.Login(ctx, kiln.LoginInput{Email: "ada@example.com", Password: testPassword})
		assertCode(t, err, kiln.EUnauthorized)
		if _, err := h.svc.Login(ctx, kiln.LoginInput{Email: "ada@example.com", Password: newPassword}); err != nil {
			t.Fatalf("login with the new password: %v", err)
		}
		// Every session from before the reset ends.
		_, err = h.svc.Refresh(ctx, sess.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
		u, _ := h.store.FindUserByEmail(ctx, "ada@example.com")
		if !u.EmailVerified {
			t.Fatal("a completed reset proves the address but it is not marked verified")
		}
	})

	t.Run("ErrTokenReuse", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, fast)
		h.MustSignup(t, "ada@example.com")
		if err := h.svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		tok := h.MustResetToken(t, "ada@example.com")
		if err := h.svc.ResetPassword(ctx, tok, newPassword); err != nil {
			t.Fatal(err)
		}
		e := assertCode(t, h.svc.ResetPassword(ctx, tok, "yet another password"), kiln.EInvalid)
		assertFields(t, e, "token")
		if _, err := h.svc.Login(ctx, kiln.LoginInput{Email: "ada@example.com", Password: newPassword}); err != nil {
			t.Fatalf("the reused token changed the password: %v", err)
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, fast)
		h.MustSignup(t, "ada@example.com")
		if err := h.svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		tok := h.MustResetToken(t, "ada@example.com")
		h.clock.Advance(auth.DefaultResetTTL)
		assertCode(t, h.svc.ResetPassword(ctx, tok, newPassword), kiln.EInvalid)
	})

	t.Run("ErrVerifyTokenIsNoResetToken", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, fast)
		h.MustSignup(t, "ada@example.com")
		assertCode(t, h.svc.ResetPassword(ctx, h.MustVerifyToken(t, "ada@example.com"), newPassword), kiln.EInvalid)
	})

	t.Run("WeakPasswordKeepsToken", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, fast)
		h.MustSignup(t, "ada@example.com")
		if err := h.svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		tok := h.MustResetToken(t, "ada@example.com")
		e := assertCode(t, h.svc.ResetPassword(ctx, tok, "short"), kiln.EInvalid)
		assertFields(t, e, "password")
		if err := h.svc.ResetPassword(ctx, tok, newPassword); err != nil {
			t.Fatalf("token unusable after a refused weak password: %v", err)
		}
	})

	t.Run("UnknownEmailSameAnswer", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *auth.Config) { c.ResetMinTime = 50 * time.Millisecond })
		h.MustSignup(t, "ada@example.com")
		before := len(h.mailer.Messages())
		for _, email := range []string{"ada@example.com", "nobody@example.com"} {
			start := time.Now()
			if err := h.svc.RequestPasswordReset(ctx, email); err != nil {
				t.Fatalf("RequestPasswordReset(%s) = %v, want nil for known and unknown alike", email, err)
			}
			if d := time.Since(start); d < 50*time.Millisecond {
				t.Fatalf("RequestPasswordReset(%s) answered after %v, before ResetMinTime", email, d)
			}
		}
		if n := len(h.mailer.Messages()) - before; n != 1 {
			t.Fatalf("%d reset mails, want 1 (none for the unknown address)", n)
		}
	})

	t.Run("ErrRateLimitedAlikeForUnknown", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, fast)
		h.MustSignup(t, "ada@example.com")
		for _, email := range []string{"ada@example.com", "nobody@example.com"} {
			for range auth.DefaultResetMax {
				if err := h.svc.RequestPasswordReset(ctx, email); err != nil {
					t.Fatal(err)
				}
			}
			assertCode(t, h.svc.RequestPasswordReset(ctx, email), kiln.ERateLimited)
		}
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, fast)
		assertCode(t, h.svc.RequestPasswordReset(ctx, "not an email"), kiln.EInvalid)
	})
}
