package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	kiln "github.com/kiln-build/kiln"
)

// maxEmailLen bounds stored email addresses (RFC 5321's path limit).
const maxEmailLen = 254

// emailKey is the case-folded email that uniqueness and lookups use, the
// same on both dialects. Text no stored email could match (invalid UTF-8,
// NUL bytes, which PostgreSQL refuses as query arguments) becomes "".
func emailKey(email string) string {
	if !utf8.ValidString(email) || strings.IndexByte(email, 0) >= 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(email))
}

func errUserNotFound() error { return kiln.Errorf(kiln.ENotFound, "user not found") }

// UserService implements kiln.UserService.
type UserService struct {
	db *DB
}

var _ kiln.UserService = (*UserService)(nil)

// NewUserService returns the user service over db.
func NewUserService(db *DB) kiln.UserService { return &UserService{db: db} }

// findUser returns the user matching cond, or ENotFound.
func (db *DB) findUser(ctx context.Context, c conn, cond string, args ...any) (*kiln.User, error) {
	u, err := scanUser(c.row(ctx, "SELECT "+cols("", userColumns...)+" FROM users WHERE "+cond, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUserNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}

// FindUserByID returns the user. ENotFound when absent or, for anyone but
// an admin, when it is not the caller; EUnauthorized without a user.
func (s *UserService) FindUserByID(ctx context.Context, id int64) (*kiln.User, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if id != u.ID && !u.IsAdmin() {
		return nil, errUserNotFound()
	}
	return s.db.findUser(ctx, s.db.read(), "id = ?", id)
}

// FindUsers lists users newest first with the next cursor, optionally the
// one with an email (compared case-insensitively). EForbidden for anyone
// but an admin.
func (s *UserService) FindUsers(ctx context.Context, f kiln.UserFilter) ([]*kiln.User, string, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, "", err
	}
	if !u.IsAdmin() {
		return nil, "", kiln.Errorf(kiln.EForbidden, "only admins may list users")
	}
	cond, args, limit, err := pageClause(f.Page, "id")
	if err != nil {
		return nil, "", err
	}
	if f.Email != nil {
		cond += " AND email_key = ?"
		args = append(args, emailKey(*f.Email))
	}
	rows, err := s.db.read().query(ctx, "SELECT "+cols("", userColumns...)+" FROM users WHERE "+cond+
		" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, "", fmt.Errorf("find users: %w", err)
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, "", fmt.Errorf("find users: %w", err)
	}
	users, next := trimPage(users, f.Page, func(u *kiln.User) int64 { return u.ID })
	return users, next, nil
}

// SetUserRole changes a user's role by email. It is an operator action and
// needs no user in ctx. The role counts as given by hand from then on: the
// OIDC provider's admin group no longer takes it away. EInvalid for an unknown role, ENotFound when no
// user has the email.
func (s *UserService) SetUserRole(ctx context.Context, email string, role kiln.Role) (*kiln.User, error) {
	if role != kiln.RoleUser && role != kiln.RoleAdmin {
		return nil, kiln.FieldErrorf("role", "must be %q or %q", kiln.RoleUser, kiln.RoleAdmin)
	}
	db := s.db
	var u *kiln.User
	err := db.inTx(ctx, func(c conn) error {
		now := db.nowUTC()
		ok, err := c.execOne(ctx, "UPDATE users SET role = ?, admin_from_oidc = ?, updated_at = ? WHERE email_key = ?",
			string(role), false, db.ts(now), emailKey(email))
		if err != nil {
			return fmt.Errorf("set user role: %w", err)
		} else if !ok {
			return errUserNotFound()
		}
		u, err = db.findUser(ctx, c, "email_key = ?", emailKey(email))
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SetNotifications changes the mail settings of the user in ctx and
// returns the user. EUnauthorized without a user.
func (s *UserService) SetNotifications(ctx context.Context, n kiln.Notifications) (*kiln.User, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	db := s.db
	var out *kiln.User
	err = db.inTx(ctx, func(c conn) error {
		ok, err := c.execOne(ctx, "UPDATE users SET notify_build_finished = ?, updated_at = ? WHERE id = ?",
			n.BuildFinished, db.ts(db.nowUTC()), u.ID)
		if err != nil {
			return fmt.Errorf("set notifications: %w", err)
		} else if !ok {
			return errUserNotFound()
		}
		out, err = db.findUser(ctx, c, "id = ?", u.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
