package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

// forge signs claims with method and key, as an attacker (or a confused
// client) would, with the kid header when kid is not empty.
func forge(tb testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
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

// signingKey returns the current signing key's kid, private key and the
// DER of its public key, as only the server (or a thief of the database and
// auth.secret) has them.
func (h *harness) signingKey(tb testing.TB) (string, *ecdsa.PrivateKey, []byte) {
	tb.Helper()
	k := h.store.currentKey()
	if k == nil {
		tb.Fatal("no current signing key")
	}
	priv, err := auth.OpenSigningKey(testSecret, k)
	if err != nil {
		tb.Fatal(err)
	}
	return k.ID, priv, k.Public
}

func mustECKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// tokenHeader decodes a JWT's header.
func tokenHeader(tb testing.TB, token string) map[string]any {
	tb.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		tb.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		tb.Fatal(err)
	}
	return h
}

// TestAuthenticateJWT is the table of attacks on Kiln's access tokens:
// each must answer EUnauthorized, while the control — a token signed the
// way the server signs — is accepted, so each attack fails for its own
// reason.
func TestAuthenticateJWT(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	u := h.MustSignup(t, "ada@example.com")
	victim := h.MustSignup(t, "bob@example.com")
	sess := h.MustLogin(t, "ada@example.com")
	kid, priv, pubDER := h.signingKey(t)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := func() jwt.MapClaims { return validClaims(h, u.ID) }
	with := func(k string, v any) jwt.MapClaims {
		c := valid()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	now := h.clock.Now()

	t.Run("OK", func(t *testing.T) {
		got, err := h.svc.Authenticate(context.Background(), sess.AccessToken)
		if err != nil || got.ID != u.ID || got.Email != "ada@example.com" {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
		got, err = h.svc.Authenticate(context.Background(), forge(t, jwt.SigningMethodES256, priv, kid, valid()))
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
		if hd := tokenHeader(t, sess.AccessToken); hd["alg"] != "ES256" || hd["kid"] != kid {
			t.Fatalf("header = %v, want alg ES256 and kid %s", hd, kid)
		}
		if c["sub"] != strconv.FormatInt(u.ID, 10) || c["iss"] != "kiln" || c["jti"] == "" ||
			c["exp"] != float64(now.Add(auth.DefaultAccessTTL).Unix()) || c["iat"] != float64(now.Unix()) {
			t.Fatalf("claims = %v", c)
		}
		if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != "kiln-api" {
			t.Fatalf("aud = %v", c["aud"])
		}
	})

	enc := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		name  string
		token func() string
	}{
		{"AlgNone", func() string {
			return forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, valid())
		}},
		{"AlgNoneHandMade", func() string {
			body, _ := json.Marshal(valid())
			return enc([]byte(`{"alg":"none","typ":"JWT","kid":"`+kid+`"}`)) + "." + enc(body) + "."
		}},
		{"AlgNoneUpperCase", func() string {
			body, _ := json.Marshal(valid())
			return enc([]byte(`{"alg":"NONE","kid":"`+kid+`"}`)) + "." + enc(body) + "."
		}},
		// Algorithm confusion: HMAC keyed with the public key, which a
		// verifier that trusts the header's alg would accept.
		{"HS256WithPublicKeyDER", func() string { return forge(t, jwt.SigningMethodHS256, pubDER, kid, valid()) }},
		{"HS256WithPublicKeyPEM", func() string { return forge(t, jwt.SigningMethodHS256, pubPEM, kid, valid()) }},
		{"HS256WithAuthSecret", func() string { return forge(t, jwt.SigningMethodHS256, testSecret, kid, valid()) }},
		{"RS256OtherKey", func() string { return forge(t, jwt.SigningMethodRS256, rsaKey, kid, valid()) }},
		{"ES384OtherKey", func() string { return forge(t, jwt.SigningMethodES384, ec384, kid, valid()) }},
		{"WrongKeySameKid", func() string { return forge(t, jwt.SigningMethodES256, mustECKey(t), kid, valid()) }},
		{"UnknownKid", func() string { return forge(t, jwt.SigningMethodES256, mustECKey(t), "0123456789abcdef", valid()) }},
		{"UnknownKidRightKey", func() string { return forge(t, jwt.SigningMethodES256, priv, "0123456789abcdef", valid()) }},
		{"NoKid", func() string { return forge(t, jwt.SigningMethodES256, priv, "", valid()) }},
		{"Expired", func() string {
			return forge(t, jwt.SigningMethodES256, priv, kid, with("exp", now.Add(-31*time.Second).Unix()))
		}},
		{"NoExpiry", func() string { return forge(t, jwt.SigningMethodES256, priv, kid, with("exp", nil)) }},
		{"NotYetValid", func() string {
			return forge(t, jwt.SigningMethodES256, priv, kid, with("nbf", now.Add(time.Hour).Unix()))
		}},
		{"IssuedInFuture", func() string {
			c := with("iat", now.Add(time.Hour).Unix())
			c["exp"] = now.Add(2 * time.Hour).Unix()
			return forge(t, jwt.SigningMethodES256, priv, kid, c)
		}},
		{"WrongAudience", func() string {
			return forge(t, jwt.SigningMethodES256, priv, kid, with("aud", []string{"kiln-ingest"}))
		}},
		{"NoAudience", func() string { return forge(t, jwt.SigningMethodES256, priv, kid, with("aud", nil)) }},
		{"WrongIssuer", func() string { return forge(t, jwt.SigningMethodES256, priv, kid, with("iss", "evil")) }},
		{"NoIssuer", func() string { return forge(t, jwt.SigningMethodES256, priv, kid, with("iss", nil)) }},
		{"BadSubject", func() string { return forge(t, jwt.SigningMethodES256, priv, kid, with("sub", "1 OR 1=1")) }},
		{"UnknownSubject", func() string { return forge(t, jwt.SigningMethodES256, priv, kid, validClaims(h, 9999)) }},
		{"TamperedPayload", func() string {
			// Keep the header and signature, swap the subject for the victim.
			parts := strings.Split(sess.AccessToken, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			var c map[string]any
			_ = json.Unmarshal(payload, &c)
			c["sub"] = strconv.FormatInt(victim.ID, 10)
			body, _ := json.Marshal(c)
			return parts[0] + "." + enc(body) + "." + parts[2]
		}},
		{"TamperedHeaderKid", func() string {
			parts := strings.Split(sess.AccessToken, ".")
			return enc([]byte(`{"alg":"ES256","kid":"`+kid+`x","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]
		}},
		{"TamperedSignature", func() string {
			b := []byte(sess.AccessToken)
			i := len(b) - 5
			b[i] ^= 1 // still base64url, another signature
			if b[i] == '.' {
				b[i] = 'A'
			}
			return string(b)
		}},
		{"Garbage", func() string { return "not.a.jwt" }},
		{"Empty", func() string { return "" }},
		{"Huge", func() string { return strings.Repeat("a", 1<<20) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svc.Authenticate(context.Background(), tc.token())
			assertCode(t, err, kiln.EUnauthorized)
		})
	}
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

	t.Run("ErrOtherSecretCannotSign", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, nil)
		h.MustSignup(t, "ada@example.com")
		s := h.MustLogin(t, "ada@example.com")
		h.cfg.Secret = []byte("a-rotated-secret-that-is-32-bytes-long")
		other, err := auth.New(h.store, h.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The stored private key is sealed with the first secret: a node
		// with another one refuses to start, naming the setting …
		err = other.CheckSigningKeys(context.Background())
		if err == nil || !strings.Contains(err.Error(), "auth.secret") {
			t.Fatalf("CheckSigningKeys with another secret = %v, want an error naming auth.secret", err)
		}
		// … but public keys need no secret, so it still verifies tokens.
		if _, err := other.Authenticate(context.Background(), s.AccessToken); err != nil {
			t.Fatalf("verify with another secret: %v", err)
		}
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
