package auth

import (
	"context"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// Token kinds for single-use tokens.
const (
	TokenVerifyEmail   = "verify_email"
	TokenPasswordReset = "password_reset"
)

// OneTimeToken is a single-use token to store (only its hash) with the
// mail that carries its secret.
type OneTimeToken struct {
	Kind      string
	Hash      string
	ExpiresAt time.Time
	// Mail, when not nil, is written to the mail outbox in the same
	// transaction as the token; its ID is filled in.
	Mail *kiln.Mail
}

// RefreshToken is a stored refresh token (only its hash). Tokens rotated
// from one login share a Family so reuse of an old one revokes them all.
type RefreshToken struct {
	ID        int64
	UserID    int64
	Family    string
	Hash      string
	ExpiresAt time.Time
	RevokedAt *time.Time
	CreatedAt time.Time
}

// Store is the storage the auth service needs; sqlstore implements it. No
// method looks at the user in ctx: the service decides who may do what.
type Store interface {
	KeyStore
	IdentityStore

	// CreateUser inserts u (with PasswordHash set) and fills ID and times.
	// The first user ever created gets RoleAdmin, decided atomically.
	// EConflict when the email (compared case-insensitively) is taken.
	CreateUser(ctx context.Context, u *kiln.User) error

	// FindUserByEmail returns the user, case-insensitively. ENotFound.
	FindUserByEmail(ctx context.Context, email string) (*kiln.User, error)

	// FindUserByID returns the user. ENotFound.
	FindUserByID(ctx context.Context, id int64) (*kiln.User, error)

	// CreateUserWithToken is CreateUser that also stores a single-use
	// token for the new user and writes its mail to the outbox, all in one
	// transaction: signup never leaves a user without the verification
	// mail queued.
	CreateUserWithToken(ctx context.Context, u *kiln.User, t *OneTimeToken) error

	// SetEmailVerified marks the user's email verified.
	SetEmailVerified(ctx context.Context, userID int64) error

	// SetPasswordHash replaces the user's password hash.
	SetPasswordHash(ctx context.Context, userID int64, hash string) error

	// CreateOneTimeToken stores a single-use token's hash and writes its
	// mail, when set, to the outbox in the same transaction. ENotFound
	// when the user does not exist.
	CreateOneTimeToken(ctx context.Context, userID int64, t *OneTimeToken) error

	// ConsumeOneTimeToken marks the token used and returns its user, in one
	// step so it can be used only once. EInvalid when it is unknown, used,
	// of another kind or expired at now.
	ConsumeOneTimeToken(ctx context.Context, kind, hash string, now time.Time) (userID int64, err error)

	// ResetPassword consumes a password_reset token, sets the user's
	// password hash, marks the email verified (the link proved it) and
	// revokes all the user's refresh tokens, in one transaction. EInvalid
	// when the token is unknown, used or expired at now.
	ResetPassword(ctx context.Context, tokenHash, passwordHash string, now time.Time) (userID int64, err error)

	// CreateRefreshToken stores a refresh token and fills its ID.
	CreateRefreshToken(ctx context.Context, t *RefreshToken) error

	// FindRefreshToken returns the token with the hash, revoked or not.
	// ENotFound.
	FindRefreshToken(ctx context.Context, hash string) (*RefreshToken, error)

	// RotateRefreshToken revokes old (only if it is still unrevoked) and
	// stores next, atomically. EConflict when old was already revoked —
	// a concurrent or replayed refresh.
	RotateRefreshToken(ctx context.Context, oldID int64, next *RefreshToken, now time.Time) error

	// RevokeRefreshToken revokes one token; RevokeRefreshFamily every token
	// of a family.
	RevokeRefreshToken(ctx context.Context, id int64, now time.Time) error
	RevokeRefreshFamily(ctx context.Context, family string, now time.Time) error

	// RevokeUserRefreshTokens revokes every token of a user that is not
	// revoked or expired at now, ending all the user's sessions, and
	// returns how many it revoked.
	RevokeUserRefreshTokens(ctx context.Context, userID int64, now time.Time) (int, error)

	// CreateAPIToken stores a token (with the secret's hash) and fills ID
	// and CreatedAt.
	CreateAPIToken(ctx context.Context, t *kiln.APIToken, hash string) error

	// FindAPITokens lists a user's tokens, newest first.
	FindAPITokens(ctx context.Context, userID int64) ([]*kiln.APIToken, error)

	// DeleteAPIToken deletes a user's token. ENotFound when the user has
	// no such token.
	DeleteAPIToken(ctx context.Context, userID, id int64) error

	// FindUserByAPITokenHash returns the token's user and records its use
	// at now. EUnauthorized when unknown or expired at now.
	FindUserByAPITokenHash(ctx context.Context, hash string, now time.Time) (*kiln.User, error)
}
