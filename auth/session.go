package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// msgBadLogin is the answer to every failed login, whether the email is
// unknown or the password wrong.
const msgBadLogin = "invalid email or password"

// Login checks the email and password and opens a session.
// EUnauthorized for an unknown email or a wrong password alike (an unknown
// email costs the same hash as a known one), ERateLimited with RetryAfter
// when the account or the IP failed too often in the last LoginWindow —
// checked before the password, and the same for unknown emails.
func (s *Service) Login(ctx context.Context, in kiln.LoginInput) (*kiln.Session, error) {
	email, ip := NormalizeEmail(in.Email), ipKey(in.IP)
	if len(email) > maxEmailLen {
		email = email[:maxEmailLen] // bound the limiter key; such an account cannot exist
	}
	now := s.now()
	wait := s.accountLimiter.retryAfter(email, now)
	if ip != "" {
		wait = max(wait, s.ipLimiter.retryAfter(ip, now))
	}
	if wait > 0 {
		return nil, rateLimited("too many failed logins, try again later", wait)
	}
	fail := func(reason string) error {
		s.accountLimiter.fail(email, now)
		if ip != "" {
			s.ipLimiter.fail(ip, now)
		}
		s.logger.InfoContext(ctx, "login failed", slog.String("reason", reason), slog.String("ip", in.IP))
		return errUnauthorized(msgBadLogin)
	}

	// No account has an empty password or one over MaxPasswordLen
	// characters (4 bytes each at most): refuse those unhashed.
	if n := len(in.Password); n == 0 || n > 4*MaxPasswordLen {
		return nil, fail("bad password length")
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	switch {
	case isCode(err, kiln.ENotFound):
		// Spend the same time as for a real account.
		if _, err := s.hasher.check(ctx, in.Password, ""); err != nil {
			return nil, fmt.Errorf("check dummy password: %w", err)
		}
		return nil, fail("unknown email")
	case err != nil:
		return nil, fmt.Errorf("find user: %w", err)
	}
	ok, err := s.hasher.check(ctx, in.Password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("check password of user %d: %w", u.ID, err)
	}
	if !ok {
		return nil, fail("wrong password")
	}
	s.accountLimiter.reset(email)

	if needsRehash(u.PasswordHash, s.cfg.Argon2) {
		s.rehash(ctx, u, in.Password)
	}
	sess, err := s.newSession(ctx, u, "", now)
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "user logged in", slog.Int64("user_id", u.ID))
	return sess, nil
}

// rehash upgrades u's stored hash to the current parameters. A failure
// only costs the upgrade, so it is logged.
func (s *Service) rehash(ctx context.Context, u *kiln.User, password string) {
	hash, err := s.hasher.hash(ctx, password)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, u.ID, hash)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "upgrade password hash", slog.Int64("user_id", u.ID), slog.Any("error", err))
		return
	}
	u.PasswordHash = hash
}

