package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

func TestNew(t *testing.T) {
	t.Parallel()
	base := func() auth.Config {
		return auth.Config{Secret: testSecret, BaseURL: testBaseURL, Argon2: fastArgon2}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*auth.Config)
		field  string
	}{
		{"ShortSecret", func(c *auth.Config) { c.Secret = []byte("short") }, "Secret"},
		{"NoSecret", func(c *auth.Config) { c.Secret = nil }, "Secret"},
		{"NoBaseURL", func(c *auth.Config) { c.BaseURL = "" }, "BaseURL"},
		{"RelativeBaseURL", func(c *auth.Config) { c.BaseURL = "/app" }, "BaseURL"},
		{"BaseURLScheme", func(c *auth.Config) { c.BaseURL = "javascript://x" }, "BaseURL"},
		{"NegativeAccessTTL", func(c *auth.Config) { c.AccessTTL = -time.Second }, "AccessTTL"},
		{"NegativeRefreshTTL", func(c *auth.Config) { c.RefreshTTL = -time.Second }, "RefreshTTL"},
		{"NegativeLimit", func(c *auth.Config) { c.LoginIPMax = -1 }, "LoginIPMax"},
		{"HugeMinPassword", func(c *auth.Config) { c.MinPasswordLen = 1000 }, "MinPasswordLen"},
		{"WeakArgon2", func(c *auth.Config) { c.Argon2.Iterations = 0 }, "Argon2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := base()
			tc.mutate(&cfg)
			_, err := auth.New(newFakeStore(time.Now), cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("New error = %v, want one naming %s", err, tc.field)
			}
		})
	}
	t.Run("NilDependencies", func(t *testing.T) {
		t.Parallel()
		if _, err := auth.New(nil, base(), nil); err == nil || !strings.Contains(err.Error(), "store") {
			t.Fatalf("New(nil store) error = %v", err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		cfg := base()
		cfg.BaseURL = testBaseURL + "/"
		if _, err := auth.New(newFakeStore(time.Now), cfg, slog.Default()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSignup(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u, err := h.svc.Signup(context.Background(), "  Ada@Example.COM ", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || u.Email != "ada@example.com" || u.EmailVerified {
			t.Fatalf("user = %+v", u)
		}
		if u.Role != kiln.RoleAdmin {
			t.Fatalf("first user role = %q, want admin", u.Role)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(u.PasswordHash, testPassword) {
			t.Fatalf("password hash = %q, want an argon2id PHC string", u.PasswordHash)
		}
		second := h.MustSignup(t, "bob@example.com")
		if second.Role != kiln.RoleUser {
			t.Fatalf("second user role = %q, want user", second.Role)
		}

		m, ok := h.mailer.Last("ada@example.com")
		if !ok {
			t.Fatal("no verification mail sent")
		}
		if m.Kind != "verify_email" || !strings.HasPrefix(m.Link, testBaseURL+"/verify-email?token=") ||
			!strings.Contains(m.Text, m.Link) {
			t.Fatalf("verification mail = %+v", m)
		}
		tok := h.MustVerifyToken(t, "ada@example.com")
		if len(tok) != 43 {
			t.Fatalf("verify token %q has %d characters, want 43 (32 random bytes)", tok, len(tok))
		}
		if len(h.mailer.Messages()) != 2 {
			t.Fatalf("sent %d mails, want 2", len(h.mailer.Messages()))
		}
	})

	t.Run("ErrInvalidEmail", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		for _, email := range []string{
			"", "   ", "not-an-email", "ada@", "@example.com",
			"Ada <ada@example.com>", "<ada@example.com>", "ada@example.com, bob@example.com",
			"ada@localhost", "ada@[127.0.0.1]", "ada@example.com\r\nBcc: x@example.com",
			strings.Repeat("a", 250) + "@example.com",
		} {
			_, err := h.svc.Signup(context.Background(), email, testPassword)
			e := assertCode(t, err, kiln.EInvalid)
			assertFields(t, e, "email")
		}
		if n := len(h.mailer.Messages()); n != 0 {
			t.Fatalf("sent %d mails for refused signups", n)
		}
	})

	t.Run("ErrInvalidPassword", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		for _, pw := range []string{"", "short", "1234567", strings.Repeat("x", auth.MaxPasswordLen+1), "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"} {
			_, err := h.svc.Signup(context.Background(), "ada@example.com", pw)
			e := assertCode(t, err, kiln.EInvalid)
			assertFields(t, e, "password")
		}
		// Length counts characters, not bytes: eight runes are enough.
		if _, err := h.svc.Signup(context.Background(), "ada@example.com", "ééééàààà"); err != nil {
			t.Fatalf("eight-character password refused: %v", err)
		}
		if _, err := h.svc.Signup(context.Background(), "max@example.com", strings.Repeat("x", auth.MaxPasswordLen)); err != nil {
			t.Fatalf("password of MaxPasswordLen refused: %v", err)
		}
	})

	t.Run("ErrBothFields", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		_, err := h.svc.Signup(context.Background(), "nope", "x")
		e := assertCode(t, err, kiln.EInvalid)
		assertFields(t, e, "email", "password")
	})

	t.Run("ErrDuplicate", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		_, err := h.svc.Signup(context.Background(), "ADA@example.com", "another password")
		assertCode(t, err, kiln.EConflict)
	})

	t.Run("OutboxFailureFailsSignup", func(t *testing.T) {
		// The mail is written in the signup's transaction: when it cannot
		// be written, no user is left behind without it.
		t.Parallel()
		clock := newFakeClock()
		store := newFakeStore(clock.Now)
		store.OutboxErr = errors.New("outbox down")
		svc, err := auth.New(store, auth.Config{Secret: testSecret, BaseURL: testBaseURL, Now: clock.Now, Argon2: fastArgon2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Signup(context.Background(), "ada@example.com", testPassword); err == nil {
			t.Fatal("Signup succeeded although the mail could not be written")
		}
		if _, err := store.FindUserByEmail(context.Background(), "ada@example.com"); !isKilnCode(err, kiln.ENotFound) {
			t.Fatalf("user stored without its mail: %v", err)
		}
	})
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()

	t.Run("OnceAndNeverTwice", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		tok := h.MustVerifyToken(t, "ada@example.com")
		u, err := h.svc.VerifyEmail(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if !u.EmailVerified || u.Email != "ada@example.com" {
			t.Fatalf("verified user = %+v", u)
		}
		stored, _ := h.store.FindUserByEmail(context.Background(), "ada@example.com")
		if !stored.EmailVerified {
			t.Fatal("store does not record the verification")
		}
		_, err = h.svc.VerifyEmail(context.Background(), tok)
		assertCode(t, err, kiln.EInvalid)
	})

	t.Run("ErrExpired", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *auth.Config) { c.VerifyTTL = time.Hour })
		h.MustSignup(t, "ada@example.com")
		tok := h.MustVerifyToken(t, "ada@example.com")
		h.clock.Advance(time.Hour)
		_, err := h.svc.VerifyEmail(context.Background(), tok)
		assertCode(t, err, kiln.EInvalid)
		stored, _ := h.store.FindUserByEmail(context.Background(), "ada@example.com")
		if stored.EmailVerified {
			t.Fatal("expired token verified the email")
		}
	})

	t.Run("ErrUnknown", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		for _, tok := range []string{"", "nope", strings.Repeat("a", 100000)} {
			_, err := h.svc.VerifyEmail(context.Background(), tok)
			assertCode(t, err, kiln.EInvalid)
		}
	})

	t.Run("NotARefreshToken", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")
		_, err := h.svc.VerifyEmail(context.Background(), s.RefreshToken)
		assertCode(t, err, kiln.EInvalid)
	})
}

