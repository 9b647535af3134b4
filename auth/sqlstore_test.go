package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/mail"
	"github.com/kiln-build/kiln/queue/queuetest"
	"github.com/kiln-build/kiln/sqlstore"
)

// newSQLiteService returns a Service over the real SQLite store in a
// temporary folder, sharing a fake clock with it.
func newSQLiteService(t *testing.T) (*auth.Service, *mail.DevMailer, *fakeClock) {
	t.Helper()
	ctx := context.Background()
	clock := newFakeClock()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "kiln.db"), sqlstore.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	// Mail goes through the real outbox and queue to the dev mailer.
	mailer := mail.NewDevMailer(nil)
	queuetest.StartMail(t, db, mailer)
	svc, err := auth.New(sqlstore.NewAuthStore(db),
		auth.Config{Secret: testSecret, BaseURL: testBaseURL, Now: clock.Now, Argon2: fastArgon2, ResetMinTime: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc, mailer, clock
}

// TestWithSQLiteStore runs the account lifecycle over the real store, so
// the service and sqlstore agree on the Store contract's error codes.
func TestWithSQLiteStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		svc, mailer, clock := newSQLiteService(t)
		h := &harness{svc: svc, mailer: mailer, clock: clock}

		u := h.MustSignup(t, "Ada@Example.com")
		if u.Role != kiln.RoleAdmin || u.Email != "ada@example.com" {
			t.Fatalf("first user = %+v", u)
		}
		_, err := svc.Signup(ctx, "ada@EXAMPLE.com", testPassword)
		assertCode(t, err, kiln.EConflict)

		tok := h.MustVerifyToken(t, "ada@example.com")
		if v, err := svc.VerifyEmail(ctx, tok); err != nil || !v.EmailVerified {
			t.Fatalf("VerifyEmail = %+v, %v", v, err)
		}
		_, err = svc.VerifyEmail(ctx, tok)
		assertCode(t, err, kiln.EInvalid)
		assertCode(t, svc.ResendVerification(userCtx(u)), kiln.EConflict)

		_, err = login(h, "ada@example.com", "wrong password", "192.0.2.1")
		assertCode(t, err, kiln.EUnauthorized)
		_, err = login(h, "nobody@example.com", testPassword, "192.0.2.1")
		assertCode(t, err, kiln.EUnauthorized)

		s1 := h.MustLogin(t, "ada@example.com")
		if got, err := svc.Authenticate(ctx, s1.AccessToken); err != nil || got.ID != u.ID || !got.EmailVerified {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
		clock.Advance(time.Minute)
		s2, err := svc.Refresh(ctx, s1.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		_, err = svc.Refresh(ctx, s1.RefreshToken) // replay
		assertCode(t, err, kiln.EUnauthorized)
		_, err = svc.Refresh(ctx, s2.RefreshToken) // family revoked
		assertCode(t, err, kiln.EUnauthorized)

		s3 := h.MustLogin(t, "ada@example.com")
		if err := svc.Logout(ctx, s3.RefreshToken); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Refresh(ctx, s3.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
		if err := svc.Logout(ctx, "unknown"); err != nil {
			t.Fatalf("Logout(unknown): %v", err)
		}

		s4 := h.MustLogin(t, "ada@example.com")
		clock.Advance(auth.DefaultRefreshTTL)
		_, err = svc.Refresh(ctx, s4.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("PasswordReset", func(t *testing.T) {
		t.Parallel()
		svc, mailer, clock := newSQLiteService(t)
		h := &harness{svc: svc, mailer: mailer, clock: clock}
		h.MustSignup(t, "ada@example.com")
		s1 := h.MustLogin(t, "ada@example.com")
		s2 := h.MustLogin(t, "ada@example.com")
		if err := svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		tok := h.MustResetToken(t, "ada@example.com")
		if err := svc.ResetPassword(ctx, tok, "a brand new passphrase"); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*kiln.Session{s1, s2} {
			_, err := svc.Refresh(ctx, s.RefreshToken)
			assertCode(t, err, kiln.EUnauthorized)
		}
		assertCode(t, svc.ResetPassword(ctx, tok, "another new passphrase"), kiln.EInvalid)
		if _, err := login(h, "ada@example.com", "a brand new passphrase", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}

		// A second link expires after an hour.
		if err := svc.RequestPasswordReset(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := mailer.Wait(waitCtx, func(m kiln.Mail) bool {
			return m.Kind == "password_reset" && !strings.Contains(m.Link, tok)
		}); err != nil {
			t.Fatal(err)
		}
		tok2 := h.MustResetToken(t, "ada@example.com")
		clock.Advance(auth.DefaultResetTTL + time.Second)
		assertCode(t, svc.ResetPassword(ctx, tok2, "expired link passphrase"), kiln.EInvalid)
	})

	t.Run("APITokens", func(t *testing.T) {
		t.Parallel()
		svc, mailer, clock := newSQLiteService(t)
		h := &harness{svc: svc, mailer: mailer, clock: clock}
		ada, bob := h.MustSignup(t, "ada@example.com"), h.MustSignup(t, "bob@example.com")

		exp := clock.Now().Add(time.Hour)
		tok, secret, err := svc.CreateAPIToken(userCtx(ada), "ci", &exp)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := svc.Authenticate(ctx, secret); err != nil || got.ID != ada.ID {
			t.Fatalf("Authenticate(api token) = %+v, %v", got, err)
		}
		list, err := svc.FindAPITokens(userCtx(ada))
		if err != nil || len(list) != 1 || list[0].Prefix != secret[:12] || list[0].LastUsedAt == nil {
			t.Fatalf("FindAPITokens = %+v, %v", list, err)
		}
		assertCode(t, svc.RevokeAPIToken(userCtx(bob), tok.ID), kiln.ENotFound)

		clock.Advance(time.Hour)
		_, err = svc.Authenticate(ctx, secret)
		assertCode(t, err, kiln.EUnauthorized)

		_, secret2, err := svc.CreateAPIToken(userCtx(ada), "laptop", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.RevokeAPIToken(userCtx(ada), tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, secret2); err != nil {
			t.Fatalf("remaining token: %v", err)
		}
	})

	t.Run("ConcurrentRefresh", func(t *testing.T) {
		t.Parallel()
		svc, mailer, clock := newSQLiteService(t)
		h := &harness{svc: svc, mailer: mailer, clock: clock}
		h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")

		var wg sync.WaitGroup
		results := make([]*kiln.Session, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { results[i], errs[i] = svc.Refresh(ctx, s.RefreshToken) })
		}
		wg.Wait()
		// Whatever the interleaving, one refresh wins and the other is a
		// reuse that revokes the family, the winner's new token included.
		var winner *kiln.Session
		for i := range 2 {
			if errs[i] == nil {
				if winner != nil {
					t.Fatal("both concurrent refreshes of one token succeeded")
				}
				winner = results[i]
			} else {
				assertCode(t, errs[i], kiln.EUnauthorized)
			}
		}
		if winner == nil {
			t.Fatal("no concurrent refresh succeeded")
		}
		_, err := svc.Refresh(ctx, winner.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
	})
}
