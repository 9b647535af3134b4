package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
)

// NormalizeEmail trims and lowercases an address, the form accounts are
// stored and looked up in.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// validateEmail checks a normalized address: a bare addr-spec (no display
// name, no angle brackets) of at most 254 bytes with a dotted domain.
func validateEmail(email string) *kiln.FieldError {
	fail := func(msg string) *kiln.FieldError { return &kiln.FieldError{Path: "email", Message: msg} }
	if email == "" {
		return fail("is required")
	}
	if len(email) > maxEmailLen {
		return fail(fmt.Sprintf("must be at most %d characters", maxEmailLen))
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return fail("is not a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	if domain := email[at+1:]; !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
		return fail("must have a domain such as example.com")
	}
	return nil
}

// validatePassword checks length in characters and that it is UTF-8.
func (s *Service) validatePassword(password string) *kiln.FieldError {
	fail := func(msg string) *kiln.FieldError { return &kiln.FieldError{Path: "password", Message: msg} }
	if !utf8.ValidString(password) {
		return fail("must be valid UTF-8 text")
	}
	switch n := utf8.RuneCountInString(password); {
	case n < s.cfg.MinPasswordLen:
		return fail(fmt.Sprintf("must be at least %d characters", s.cfg.MinPasswordLen))
	case n > MaxPasswordLen:
		return fail(fmt.Sprintf("must be at most %d characters", MaxPasswordLen))
	}
	return nil
}

// Signup creates a user with the normalized email and writes the
// verification mail to the outbox in the same transaction; the outbox
// delivers it with retries. EInvalid (Fields "email", "password")
// for a bad email or password, EConflict when the email is taken.
func (s *Service) Signup(ctx context.Context, email, password string) (*kiln.User, error) {
	email = NormalizeEmail(email)
	var fields []kiln.FieldError
	if fe := validateEmail(email); fe != nil {
		fields = append(fields, *fe)
	}
	if fe := s.validatePassword(password); fe != nil {
		fields = append(fields, *fe)
	}
	if len(fields) > 0 {
		return nil, &kiln.Error{Code: kiln.EInvalid, Message: "invalid signup", Fields: fields}
	}

	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	u := &kiln.User{Email: email, PasswordHash: hash, Role: kiln.RoleUser}
	tok, err := s.verifyToken(email)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateUserWithToken(ctx, u, tok); err != nil {
		if isCode(err, kiln.EConflict) {
			return nil, &kiln.Error{Code: kiln.EConflict, Message: "an account with this email already exists",
				Fields: []kiln.FieldError{{Path: "email", Message: "is already registered"}}}
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	s.logger.InfoContext(ctx, "user signed up", slog.Int64("user_id", u.ID), slog.String("role", string(u.Role)),
		slog.String("message_id", tok.Mail.ID))
	return u, nil
}

// verifyToken returns a new verify_email token for email with the mail
// carrying its link.
func (s *Service) verifyToken(email string) (*OneTimeToken, error) {
	return s.mailToken(TokenVerifyEmail, "/verify-email", s.cfg.VerifyTTL, s.cfg.Templates.VerifyEmail, email)
}

// mailToken returns a new one-time token of kind, valid for ttl, with the
// mail to the address that carries its link (BaseURL+path?token=SECRET),
// rendered by render.
func (s *Service) mailToken(kind, path string, ttl time.Duration, render func(to, link string, ttl time.Duration) (*kiln.Mail, error), to string) (*OneTimeToken, error) {
	secret, err := newSecret(secretBytes)
	if err != nil {
		return nil, err
	}
	m, err := render(to, s.cfg.BaseURL+path+"?token="+url.QueryEscape(secret), ttl)
	if err != nil {
		return nil, fmt.Errorf("render %s mail: %w", kind, err)
	}
	return &OneTimeToken{Kind: kind, Hash: HashToken(secret), ExpiresAt: s.now().Add(ttl), Mail: m}, nil
}

// VerifyEmail consumes a verification token and marks its user's email
// verified, returning the user. EInvalid when the token is unknown, used
// or expired.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*kiln.User, error) {
	errBad := kiln.Errorf(kiln.EInvalid, "the verification link is invalid or has expired")
	if token == "" || len(token) > maxOpaqueLen {
		return nil, errBad
	}
	userID, err := s.store.ConsumeOneTimeToken(ctx, TokenVerifyEmail, HashToken(token), s.now())
	if err != nil {
		if isCode(err, kiln.EInvalid) || isCode(err, kiln.ENotFound) {
			return nil, errBad
		}
		return nil, fmt.Errorf("consume verify token: %w", err)
	}
	if err := s.store.SetEmailVerified(ctx, userID); err != nil {
		return nil, fmt.Errorf("set email verified: %w", err)
	}
	u, err := s.store.FindUserByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("find verified user: %w", err)
	}
	s.logger.InfoContext(ctx, "email verified", slog.Int64("user_id", u.ID))
	return u, nil
}

// ResendVerification writes a new verification mail for the user in ctx to
// the outbox; earlier links stay valid until they expire. EUnauthorized
// without a user, EConflict when the email is already verified,
// ERateLimited past ResendMax mails in ResendWindow.
func (s *Service) ResendVerification(ctx context.Context) error {
	cu := kiln.UserFromContext(ctx)
	if cu == nil {
		return errUnauthorized("authentication required")
	}
	// The user in ctx may be stale: read the current state.
	u, err := s.store.FindUserByID(ctx, cu.ID)
	if err != nil {
		if isCode(err, kiln.ENotFound) {
			return errUnauthorized("authentication required")
		}
		return fmt.Errorf("find user: %w", err)
	}
	if u.EmailVerified {
		return kiln.Errorf(kiln.EConflict, "the email address is already verified")
	}
	key, now := strconv.FormatInt(u.ID, 10), s.now()
	if wait := s.resendLimiter.retryAfter(key, now); wait > 0 {
		return rateLimited("too many verification mails, try again later", wait)
	}
	s.resendLimiter.fail(key, now)
	tok, err := s.verifyToken(u.Email)
	if err != nil {
		return err
	}
	if err := s.store.CreateOneTimeToken(ctx, u.ID, tok); err != nil {
		return fmt.Errorf("create verify token: %w", err)
	}
	s.logger.InfoContext(ctx, "verification mail queued", slog.Int64("user_id", u.ID), slog.String("message_id", tok.Mail.ID))
	return nil
}