func TestResendVerification(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		first := h.MustVerifyToken(t, "ada@example.com")
		if err := h.svc.ResendVerification(userCtx(u)); err != nil {
			t.Fatal(err)
		}
		second := h.MustVerifyToken(t, "ada@example.com")
		if first == second {
			t.Fatal("resend mailed the same token again")
		}
		if _, err := h.svc.VerifyEmail(context.Background(), second); err != nil {
			t.Fatalf("verify with resent token: %v", err)
		}
		// Now verified: no more mails.
		err := h.svc.ResendVerification(userCtx(u))
		assertCode(t, err, kiln.EConflict)
	})

	t.Run("ErrNoUser", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		assertCode(t, h.svc.ResendVerification(context.Background()), kiln.EUnauthorized)
		assertCode(t, h.svc.ResendVerification(userCtx(&kiln.User{ID: 999})), kiln.EUnauthorized)
	})

	t.Run("ErrRateLimited", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		for range auth.DefaultResendMax {
			if err := h.svc.ResendVerification(userCtx(u)); err != nil {
				t.Fatal(err)
			}
		}
		e := assertCode(t, h.svc.ResendVerification(userCtx(u)), kiln.ERateLimited)
		if e.RetryAfter <= 0 || e.RetryAfter > auth.DefaultResendWindow {
			t.Fatalf("RetryAfter = %v", e.RetryAfter)
		}
		h.clock.Advance(e.RetryAfter)
		if err := h.svc.ResendVerification(userCtx(u)); err != nil {
			t.Fatalf("resend after RetryAfter: %v", err)
		}
	})

	t.Run("ErrOutbox", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		store := newFakeStore(clock.Now)
		svc, err := auth.New(store, auth.Config{Secret: testSecret, BaseURL: testBaseURL, Now: clock.Now, Argon2: fastArgon2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := svc.Signup(context.Background(), "ada@example.com", testPassword)
		if err != nil {
			t.Fatal(err)
		}
		store.OutboxErr = errors.New("outbox down")
		if err := svc.ResendVerification(userCtx(u)); err == nil || !strings.Contains(err.Error(), "outbox down") {
			t.Fatalf("ResendVerification with the outbox down = %v", err)
		}
	})
}
