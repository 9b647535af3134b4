package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
)

// MaxAPITokenNameLen is the longest API token name, in characters.
const MaxAPITokenNameLen = 64

// validateTokenName checks a trimmed name: 1..64 printable characters.
func validateTokenName(name string) *kiln.Error {
	n := utf8.RuneCountInString(name)
	if n == 0 || n > MaxAPITokenNameLen {
		return kiln.FieldErrorf("name", "must be 1 to %d characters", MaxAPITokenNameLen)
	}
	if !utf8.ValidString(name) {
		return kiln.FieldErrorf("name", "must be valid UTF-8 text")
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return kiln.FieldErrorf("name", "must contain only printable characters")
		}
	}
	return nil
}

// CreateAPIToken creates an API token for the user in ctx and returns it
// with its secret (APITokenPrefix and 32 random bytes in base64url), which
// is stored only as its hash and never retrievable again. The name is
// trimmed. EUnauthorized without a user, EInvalid (Fields "name",
// "expires_at") for a bad name or an expiry not in the future.
func (s *Service) CreateAPIToken(ctx context.Context, name string, expiresAt *time.Time) (*kiln.APIToken, string, error) {
	u := kiln.UserFromContext(ctx)
	if u == nil {
		return nil, "", errUnauthorized("authentication required")
	}
	name = strings.TrimSpace(name)
	if err := validateTokenName(name); err != nil {
		return nil, "", err
	}
	now := s.now()
	var exp *time.Time
	if expiresAt != nil {
		if !expiresAt.After(now) {
			return nil, "", kiln.FieldErrorf("expires_at", "must be in the future")
		}
		t := expiresAt.UTC().Truncate(time.Microsecond)
		exp = &t
	}
	random, err := newSecret(secretBytes)
	if err != nil {
		return nil, "", err
	}
	secret := APITokenPrefix + random
	t := &kiln.APIToken{
		UserID:    u.ID,
		Name:      name,
		Prefix:    secret[:apiPrefixLen],
		ExpiresAt: exp,
	}
	if err := s.store.CreateAPIToken(ctx, t, HashToken(secret)); err != nil {
		return nil, "", fmt.Errorf("create api token: %w", err)
	}
	s.logger.InfoContext(ctx, "api token created", slog.Int64("user_id", u.ID), slog.Int64("token_id", t.ID))
	return t, secret, nil
}

// FindAPITokens lists the API tokens of the user in ctx, newest first,
// without their secrets. EUnauthorized without a user.
func (s *Service) FindAPITokens(ctx context.Context) ([]*kiln.APIToken, error) {
	u := kiln.UserFromContext(ctx)
	if u == nil {
		return nil, errUnauthorized("authentication required")
	}
	tokens, err := s.store.FindAPITokens(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("find api tokens: %w", err)
	}
	return tokens, nil
}

// RevokeAPIToken deletes one of the API tokens of the user in ctx.
// EUnauthorized without a user, ENotFound when the user has no such token
// (another user's token is not found either).
func (s *Service) RevokeAPIToken(ctx context.Context, id int64) error {
	u := kiln.UserFromContext(ctx)
	if u == nil {
		return errUnauthorized("authentication required")
	}
	if err := s.store.DeleteAPIToken(ctx, u.ID, id); err != nil {
		if isCode(err, kiln.ENotFound) {
			return kiln.Errorf(kiln.ENotFound, "api token %d not found", id)
		}
		return fmt.Errorf("delete api token: %w", err)
	}
	s.logger.InfoContext(ctx, "api token revoked", slog.Int64("user_id", u.ID), slog.Int64("token_id", id))
	return nil
}
