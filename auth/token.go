package auth

import (
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
func newSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
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

// signAccessToken returns an HS256 JWT for userID valid until exp.
func (s *Service) signAccessToken(userID int64, now, exp time.Time) (string, error) {
	jti, err := newID(accessJTIBytes)
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
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.Secret)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return signed, nil
}

// parseAccessToken verifies an access JWT and returns its user id. It pins
// HS256 (so "none" and RS/HS key confusion fail), the issuer and audience,
// and requires an unexpired exp, allowing jwtLeeway of clock skew.
func (s *Service) parseAccessToken(token string) (int64, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.cfg.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
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
