package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

func login(h *harness, email, password, ip string) (*kiln.Session, error) {
	return h.svc.Login(context.Background(), kiln.LoginInput{Email: email, Password: password, IP: ip})
}

func TestLogin(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		now := h.clock.Now()
		s, err := login(h, "  ADA@example.com", testPassword, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if s.User == nil || s.User.ID != u.ID {
			t.Fatalf("session user = %+v, want %d", s.User, u.ID)
		}
		if !s.AccessExpiresAt.Equal(now.Add(auth.DefaultAccessTTL)) {
			t.Fatalf("AccessExpiresAt = %v, want now+15m", s.AccessExpiresAt)
		}
		if !s.RefreshExpiresAt.Equal(now.Add(auth.DefaultRefreshTTL)) {
			t.Fatalf("RefreshExpiresAt = %v, want now+30d", s.RefreshExpiresAt)
		}
		if s.AccessToken == "" || s.RefreshToken == "" || len(s.RefreshToken) != 43 {
			t.Fatalf("tokens = %q, %q", s.AccessToken, s.RefreshToken)
		}
		got, err := h.svc.Authenticate(context.Background(), s.AccessToken)
		if err != nil || got.ID != u.ID {
			t.Fatalf("Authenticate(access token) = %+v, %v", got, err)
		}
		// Only the hash of the refresh token is stored.
		rts := h.store.refreshTokens()
		if len(rts) != 1 || rts[0].Hash != auth.HashToken(s.RefreshToken) || rts[0].Hash == s.RefreshToken {
			t.Fatalf("stored refresh tokens = %+v", rts)
		}
	})

	t.Run("ErrSameForWrongPasswordAndUnknownEmail", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		_, errWrong := login(h, "ada@example.com", "wrong password", "192.0.2.1")
		_, errUnknown := login(h, "nobody@example.com", testPassword, "192.0.2.2")
		_, errEmpty := login(h, "ada@example.com", "", "192.0.2.3")
		_, errHuge := login(h, "ada@example.com", strings.Repeat("x", 1<<20), "192.0.2.4")
		for _, err := range []error{errWrong, errUnknown, errEmpty, errHuge} {
			assertCode(t, err, kiln.EUnauthorized)
			if err.Error() != errWrong.Error() {
				t.Fatalf("errors differ: %q vs %q", err, errWrong)
			}
		}
		if n := len(h.store.refreshTokens()); n != 0 {
			t.Fatalf("failed logins stored %d refresh tokens", n)
		}
	})

	t.Run("ErrStore", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.store.FindUserByEmailErr = errors.New("connection reset")
		_, err := login(h, "ada@example.com", testPassword, "192.0.2.1")
		assertCode(t, err, kiln.EInternal)
	})

	t.Run("RehashesOnParameterChange", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		stronger := fastArgon2
		stronger.Iterations = 2
		h.cfg.Argon2 = stronger
		svc, err := auth.New(h.store, h.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		in := kiln.LoginInput{Email: "ada@example.com", Password: testPassword}
		if _, err := svc.Login(context.Background(), in); err != nil {
			t.Fatalf("login with old-parameter hash: %v", err)
		}
		u, _ := h.store.FindUserByEmail(context.Background(), "ada@example.com")
		if !strings.Contains(u.PasswordHash, "m=64,t=2,p=1$") || h.store.SetPasswordHashCalls != 1 {
			t.Fatalf("hash after login = %q (%d updates), want t=2", u.PasswordHash, h.store.SetPasswordHashCalls)
		}
		if _, err := svc.Login(context.Background(), in); err != nil {
			t.Fatalf("login with upgraded hash: %v", err)
		}
		if h.store.SetPasswordHashCalls != 1 {
			t.Fatal("an up-to-date hash was rehashed")
		}
	})
}

