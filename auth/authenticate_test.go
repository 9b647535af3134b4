package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

// forge signs claims with method and key, as an attacker (or a confused
// client) would.
func forge(tb testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		tb.Fatalf("sign forged token: %v", err)
	}
	return s
}

// validClaims are the claims the service itself would issue for userID.
func validClaims(h *harness, userID int64) jwt.MapClaims {
	now := h.clock.Now()
	return jwt.MapClaims{
		"sub": strconv.FormatInt(userID, 10),
		"iss": "kiln",
		"aud": []string{"kiln-api"},
		"exp": now.Add(time.Minute).Unix(),
		"iat": now.Unix(),
		"jti": "forged",
	}
}

func TestAuthenticateJWT(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	u := h.MustSignup(t, "ada@example.com")
	victim := h.MustSignup(t, "bob@example.com")
	sess := h.MustLogin(t, "ada@example.com")

	t.Run("OK", func(t *testing.T) {
		got, err := h.svc.Authenticate(context.Background(), sess.AccessToken)
		if err != nil || got.ID != u.ID || got.Email != "ada@example.com" {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
		// The control: a token we sign with the right key and claims works,
		// so each attack below fails for its own reason.
		got, err = h.svc.Authenticate(context.Background(), forge(t, jwt.SigningMethodHS256, testSecret, validClaims(h, u.ID)))
		if err != nil || got.ID != u.ID {
			t.Fatalf("Authenticate(well-formed forged) = %+v, %v", got, err)
		}
	})

	t.Run("Claims", func(t *testing.T) {
		parts := strings.Split(sess.AccessToken, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		header, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if !strings.Contains(string(header), `"alg":"HS256"`) {
			t.Fatalf("header = %s", header)
		}
		now := h.clock.Now()
		if c["sub"] != strconv.FormatInt(u.ID, 10) || c["iss"] != "kiln" || c["jti"] == "" ||
			c["exp"] != float64(now.Add(auth.DefaultAccessTTL).Unix()) || c["iat"] != float64(now.Unix()) {
			t.Fatalf("claims = %v", c)
		}
		if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != "kiln-api" {
			t.Fatalf("aud = %v", c["aud"])
		}
	})

	attack := func(name string, token func() string) {
		t.Run(name, func(t *testing.T) {
			_, err := h.svc.Authenticate(context.Background(), token())
			assertCode(t, err, kiln.EUnauthorized)
		})
	}
	attack("AlgNone", func() string {
		return forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(h, u.ID))
	})
	attack("AlgNoneHandMade", func() string {
		enc := base64.RawURLEncoding.EncodeToString
		body, _ := json.Marshal(validClaims(h, u.ID))
		return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(body) + "."
	})
	attack("HS512SameKey", func() string { return forge(t, jwt.SigningMethodHS512, testSecret, validClaims(h, u.ID)) })
	attack("WrongKey", func() string {
		return forge(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!!"), validClaims(h, u.ID))
	})
	attack("Expired", func() string {
		c := validClaims(h, u.ID)
		c["exp"] = h.clock.Now().Add(-31 * time.Second).Unix()
		return forge(t, jwt.SigningMethodHS256, testSecret, c)
	})
	attack("NoExpiry", func() string {
		c := validClaims(h, u.ID)
		delete(c, "exp")
		return forge(t, jwt.SigningMethodHS256, testSecret, c)
	})
	attack("IssuedInFuture", func() string {
		c := validClaims(h, u.ID)
		c["iat"] = h.clock.Now().Add(time.Hour).Unix()
		c["exp"] = h.clock.Now().Add(2 * time.Hour).Unix()
		return forge(t, jwt.SigningMethodHS256, testSecret, c)
	})
	attack("WrongAudience", func() string {
		c := validClaims(h, u.ID)
		c["aud"] = []string{"kiln-ingest"}
		return forge(t, jwt.SigningMethodHS256, testSecret, c)
	})
	attack("NoAudience", func() string {
		c := validClaims(h, u.ID)
		delete(c, "aud")
		return forge(t, jwt.SigningMethodHS256, testSecret, c)
	})
	attack("WrongIssuer", func() string {
		c := validClaims(h, u.ID)
		c["iss"] = "evil"
		return forge(t, jwt.SigningMethodHS256, testSecret, c)
	})
	attack("BadSubject", func() string {
		c := validClaims(h, u.ID)
		c["sub"] = "1 OR 1=1"
		return forge(t, jwt.SigningMethodHS256, testSecret, c)
	})
	attack("UnknownSubject", func() string {
		return forge(t, jwt.SigningMethodHS256, testSecret, validClaims(h, 9999))
	})
	attack("TamperedPayload", func() string {
		// Keep the header and signature, swap the subject for the victim.
		parts := strings.Split(sess.AccessToken, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c map[string]any
		_ = json.Unmarshal(payload, &c)
		c["sub"] = strconv.FormatInt(victim.ID, 10)
		body, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(body) + "." + parts[2]
	})
	attack("TamperedSignature", func() string {
		b := []byte(sess.AccessToken)
		i := len(b) - 5
		b[i] ^= 1 // still base64url, another signature
		if b[i] == '.' {
			b[i] = 'A'
		}
		return string(b)
	})
	attack("Garbage", func() string { return "not.a.jwt" })
	attack("Empty", func() string { return "" })
	attack("Huge", func() string { return strings.Repeat("a", 1<<20) })
}

func TestAuthenticateJWTTime(t *testing.T) {
	t.Parallel()

	t.Run("LeewayAndExpiry", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")
		// 20 s past exp is within the 30 s leeway for clock skew.
		h.clock.Advance(auth.DefaultAccessTTL + 20*time.Second)
		if _, err := h.svc.Authenticate(context.Background(), s.AccessToken); err != nil {
			t.Fatalf("token 20 s past exp: %v", err)
		}
		h.clock.Advance(11 * time.Second)
		_, err := h.svc.Authenticate(context.Background(), s.AccessToken)
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("ErrDeletedUser", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")
		h.store.deleteUser(u.ID)
		_, err := h.svc.Authenticate(context.Background(), s.AccessToken)
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("ErrOtherSecret", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")
		h.cfg.Secret = []byte("a-rotated-secret-that-is-32-bytes-long")
		rotated, err := auth.New(h.store, h.mailer, h.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rotated.Authenticate(context.Background(), s.AccessToken)
		assertCode(t, err, kiln.EUnauthorized)
	})
}

func TestAPITokens(t *testing.T) {
	t.Parallel()

	t.Run("CreateListAuthenticateRevoke", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		ctx := userCtx(u)
		tok, secret, err := h.svc.CreateAPIToken(ctx, "  laptop CLI  ", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "kiln_") || len(secret) != 48 {
			t.Fatalf("secret = %q, want kiln_ and 43 base64url characters", secret)
		}
		if _, err := base64.RawURLEncoding.DecodeString(secret[5:]); err != nil {
			t.Fatalf("secret body is not base64url: %v", err)
		}
		if tok.ID == 0 || tok.UserID != u.ID || tok.Name != "laptop CLI" || tok.Prefix != secret[:12] || tok.ExpiresAt != nil {
			t.Fatalf("token = %+v", tok)
		}
		h.clock.Advance(time.Second)
		tok2, secret2, err := h.svc.CreateAPIToken(ctx, "ci", nil)
		if err != nil {
			t.Fatal(err)
		}
		if secret2 == secret {
			t.Fatal("two tokens share a secret")
		}

		list, err := h.svc.FindAPITokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != tok2.ID || list[1].ID != tok.ID {
			t.Fatalf("FindAPITokens = %+v, want newest first", list)
		}

		got, err := h.svc.Authenticate(context.Background(), secret)
		if err != nil || got.ID != u.ID {
			t.Fatalf("Authenticate(api token) = %+v, %v", got, err)
		}
		list, _ = h.svc.FindAPITokens(ctx)
		if list[1].LastUsedAt == nil || !list[1].LastUsedAt.Equal(h.clock.Now()) {
			t.Fatalf("LastUsedAt = %v, want now", list[1].LastUsedAt)
		}

		if err := h.svc.RevokeAPIToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.Authenticate(context.Background(), secret)
		assertCode(t, err, kiln.EUnauthorized)
		if _, err := h.svc.Authenticate(context.Background(), secret2); err != nil {
			t.Fatalf("the other token stopped working: %v", err)
		}
		assertCode(t, h.svc.RevokeAPIToken(ctx, tok.ID), kiln.ENotFound)
	})

	t.Run("ErrOtherUsersToken", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		ada := h.MustSignup(t, "ada@example.com")
		bob := h.MustSignup(t, "bob@example.com")
		tok, secret, err := h.svc.CreateAPIToken(userCtx(ada), "ada's", nil)
		if err != nil {
			t.Fatal(err)
		}
		assertCode(t, h.svc.RevokeAPIToken(userCtx(bob), tok.ID), kiln.ENotFound)
		list, err := h.svc.FindAPITokens(userCtx(bob))
		if err != nil || len(list) != 0 {
			t.Fatalf("bob sees %+v, %v", list, err)
		}
		if _, err := h.svc.Authenticate(context.Background(), secret); err != nil {
			t.Fatalf("ada's token after bob's revoke attempt: %v", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		exp := h.clock.Now().Add(time.Hour)
		tok, secret, err := h.svc.CreateAPIToken(userCtx(u), "short-lived", &exp)
		if err != nil {
			t.Fatal(err)
		}
		if tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(exp) {
			t.Fatalf("ExpiresAt = %v, want %v", tok.ExpiresAt, exp)
		}
		if _, err := h.svc.Authenticate(context.Background(), secret); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		h.clock.Advance(time.Hour)
		_, err = h.svc.Authenticate(context.Background(), secret)
		assertCode(t, err, kiln.EUnauthorized)

		past := h.clock.Now().Add(-time.Second)
		_, _, err = h.svc.CreateAPIToken(userCtx(u), "already expired", &past)
		e := assertCode(t, err, kiln.EInvalid)
		assertFields(t, e, "expires_at")
	})

	t.Run("ErrInvalidName", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		for _, name := range []string{"", "   ", strings.Repeat("n", 65), "tab\there", "nul\x00", "bell\a", "bidi\u202eevil", "\xff\xfe"} {
			_, _, err := h.svc.CreateAPIToken(userCtx(u), name, nil)
			e := assertCode(t, err, kiln.EInvalid)
			assertFields(t, e, "name")
		}
		if _, _, err := h.svc.CreateAPIToken(userCtx(u), strings.Repeat("é", 64), nil); err != nil {
			t.Fatalf("64-character name refused: %v", err)
		}
	})

	t.Run("ErrNoUser", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		_, _, err := h.svc.CreateAPIToken(context.Background(), "x", nil)
		assertCode(t, err, kiln.EUnauthorized)
		_, err = h.svc.FindAPITokens(context.Background())
		assertCode(t, err, kiln.EUnauthorized)
		assertCode(t, h.svc.RevokeAPIToken(context.Background(), 1), kiln.EUnauthorized)
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		u := h.MustSignup(t, "ada@example.com")
		_, secret, err := h.svc.CreateAPIToken(userCtx(u), "real", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"kiln_", "kiln_short", secret + "x", secret[:47], secret[:20] + "!" + secret[21:], "Bearer " + secret} {
			_, err := h.svc.Authenticate(context.Background(), bad)
			assertCode(t, err, kiln.EUnauthorized)
		}
	})
}

func TestHashToken(t *testing.T) {
	t.Parallel()
	// sha256("abc"), the FIPS 180-2 test vector.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := auth.HashToken("abc"); got != want {
		t.Fatalf("HashToken(abc) = %s, want %s", got, want)
	}
}
