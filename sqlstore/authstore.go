package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kiln-build/kiln/auth"

	kiln "github.com/kiln-build/kiln"
)

// apiTokenUseGranularity is how stale an API token's last_used_at may get
// before a use writes it again: it keeps authenticated reads from turning
// into a write each.
const apiTokenUseGranularity = time.Minute

// AuthStore implements auth.Store.
type AuthStore struct {
	db *DB
}

var _ auth.Store = (*AuthStore)(nil)

// NewAuthStore returns the auth service's storage over db.
func NewAuthStore(db *DB) auth.Store { return &AuthStore{db: db} }

// CreateUser inserts u and fills its ID, Role and times. The first user
// ever created becomes an admin, decided inside the insert's transaction;
// the others get u.Role, or RoleUser when it is empty. EConflict when the
// email (case-insensitively) is taken, EInvalid for an empty or overlong
// email or an unknown role.
func (s *AuthStore) CreateUser(ctx context.Context, u *kiln.User) error {
	email, role, err := checkNewUser(u)
	if err != nil {
		return err
	}
	db := s.db
	return db.inTx(ctx, func(c conn) error { return db.insertUser(ctx, c, u, email, role) })
}

// CreateUserWithToken is CreateUser that also stores t for the new user and
// writes t.Mail to the outbox, in the same transaction.
func (s *AuthStore) CreateUserWithToken(ctx context.Context, u *kiln.User, t *auth.OneTimeToken) error {
	email, role, err := checkNewUser(u)
	if err != nil {
		return err
	}
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		if err := db.insertUser(ctx, c, u, email, role); err != nil {
			return err
		}
		return db.insertOneTimeToken(ctx, c, u.ID, t)
	})
}

// checkNewUser returns u's trimmed email and its role (RoleUser when
// empty). EInvalid for an empty or overlong email or an unknown role.
func checkNewUser(u *kiln.User) (string, kiln.Role, error) {
	email := strings.TrimSpace(u.Email)
	if email == "" || len(email) > maxEmailLen {
		return "", "", kiln.FieldErrorf("email", "must be 1 to %d characters", maxEmailLen)
	}
	if err := checkInputText("email", email, maxEmailLen, false); err != nil {
		return "", "", err
	}
	role := u.Role
	switch role {
	case "":
		role = kiln.RoleUser
	case kiln.RoleUser, kiln.RoleAdmin:
	default:
		return "", "", kiln.FieldErrorf("role", "must be %q or %q", kiln.RoleUser, kiln.RoleAdmin)
	}
	return email, role, nil
}