// TestLoginUnknownEmailCostsAHash checks that an unknown email spends a
// password hash like a known one, so timing does not reveal accounts. The
// real parameters make a hash take tens of milliseconds, against
// microseconds for a store miss, so a factor of three is a wide margin.
func TestLoginUnknownEmailCostsAHash(t *testing.T) {
	if testing.Short() {
		t.Skip("times real password hashes")
	}
	h := newHarness(t, func(c *auth.Config) {
		c.Argon2 = auth.DefaultArgon2Params
		c.LoginAccountMax, c.LoginIPMax = 1000, 1000
	})
	h.MustSignup(t, "ada@example.com")
	median := func(email string) time.Duration {
		var ds []time.Duration
		for range 5 {
			start := time.Now()
			_, err := login(h, email, "wrong password", "192.0.2.1")
			ds = append(ds, time.Since(start))
			assertCode(t, err, kiln.EUnauthorized)
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	known, unknown := median("ada@example.com"), median("nobody@example.com")
	t.Logf("median failed login: known email %v, unknown email %v", known, unknown)
	if unknown < known/3 {
		t.Fatalf("unknown email took %v against %v for a known one: it skips the hash", unknown, known)
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()

	t.Run("PerAccount", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		for i := range auth.DefaultLoginAccountMax {
			// Different IPs: only the account limit applies.
			_, err := login(h, "ada@example.com", "wrong password", fmt.Sprintf("192.0.2.%d", i+1))
			assertCode(t, err, kiln.EUnauthorized)
			h.clock.Advance(time.Second)
		}
		// Even the right password is refused now, before it is checked.
		_, err := login(h, "ada@example.com", testPassword, "198.51.100.1")
		e := assertCode(t, err, kiln.ERateLimited)
		// The first failure was 5 s ago: it leaves the window in 55 s.
		if e.RetryAfter != auth.DefaultLoginWindow-5*time.Second {
			t.Fatalf("RetryAfter = %v, want 55s", e.RetryAfter)
		}
		// Other accounts are not affected.
		h.MustSignup(t, "bob@example.com")
		if _, err := login(h, "bob@example.com", testPassword, "198.51.100.1"); err != nil {
			t.Fatalf("other account: %v", err)
		}
		// Still blocked just before RetryAfter, free after.
		h.clock.Advance(e.RetryAfter - time.Second)
		_, err = login(h, "ada@example.com", testPassword, "198.51.100.1")
		assertCode(t, err, kiln.ERateLimited)
		h.clock.Advance(time.Second)
		if _, err := login(h, "ada@example.com", testPassword, "198.51.100.1"); err != nil {
			t.Fatalf("login after RetryAfter: %v", err)
		}
	})

	t.Run("UnknownEmailLimitedAlike", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		for i := range auth.DefaultLoginAccountMax {
			_, err := login(h, "nobody@example.com", "wrong password", fmt.Sprintf("192.0.2.%d", i+1))
			assertCode(t, err, kiln.EUnauthorized)
		}
		_, err := login(h, "nobody@example.com", "wrong password", "198.51.100.1")
		assertCode(t, err, kiln.ERateLimited)
	})

	t.Run("SuccessResetsAccount", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		for range auth.DefaultLoginAccountMax - 1 {
			_, err := login(h, "ada@example.com", "wrong password", "192.0.2.1")
			assertCode(t, err, kiln.EUnauthorized)
		}
		h.MustLogin(t, "ada@example.com")
		for range auth.DefaultLoginAccountMax - 1 {
			_, err := login(h, "ada@example.com", "wrong password", "192.0.2.1")
			assertCode(t, err, kiln.EUnauthorized)
		}
		h.MustLogin(t, "ada@example.com")
	})

	t.Run("PerIP", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		for i := range auth.DefaultLoginIPMax {
			_, err := login(h, fmt.Sprintf("user%d@example.com", i), "wrong password", "203.0.113.7:5555")
			assertCode(t, err, kiln.EUnauthorized)
		}
		_, err := login(h, "ada@example.com", testPassword, "203.0.113.7:6666")
		e := assertCode(t, err, kiln.ERateLimited)
		if e.RetryAfter != auth.DefaultLoginWindow {
			t.Fatalf("RetryAfter = %v, want %v", e.RetryAfter, auth.DefaultLoginWindow)
		}
		if _, err := login(h, "ada@example.com", testPassword, "203.0.113.8"); err != nil {
			t.Fatalf("other IP: %v", err)
		}
		h.clock.Advance(e.RetryAfter)
		if _, err := login(h, "ada@example.com", testPassword, "203.0.113.7"); err != nil {
			t.Fatalf("same IP after RetryAfter: %v", err)
		}
	})

	t.Run("PerIPv6Network", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		for i := range auth.DefaultLoginIPMax {
			// Every attempt from another address of the same /64.
			_, err := login(h, fmt.Sprintf("user%d@example.com", i), "wrong password", fmt.Sprintf("2001:db8:1:2::%x", i+1))
			assertCode(t, err, kiln.EUnauthorized)
		}
		_, err := login(h, "ada@example.com", testPassword, "[2001:db8:1:2:ffff::1]:443")
		assertCode(t, err, kiln.ERateLimited)
		if _, err := login(h, "ada@example.com", testPassword, "2001:db8:1:3::1"); err != nil {
			t.Fatalf("other /64: %v", err)
		}
	})

	t.Run("RateLimitedDoesNotExtend", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		for range auth.DefaultLoginAccountMax {
			_, _ = login(h, "ada@example.com", "wrong password", "")
		}
		// Hammering while blocked does not push the unblock time back.
		for range 10 {
			_, err := login(h, "ada@example.com", "wrong password", "")
			assertCode(t, err, kiln.ERateLimited)
		}
		h.clock.Advance(auth.DefaultLoginWindow)
		_, err := login(h, "ada@example.com", "wrong password", "")
		assertCode(t, err, kiln.EUnauthorized)
	})
}