// newSession issues an access token and a refresh token for u. With
// family == "" it starts a new family (a login).
func (s *Service) newSession(ctx context.Context, u *kiln.User, family string, now time.Time) (*kiln.Session, error) {
	rt, secret, err := s.newRefreshToken(u.ID, family, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateRefreshToken(ctx, rt); err != nil {
		return nil, fmt.Errorf("create refresh token: %w", err)
	}
	return s.sessionFor(ctx, u, rt, secret, now)
}

// newRefreshToken returns an unsaved refresh token and its secret.
func (s *Service) newRefreshToken(userID int64, family string, now time.Time) (*RefreshToken, string, error) {
	if family == "" {
		var err error
		if family, err = newID(familyIDBytes); err != nil {
			return nil, "", err
		}
	}
	secret, err := newSecret(secretBytes)
	if err != nil {
		return nil, "", err
	}
	return &RefreshToken{
		UserID:    userID,
		Family:    family,
		Hash:      HashToken(secret),
		ExpiresAt: now.Add(s.cfg.RefreshTTL),
		CreatedAt: now,
	}, secret, nil
}

// sessionFor signs the access token that goes with a stored refresh token.
func (s *Service) sessionFor(ctx context.Context, u *kiln.User, rt *RefreshToken, secret string, now time.Time) (*kiln.Session, error) {
	exp := now.Add(s.cfg.AccessTTL)
	access, err := s.signAccessToken(ctx, u.ID, now, exp)
	if err != nil {
		return nil, err
	}
	return &kiln.Session{
		User:             u,
		AccessToken:      access,
		AccessExpiresAt:  exp,
		RefreshToken:     secret,
		RefreshExpiresAt: rt.ExpiresAt,
	}, nil
}

// Refresh rotates a refresh token: the presented one is revoked and a new
// session of the same family returned. EUnauthorized for an unknown,
// expired or revoked token; presenting a revoked one (a replay of a
// rotated token, or a race with another refresh) also revokes its whole
// family, ending the session for whoever holds the newest token.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*kiln.Session, error) {
	const msg = "invalid or expired refresh token"
	if refreshToken == "" || len(refreshToken) > maxOpaqueLen {
		return nil, errUnauthorized(msg)
	}
	old, err := s.store.FindRefreshToken(ctx, HashToken(refreshToken))
	if err != nil {
		if isCode(err, kiln.ENotFound) {
			return nil, errUnauthorized(msg)
		}
		return nil, fmt.Errorf("find refresh token: %w", err)
	}
	now := s.now()
	if old.RevokedAt != nil {
		return nil, s.revokeReused(ctx, old, now)
	}
	if !now.Before(old.ExpiresAt) {
		return nil, errUnauthorized(msg)
	}
	u, err := s.store.FindUserByID(ctx, old.UserID)
	if err != nil {
		if isCode(err, kiln.ENotFound) {
			return nil, errUnauthorized(msg)
		}
		return nil, fmt.Errorf("find user: %w", err)
	}
	next, secret, err := s.newRefreshToken(u.ID, old.Family, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.RotateRefreshToken(ctx, old.ID, next, now); err != nil {
		if isCode(err, kiln.EConflict) {
			return nil, s.revokeReused(ctx, old, now)
		}
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	return s.sessionFor(ctx, u, next, secret, now)
}

// revokeReused revokes the family of a token presented after its
// revocation and returns the EUnauthorized to answer with.
func (s *Service) revokeReused(ctx context.Context, rt *RefreshToken, now time.Time) error {
	s.logger.WarnContext(ctx, "revoked refresh token reused, revoking its family",
		slog.Int64("user_id", rt.UserID), slog.String("family", rt.Family))
	if err := s.store.RevokeRefreshFamily(ctx, rt.Family, now); err != nil {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	return errUnauthorized("refresh token was already used; please log in again")
}

// Logout ends the session of a refresh token by revoking its family.
// Unknown and already revoked tokens are not an error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	if refreshToken == "" || len(refreshToken) > maxOpaqueLen {
		return nil
	}
	rt, err := s.store.FindRefreshToken(ctx, HashToken(refreshToken))
	if err != nil {
		if isCode(err, kiln.ENotFound) {
			return nil
		}
		return fmt.Errorf("find refresh token: %w", err)
	}
	if err := s.store.RevokeRefreshFamily(ctx, rt.Family, s.now()); err != nil {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	s.logger.InfoContext(ctx, "user logged out", slog.Int64("user_id", rt.UserID))
	return nil
}

// RevokeUserSessions ends every session of a user (admins only): the
// user's live refresh tokens are revoked and the user's portal sessions
// deleted, so the portal logs the user out at once and the CLI cannot
// refresh. Access tokens already issued keep working until they expire
// (AccessTTL); API tokens
// are not touched. It returns the user and how many sessions ended.
// EUnauthorized without a user, EForbidden for non-admins, ENotFound for
// an unknown user.
func (s *Service) RevokeUserSessions(ctx context.Context, userID int64) (*kiln.User, int, error) {
	if err := requireAdmin(ctx, "end other users' sessions"); err != nil {
		return nil, 0, err
	}
	u, err := s.store.FindUserByID(ctx, userID)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.store.RevokeUserRefreshTokens(ctx, u.ID, s.now())
	if err != nil {
		return nil, 0, fmt.Errorf("revoke user sessions: %w", err)
	}
	s.logger.WarnContext(ctx, "admin ended user's sessions", slog.Int64("admin_id", kiln.UserFromContext(ctx).ID),
		slog.Int64("user_id", u.ID), slog.Int("sessions", n))
	return u, n, nil
}

// Authenticate resolves a bearer credential to its user: an API token when
// it starts with APITokenPrefix, else an access JWT. The user is read
// from the store, so a deleted user fails. EUnauthorized when the
// credential is malformed, invalid or expired.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*kiln.User, error) {
	const msg = "invalid or expired credentials"
	if bearer == "" || len(bearer) > maxBearerLen {
		return nil, errUnauthorized(msg)
	}
	if strings.HasPrefix(bearer, APITokenPrefix) {
		if !isAPITokenShape(bearer) {
			return nil, errUnauthorized(msg)
		}
		u, err := s.store.FindUserByAPITokenHash(ctx, HashToken(bearer), s.now())
		if err != nil {
			if isCode(err, kiln.EUnauthorized) || isCode(err, kiln.ENotFound) {
				return nil, errUnauthorized(msg)
			}
			return nil, fmt.Errorf("find user by api token: %w", err)
		}
		return u, nil
	}
	if s.oidc != nil && s.oidc.owns(bearer) {
		u, err := s.oidc.authenticate(ctx, bearer)
		if err != nil {
			if isCode(err, kiln.EUnavailable) || isCode(err, kiln.EForbidden) || isCode(err, kiln.EConflict) {
				return nil, err
			}
			s.logger.DebugContext(ctx, "provider access token refused", slog.Any("error", err))
			return nil, errUnauthorized(msg)
		}
		return u, nil
	}
	userID, err := s.parseAccessToken(ctx, bearer)
	if err != nil {
		s.logger.DebugContext(ctx, "access token refused", slog.Any("error", err))
		return nil, errUnauthorized(msg)
	}
	u, err := s.store.FindUserByID(ctx, userID)
	if err != nil {
		if isCode(err, kiln.ENotFound) {
			return nil, errUnauthorized(msg)
		}
		return nil, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}
