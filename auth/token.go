package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// APITokenPrefix starts every API token secret; Authenticate tells API
// tokens from access JWTs by it.
const APITokenPrefix = "kiln_"

// AccessAudience is the aud claim of access tokens.
const AccessAudience = "kiln-api"

const (
	secretBytes    = 32
	apiTokenLen    = len(APITokenPrefix) + 43 // 32 bytes in unpadded base64url
	apiPrefixLen   = 12
	maxBearerLen   = 4096 // longer credentials are refused unparsed
	maxOpaqueLen   = 256  // refresh and one-time tokens are 43 characters
	jwtLeeway      = 30 * time.Second
	familyIDBytes  = 16
	accessJTIBytes = 16
)

// HashToken returns the hex SHA-256 of a token secret: what the store keeps
// for refresh, one-time and API tokens. The secrets carry 256 random bits,
// so a fast unsalted hash is enough to make a leaked table useless.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newSecret returns n random bytes in unpadded base64url.
//
// A secret never starts with "-": users paste them as command arguments
// (kiln verify-email TOKEN), where a leading dash reads as a flag. Drawing
// again when it would costs under 0.03 bits.
func newSecret(n int) (string, error) {
	b := make([]byte, n)
	for {
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		if s := base64.RawURLEncoding.EncodeToString(b); s[0] != '-' {
			return s, nil
		}
	}
}

// newID returns n random bytes in hex, for ids that are not secrets.
func newID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// isAPITokenShape reports whether s looks like an API token secret, so
// garbage never reaches the store.
func isAPITokenShape(s string) bool {
	if len(s) != apiTokenLen || s[:len(APITokenPrefix)] != APITokenPrefix {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(APITokenPrefix):])
	return err == nil
}

// signAccessToken returns an ES256 JWT for userID valid until exp, signed
// with the current signing key and naming it in the kid header.
func (s *Service) signAccessToken(ctx context.Context, userID int64, now, exp time.Time) (string, error) {
	jti, err := newID(accessJTIBytes)
	if err != nil {
		return "", err
	}
	kid, key, err := s.keys.signer(ctx)
	if err != nil {
		return "", err
	}
	claims := jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(userID, 10),
		Issuer:    s.cfg.Issuer,
		Audience:  jwt.ClaimStrings{AccessAudience},
		ExpiresAt: jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        jti,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["kid"] = kid
	signed, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return signed, nil
}

// parseAccessToken verifies an access JWT and returns its user id. It pins
// ES256 (so "none", HS256 over the public key and other algorithms fail),
// requires a kid naming a key that verifies now, the issuer and audience,
// an unexpired exp and no iat or nbf in the future, allowing jwtLeeway of
// clock skew.
func (s *Service) parseAccessToken(ctx context.Context, token string) (int64, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, s.keyFunc(ctx),
		jwt.WithValidMethods([]string{SigningAlgorithm}),
		jwt.WithIssuer(s.cfg.Issuer),
		jwt.WithAudience(AccessAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(jwtLeeway),
		jwt.WithTimeFunc(s.cfg.Now),
		jwt.WithStrictDecoding(),
	)
	if err != nil {
		return 0, fmt.Errorf("parse access token: %w", err)
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 || claims.Subject != strconv.FormatInt(id, 10) {
		return 0, errors.New("parse access token: bad subject")
	}
	return id, nil
}