func TestRefresh(t *testing.T) {
	t.Parallel()

	t.Run("Rotates", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		s1 := h.MustLogin(t, "ada@example.com")
		h.clock.Advance(10 * time.Minute)
		s2, err := h.svc.Refresh(context.Background(), s1.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if s2.RefreshToken == s1.RefreshToken || s2.AccessToken == s1.AccessToken {
			t.Fatal("refresh returned the same tokens")
		}
		if s2.User.ID != u.ID || !s2.AccessExpiresAt.Equal(h.clock.Now().Add(auth.DefaultAccessTTL)) {
			t.Fatalf("refreshed session = %+v", s2)
		}
		rts := h.store.refreshTokens()
		if len(rts) != 2 || rts[0].RevokedAt == nil || rts[1].RevokedAt != nil || rts[0].Family != rts[1].Family {
			t.Fatalf("refresh tokens after rotation = %+v", rts)
		}
		s3, err := h.svc.Refresh(context.Background(), s2.RefreshToken)
		if err != nil {
			t.Fatalf("second rotation: %v", err)
		}
		if _, err := h.svc.Authenticate(context.Background(), s3.AccessToken); err != nil {
			t.Fatalf("refreshed access token: %v", err)
		}
	})

	t.Run("ReuseRevokesFamily", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		other := h.MustLogin(t, "ada@example.com") // another device, another family
		s1 := h.MustLogin(t, "ada@example.com")
		s2, err := h.svc.Refresh(context.Background(), s1.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		// An attacker replays the stolen, already rotated token.
		_, err = h.svc.Refresh(context.Background(), s1.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
		// The legitimate holder of the newest token is logged out too.
		_, err = h.svc.Refresh(context.Background(), s2.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
		// The other family is untouched.
		if _, err := h.svc.Refresh(context.Background(), other.RefreshToken); err != nil {
			t.Fatalf("other session: %v", err)
		}
	})

	t.Run("ConcurrentRotationRevokesFamily", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		s1 := h.MustLogin(t, "ada@example.com")
		// Another refresh of the same token wins the race: it rotates the
		// token first, storing its own successor in the family.
		h.store.BeforeRotate = func(oldID int64) {
			h.store.BeforeRotate = nil
			rts := h.store.refreshTokens()
			winner := &auth.RefreshToken{UserID: rts[0].UserID, Family: rts[0].Family, Hash: "winner",
				ExpiresAt: h.clock.Now().Add(time.Hour), CreatedAt: h.clock.Now()}
			if err := h.store.RotateRefreshToken(context.Background(), oldID, winner, h.clock.Now()); err != nil {
				t.Errorf("winner's rotation: %v", err)
			}
		}
		_, err := h.svc.Refresh(context.Background(), s1.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
		rts := h.store.refreshTokens()
		if len(rts) != 2 {
			t.Fatalf("stored %d refresh tokens, want the original and the winner's", len(rts))
		}
		for _, rt := range rts {
			if rt.RevokedAt == nil {
				t.Fatalf("token %d of the raced family still valid", rt.ID)
			}
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(c *auth.Config) { c.RefreshTTL = time.Hour })
		h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")
		h.clock.Advance(time.Hour)
		_, err := h.svc.Refresh(context.Background(), s.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("ErrUnknown", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		for _, tok := range []string{"", "nope", strings.Repeat("x", 1<<16)} {
			_, err := h.svc.Refresh(context.Background(), tok)
			assertCode(t, err, kiln.EUnauthorized)
		}
	})

	t.Run("ErrDeletedUser", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")
		h.store.deleteUser(u.ID)
		_, err := h.svc.Refresh(context.Background(), s.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
	})
}

func TestLogout(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		s1 := h.MustLogin(t, "ada@example.com")
		s2, err := h.svc.Refresh(context.Background(), s1.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.svc.Logout(context.Background(), s2.RefreshToken); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Refresh(context.Background(), s2.RefreshToken)
		assertCode(t, err, kiln.EUnauthorized)
		// Logging out twice is fine.
		if err := h.svc.Logout(context.Background(), s2.RefreshToken); err != nil {
			t.Fatalf("second logout: %v", err)
		}
	})

	t.Run("UnknownIsNotAnError", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		for _, tok := range []string{"", "nope", strings.Repeat("x", 1<<16)} {
			if err := h.svc.Logout(context.Background(), tok); err != nil {
				t.Fatalf("Logout(%.10q): %v", tok, err)
			}
		}
	})
}

func TestRevokeUserSessions(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		admin := h.MustSignup(t, "root@example.com")
		ada := h.MustSignup(t, "ada@example.com")
		h.MustSignup(t, "bob@example.com")
		cli, web := h.MustLogin(t, "ada@example.com"), h.MustLogin(t, "ada@example.com")
		bob := h.MustLogin(t, "bob@example.com")

		u, n, err := h.svc.RevokeUserSessions(userCtx(admin), ada.ID)
		if err != nil || u.ID != ada.ID || n != 2 {
			t.Fatalf("RevokeUserSessions = %+v, %d, %v; want ada and 2 sessions", u, n, err)
		}
		for _, s := range []*kiln.Session{cli, web} {
			_, err := h.svc.Refresh(context.Background(), s.RefreshToken)
			assertCode(t, err, kiln.EUnauthorized)
			// The access token works until it expires.
			if got, err := h.svc.Authenticate(context.Background(), s.AccessToken); err != nil || got.ID != ada.ID {
				t.Fatalf("access token after the revocation = %+v, %v", got, err)
			}
		}
		h.clock.Advance(auth.DefaultAccessTTL + time.Minute)
		_, err = h.svc.Authenticate(context.Background(), cli.AccessToken)
		assertCode(t, err, kiln.EUnauthorized)
		// Other users keep their sessions; ada can log in again.
		if _, err := h.svc.Refresh(context.Background(), bob.RefreshToken); err != nil {
			t.Fatalf("bob's session ended too: %v", err)
		}
		h.MustLogin(t, "ada@example.com")
		// Bob's session is one family: its refreshed token is the one live.
		if _, n, err := h.svc.RevokeUserSessions(userCtx(admin), bob.User.ID); err != nil || n != 1 {
			t.Fatalf("revoking bob's refreshed session = %d, %v", n, err)
		}
	})

	t.Run("ErrForbidden", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "root@example.com")
		ada := h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "root@example.com")
		_, _, err := h.svc.RevokeUserSessions(userCtx(ada), s.User.ID)
		assertCode(t, err, kiln.EForbidden)
		_, _, err = h.svc.RevokeUserSessions(context.Background(), s.User.ID)
		assertCode(t, err, kiln.EUnauthorized)
		if _, err := h.svc.Refresh(context.Background(), s.RefreshToken); err != nil {
			t.Fatalf("a refused revocation ended the session: %v", err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		admin := h.MustSignup(t, "root@example.com")
		_, _, err := h.svc.RevokeUserSessions(userCtx(admin), 99999)
		assertCode(t, err, kiln.ENotFound)
	})
}