// insertUser inserts u with the checked email and role inside a
// transaction; the first user ever becomes an admin. EConflict when the
// email is taken.
func (db *DB) insertUser(ctx context.Context, c conn, u *kiln.User, email string, role kiln.Role) error {
	if stmt := db.lockUsersStmt(); stmt != "" {
		if _, err := c.exec(ctx, stmt); err != nil {
			return fmt.Errorf("create user: lock: %w", err)
		}
	}
	var first bool
	if err := c.row(ctx, "SELECT NOT EXISTS (SELECT 1 FROM users)").Scan(boolScan{&first}); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if first {
		role = kiln.RoleAdmin
	}
	now := db.nowUTC()
	var id int64
	err := c.row(ctx, `INSERT INTO users (email, email_key, password_hash, email_verified, role, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		email, emailKey(email), u.PasswordHash, u.EmailVerified, string(role), db.ts(now), db.ts(now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return kiln.Errorf(kiln.EConflict, "an account with this email exists already")
	} else if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	u.ID, u.Email, u.Role, u.CreatedAt, u.UpdatedAt = id, email, role, now, now
	u.Notifications = kiln.Notifications{BuildFinished: true}
	return nil
}

// FindUserByEmail returns the user, comparing emails case-insensitively.
// ENotFound.
func (s *AuthStore) FindUserByEmail(ctx context.Context, email string) (*kiln.User, error) {
	return s.db.findUser(ctx, s.db.read(), "email_key = ?", emailKey(email))
}

// FindUserByID returns the user. ENotFound.
func (s *AuthStore) FindUserByID(ctx context.Context, id int64) (*kiln.User, error) {
	return s.db.findUser(ctx, s.db.read(), "id = ?", id)
}

// updateUser sets one column of a user. ENotFound when absent.
func (s *AuthStore) updateUser(ctx context.Context, userID int64, set string, arg any) error {
	db := s.db
	ok, err := db.write().execOne(ctx, "UPDATE users SET "+set+" = ?, updated_at = ? WHERE id = ?",
		arg, db.ts(db.nowUTC()), userID)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	} else if !ok {
		return errUserNotFound()
	}
	return nil
}

// SetEmailVerified marks the user's email verified. ENotFound.
func (s *AuthStore) SetEmailVerified(ctx context.Context, userID int64) error {
	return s.updateUser(ctx, userID, "email_verified", true)
}

// SetPasswordHash replaces the user's password hash. ENotFound.
func (s *AuthStore) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	return s.updateUser(ctx, userID, "password_hash", hash)
}

// CreateOneTimeToken stores a single-use token's hash and writes its mail,
// when set, to the outbox in the same transaction. ENotFound when the user
// does not exist, EConflict when the hash exists already.
func (s *AuthStore) CreateOneTimeToken(ctx context.Context, userID int64, t *auth.OneTimeToken) error {
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		if _, err := db.findUser(ctx, c, "id = ?", userID); err != nil {
			return err
		}
		return db.insertOneTimeToken(ctx, c, userID, t)
	})
}

// insertOneTimeToken stores t for userID inside c's transaction, with its
// mail.
func (db *DB) insertOneTimeToken(ctx context.Context, c conn, userID int64, t *auth.OneTimeToken) error {
	ok, err := c.execOne(ctx, `INSERT INTO one_time_tokens (kind, user_id, hash, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		t.Kind, userID, t.Hash, db.ts(t.ExpiresAt), db.ts(db.nowUTC()))
	if err != nil {
		return fmt.Errorf("create one-time token: %w", err)
	} else if !ok {
		return kiln.Errorf(kiln.EConflict, "token exists already")
	}
	if t.Mail != nil {
		return db.insertMail(ctx, c, userID, t.Mail)
	}
	return nil
}

// ResetPassword consumes a password_reset token, sets the password hash,
// marks the email verified and revokes the user's refresh tokens, in one
// transaction. EInvalid when the token is unknown, used or expired.
func (s *AuthStore) ResetPassword(ctx context.Context, tokenHash, passwordHash string, now time.Time) (int64, error) {
	db := s.db
	var userID int64
	err := db.inTx(ctx, func(c conn) error {
		var err error
		if userID, err = db.consumeOneTimeToken(ctx, c, auth.TokenPasswordReset, tokenHash, now); err != nil {
			return err
		}
		if _, err := c.exec(ctx, "UPDATE users SET password_hash = ?, email_verified = ?, updated_at = ? WHERE id = ?",
			passwordHash, true, db.ts(now), userID); err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		if _, err := db.revokeUserRefreshTokens(ctx, c, userID, now); err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return userID, nil
}

// ConsumeOneTimeToken marks the token used and returns its user in one
// conditional update, so only one caller ever consumes it. EInvalid when
// it is unknown, used, of another kind or expired at now.
func (s *AuthStore) ConsumeOneTimeToken(ctx context.Context, kind, hash string, now time.Time) (int64, error) {
	return s.db.consumeOneTimeToken(ctx, s.db.write(), kind, hash, now)
}

// consumeOneTimeToken is ConsumeOneTimeToken inside c.
func (db *DB) consumeOneTimeToken(ctx context.Context, c conn, kind, hash string, now time.Time) (int64, error) {
	var userID int64
	err := c.row(ctx, `UPDATE one_time_tokens SET used_at = ?
		WHERE hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id`,
		db.ts(now), hash, kind, db.ts(now)).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, kiln.FieldErrorf("token", "is invalid, used or expired")
	} else if err != nil {
		return 0, fmt.Errorf("consume one-time token: %w", err)
	}
	return userID, nil
}

// insertRefreshToken stores t inside c and fills its ID and CreatedAt.
func (db *DB) insertRefreshToken(ctx context.Context, c conn, t *auth.RefreshToken) error {
	now := db.nowUTC()
	err := c.row(ctx, `INSERT INTO refresh_tokens (user_id, family, hash, expires_at, revoked_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		t.UserID, t.Family, t.Hash, db.ts(t.ExpiresAt), db.nts(t.RevokedAt), db.ts(now)).Scan(&t.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return kiln.Errorf(kiln.EConflict, "refresh token exists already")
	} else if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = now, normTime(t.ExpiresAt)
	if t.RevokedAt != nil {
		r := normTime(*t.RevokedAt)
		t.RevokedAt = &r
	}
	return nil
}

// CreateRefreshToken stores a refresh token and fills its ID and
// CreatedAt. ENotFound when the user does not exist, EConflict when the
// hash exists already.
func (s *AuthStore) CreateRefreshToken(ctx context.Context, t *auth.RefreshToken) error {
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		if _, err := db.findUser(ctx, c, "id = ?", t.UserID); err != nil {
			return err
		}
		return db.insertRefreshToken(ctx, c, t)
	})
}

// FindRefreshToken returns the token with the hash, revoked or not. ENotFound.
func (s *AuthStore) FindRefreshToken(ctx context.Context, hash string) (*auth.RefreshToken, error) {
	t := new(auth.RefreshToken)
	err := s.db.read().row(ctx, `SELECT id, user_id, family, hash, expires_at, revoked_at, created_at
		FROM refresh_tokens WHERE hash = ?`, hash).Scan(&t.ID, &t.UserID, &t.Family, &t.Hash,
		timeScan{&t.ExpiresAt}, nullTimeScan{&t.RevokedAt}, timeScan{&t.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.ENotFound, "refresh token not found")
	} else if err != nil {
		return nil, fmt.Errorf("find refresh token: %w", err)
	}
	return t, nil
}

// RotateRefreshToken revokes old, only if it is still unrevoked, and stores
// next, in one transaction. EConflict when old was already revoked (a
// concurrent or replayed refresh), ENotFound when it does not exist.
func (s *AuthStore) RotateRefreshToken(ctx context.Context, oldID int64, next *auth.RefreshToken, now time.Time) error {
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		ok, err := c.execOne(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", db.ts(now), oldID)
		if err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		if !ok {
			var n int
			if err := c.row(ctx, "SELECT count(*) FROM refresh_tokens WHERE id = ?", oldID).Scan(&n); err != nil {
				return fmt.Errorf("rotate refresh token: %w", err)
			} else if n == 0 {
				return kiln.Errorf(kiln.ENotFound, "refresh token not found")
			}
			return kiln.Errorf(kiln.EConflict, "refresh token was already used")
		}
		return db.insertRefreshToken(ctx, c, next)
	})
}

// RevokeRefreshToken revokes one token; one already revoked keeps its
// first revocation time. ENotFound when it does not exist.
func (s *AuthStore) RevokeRefreshToken(ctx context.Context, id int64, now time.Time) error {
	db := s.db
	res, err := db.write().exec(ctx, "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?", db.ts(now), id)
	if err != nil {
		return fmt.Errorf("revoke refresh token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke refresh token: %w", err)
	} else if n == 0 {
		return kiln.Errorf(kiln.ENotFound, "refresh token not found")
	}
	return nil
}

// RevokeRefreshFamily revokes every unrevoked token of a family.
func (s *AuthStore) RevokeRefreshFamily(ctx context.Context, family string, now time.Time) error {
	db := s.db
	if _, err := db.write().exec(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL",
		db.ts(now), family); err != nil {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	return nil
}

// RevokeUserRefreshTokens revokes every live token of a user, ending all
// the user's sessions (the portal's too), and returns how many it revoked.
func (s *AuthStore) RevokeUserRefreshTokens(ctx context.Context, userID int64, now time.Time) (int, error) {
	return s.db.revokeUserRefreshTokens(ctx, s.db.write(), userID, now)
}

// revokeUserRefreshTokens revokes, inside c, the user's tokens that are
// neither revoked nor expired at now and returns how many. It also deletes
// the user's portal sessions: each holds one of those tokens, and without
// its row a browser is logged out at its next request rather than at its
// next refresh.
func (db *DB) revokeUserRefreshTokens(ctx context.Context, c conn, userID int64, now time.Time) (int, error) {
	res, err := c.exec(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
		db.ts(now), userID, db.ts(now))
	if err != nil {
		return 0, fmt.Errorf("revoke user refresh tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke user refresh tokens: %w", err)
	}
	if _, err := c.exec(ctx, "DELETE FROM web_sessions WHERE user_id = ?", userID); err != nil {
		return 0, fmt.Errorf("delete user web sessions: %w", err)
	}
	return int(n), nil
}

// CreateAPIToken stores a token with the secret's hash and fills its ID
// and CreatedAt. EInvalid for an empty or overlong name, ENotFound when
// the user does not exist, EConflict when the hash exists already.
func (s *AuthStore) CreateAPIToken(ctx context.Context, t *kiln.APIToken, hash string) error {
	if strings.TrimSpace(t.Name) == "" {
		return kiln.FieldErrorf("name", "is required")
	}
	if err := checkInputText("name", t.Name, 100, false); err != nil {
		return err
	}
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		if _, err := db.findUser(ctx, c, "id = ?", t.UserID); err != nil {
			return err
		}
		now := db.nowUTC()
		err := c.row(ctx, `INSERT INTO api_tokens (user_id, name, prefix, hash, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
			t.UserID, t.Name, t.Prefix, hash, db.ts(now), db.nts(t.ExpiresAt)).Scan(&t.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return kiln.Errorf(kiln.EConflict, "token exists already")
		} else if err != nil {
			return fmt.Errorf("create api token: %w", err)
		}
		t.CreatedAt, t.LastUsedAt = now, nil
		if t.ExpiresAt != nil {
			e := normTime(*t.ExpiresAt)
			t.ExpiresAt = &e
		}
		return nil
	})
}

// FindAPITokens lists a user's tokens, newest first.
func (s *AuthStore) FindAPITokens(ctx context.Context, userID int64) ([]*kiln.APIToken, error) {
	rows, err := s.db.read().query(ctx, "SELECT "+cols("", apiTokenColumns...)+
		" FROM api_tokens WHERE user_id = ? ORDER BY id DESC", userID)
	if err != nil {
		return nil, fmt.Errorf("find api tokens: %w", err)
	}
	tokens, err := collect(rows, scanAPIToken)
	if err != nil {
		return nil, fmt.Errorf("find api tokens: %w", err)
	}
	return tokens, nil
}

// DeleteAPIToken deletes a user's token. ENotFound when the user has no
// such token.
func (s *AuthStore) DeleteAPIToken(ctx context.Context, userID, id int64) error {
	ok, err := s.db.write().execOne(ctx, "DELETE FROM api_tokens WHERE id = ? AND user_id = ?", id, userID)
	if err != nil {
		return fmt.Errorf("delete api token: %w", err)
	} else if !ok {
		return kiln.Errorf(kiln.ENotFound, "api token %d not found", id)
	}
	return nil
}

// FindUserByAPITokenHash returns the token's user and records its use at
// now (at most once a minute, so reads stay reads). EUnauthorized when the
// token is unknown or expired at now.
func (s *AuthStore) FindUserByAPITokenHash(ctx context.Context, hash string, now time.Time) (*kiln.User, error) {
	db := s.db
	var tokenID int64
	var lastUsed *time.Time
	row := db.read().row(ctx, "SELECT "+cols("u", userColumns...)+`, t.id, t.last_used_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)`, hash, db.ts(now))
	u, err := scanUser(extraScanner{row, []any{&tokenID, nullTimeScan{&lastUsed}}})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.EUnauthorized, "invalid or expired API token")
	} else if err != nil {
		return nil, fmt.Errorf("find user by api token: %w", err)
	}
	if lastUsed == nil || now.Sub(*lastUsed) >= apiTokenUseGranularity {
		if _, err := db.write().exec(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", db.ts(now), tokenID); err != nil {
			return nil, fmt.Errorf("record api token use: %w", err)
		}
	}
	return u, nil
}
