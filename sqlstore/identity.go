package sqlstore

import (
	"context"
	"fmt"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// maxIdentityLen bounds issuer URLs and subjects.
const maxIdentityLen = 512

func checkIdentity(issuer, subject string) error {
	if issuer == "" || len(issuer) > maxIdentityLen {
		return kiln.FieldErrorf("issuer", "must be 1 to %d bytes", maxIdentityLen)
	}
	if subject == "" || len(subject) > maxIdentityLen {
		return kiln.FieldErrorf("subject", "must be 1 to %d bytes", maxIdentityLen)
	}
	return nil
}

// FindUserByIdentity returns the user linked to the provider's subject.
// ENotFound when none is.
func (s *AuthStore) FindUserByIdentity(ctx context.Context, issuer, subject string) (*kiln.User, error) {
	if err := checkIdentity(issuer, subject); err != nil {
		return nil, err
	}
	db := s.db
	return db.findUser(ctx, db.read(), "id = (SELECT user_id FROM user_identities WHERE issuer = ? AND subject = ?)", issuer, subject)
}

// RecordIdentityLogin sets the identity's last_login_at to now.
func (s *AuthStore) RecordIdentityLogin(ctx context.Context, issuer, subject string, now time.Time) error {
	db := s.db
	if _, err := db.write().exec(ctx, "UPDATE user_identities SET last_login_at = ? WHERE issuer = ? AND subject = ?",
		db.ts(normTime(now)), issuer, subject); err != nil {
		return fmt.Errorf("record identity login: %w", err)
	}
	return nil
}

// CreateUserWithIdentity creates u and links it to the provider's subject
// in one transaction; the first user ever becomes an admin. EConflict when
// the email is taken or the subject linked already.
func (s *AuthStore) CreateUserWithIdentity(ctx context.Context, u *kiln.User, issuer, subject string) error {
	email, role, err := checkNewUser(u)
	if err != nil {
		return err
	}
	if err := checkIdentity(issuer, subject); err != nil {
		return err
	}
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		if err := db.insertUser(ctx, c, u, email, role); err != nil {
			return err
		}
		return db.insertIdentity(ctx, c, u.ID, issuer, subject)
	})
}

// LinkIdentity links an existing user to the provider's subject.
// EConflict when the subject is linked already, ENotFound without the user.
func (s *AuthStore) LinkIdentity(ctx context.Context, userID int64, issuer, subject string) error {
	if err := checkIdentity(issuer, subject); err != nil {
		return err
	}
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		if _, err := db.findUser(ctx, c, "id = ?", userID); err != nil {
			return err
		}
		return db.insertIdentity(ctx, c, userID, issuer, subject)
	})
}

func (db *DB) insertIdentity(ctx context.Context, c conn, userID int64, issuer, subject string) error {
	now := db.ts(db.nowUTC())
	ok, err := c.execOne(ctx, `INSERT INTO user_identities (user_id, issuer, subject, created_at, last_login_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, userID, issuer, subject, now, now)
	if err != nil {
		return fmt.Errorf("insert identity: %w", err)
	} else if !ok {
		return kiln.Errorf(kiln.EConflict, "this identity is linked to an account already")
	}
	return nil
}

// SetAdminFromOIDC gives the user the admin role from the provider's
// admin group (admin true), when the user is no admin yet, or takes back an
// admin role the group gave (admin false); admins made otherwise are left
// alone. Each is one conditional update, so a concurrent grant by hand
// wins. It reports whether the user changed. ENotFound without the user.
func (s *AuthStore) SetAdminFromOIDC(ctx context.Context, userID int64, admin bool) (bool, error) {
	db := s.db
	var changed bool
	err := db.inTx(ctx, func(c conn) error {
		now := db.ts(db.nowUTC())
		var err error
		if admin {
			changed, err = c.execOne(ctx, "UPDATE users SET role = ?, admin_from_oidc = ?, updated_at = ? WHERE id = ? AND role <> ?",
				string(kiln.RoleAdmin), true, now, userID, string(kiln.RoleAdmin))
		} else {
			changed, err = c.execOne(ctx, "UPDATE users SET role = ?, admin_from_oidc = ?, updated_at = ? WHERE id = ? AND role = ? AND admin_from_oidc = ?",
				string(kiln.RoleUser), false, now, userID, string(kiln.RoleAdmin), true)
		}
		if err != nil {
			return fmt.Errorf("set admin from oidc: %w", err)
		}
		if !changed {
			_, err = db.findUser(ctx, c, "id = ?", userID)
		}
		return err
	})
	return changed, err
}
