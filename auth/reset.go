package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// RequestPasswordReset writes a password reset mail with a single-use link
// (valid ResetTTL) to the outbox when an account has the email. The
// answer is nil whether or not it exists, and takes at least ResetMinTime
// either way, so neither tells. EInvalid for input that cannot be an
// email, ERateLimited past ResetMax requests for the address in
// ResetWindow (counted for unknown addresses too).
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	start := time.Now()
	err := s.requestPasswordReset(ctx, email)
	if wait := s.cfg.ResetMinTime - time.Since(start); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return err
}

func (s *Service) requestPasswordReset(ctx context.Context, email string) error {
	email = NormalizeEmail(email)
	if fe := validateEmail(email); fe != nil {
		return &kiln.Error{Code: kiln.EInvalid, Message: "invalid password reset request", Fields: []kiln.FieldError{*fe}}
	}
	now := s.now()
	if wait := s.resetLimiter.retryAfter(email, now); wait > 0 {
		return rateLimited("too many password reset requests for this address, try again later", wait)
	}
	s.resetLimiter.fail(email, now)
	u, err := s.store.FindUserByEmail(ctx, email)
	if isCode(err, kiln.ENotFound) {
		s.logger.InfoContext(ctx, "password reset for unknown email")
		return nil
	} else if err != nil {
		return fmt.Errorf("find user: %w", err)
	}
	tok, err := s.mailToken(TokenPasswordReset, "/reset-password", s.cfg.ResetTTL, s.cfg.Templates.PasswordReset, u.Email)
	if err != nil {
		return err
	}
	if err := s.store.CreateOneTimeToken(ctx, u.ID, tok); err != nil {
		return fmt.Errorf("create reset token: %w", err)
	}
	s.logger.InfoContext(ctx, "password reset mail queued", slog.Int64("user_id", u.ID), slog.String("message_id", tok.Mail.ID))
	return nil
}

// ResetPassword consumes a reset token and sets the new password; the
// user's refresh tokens are revoked with it, ending every session. EInvalid
// (field "token") when the token is unknown, used or expired, (field
// "password") for a weak password — checked first, so a weak password does
// not use the token up.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	if fe := s.validatePassword(newPassword); fe != nil {
		return &kiln.Error{Code: kiln.EInvalid, Message: "invalid new password", Fields: []kiln.FieldError{*fe}}
	}
	errBad := &kiln.Error{Code: kiln.EInvalid, Message: "the password reset link is invalid or has expired",
		Fields: []kiln.FieldError{{Path: "token", Message: "is invalid, used or expired"}}}
	if token == "" || len(token) > maxOpaqueLen {
		return errBad
	}
	hash, err := s.hasher.hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	userID, err := s.store.ResetPassword(ctx, HashToken(token), hash, s.now())
	if err != nil {
		if isCode(err, kiln.EInvalid) || isCode(err, kiln.ENotFound) {
			return errBad
		}
		return fmt.Errorf("reset password: %w", err)
	}
	s.logger.InfoContext(ctx, "password reset", slog.Int64("user_id", userID))
	return nil
}
