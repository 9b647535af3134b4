package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

// FindSigningKeys returns the keys that verify tokens at now (retires_at
// unset or later), newest first.
func (s *AuthStore) FindSigningKeys(ctx context.Context, now time.Time) ([]*auth.SigningKey, error) {
	db := s.db
	rows, err := db.read().query(ctx, `SELECT kid, alg, public_key, private_key, is_current IS NOT NULL, created_at, retires_at
		FROM signing_keys WHERE retires_at IS NULL OR retires_at > ? ORDER BY created_at DESC, kid`, db.ts(normTime(now)))
	if err != nil {
		return nil, fmt.Errorf("find signing keys: %w", err)
	}
	defer rows.Close()
	var out []*auth.SigningKey
	for rows.Next() {
		k := new(auth.SigningKey)
		// is_current is true or NULL (a CHECK allows no false), so that
		// at most one row is current under the unique index.
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.Public, &k.Sealed, boolScan{&k.Current}, timeScan{&k.CreatedAt}, nullTimeScan{&k.RetiresAt}); err != nil {
			return nil, fmt.Errorf("scan signing key: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find signing keys: %w", err)
	}
	return out, nil
}

// CreateSigningKey stores k as the current key. EConflict when a current
// key exists or the kid is taken.
func (s *AuthStore) CreateSigningKey(ctx context.Context, k *auth.SigningKey) error {
	db := s.db
	return db.inTx(ctx, func(c conn) error { return db.insertSigningKey(ctx, c, k) })
}

func (db *DB) insertSigningKey(ctx context.Context, c conn, k *auth.SigningKey) error {
	ok, err := c.execOne(ctx, `INSERT INTO signing_keys (kid, alg, public_key, private_key, is_current, created_at, retires_at)
		VALUES (?, ?, ?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING`,
		k.ID, k.Algorithm, k.Public, k.Sealed, true, db.ts(normTime(k.CreatedAt)))
	if err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	} else if !ok {
		return kiln.Errorf(kiln.EConflict, "a current signing key exists already")
	}
	k.Current, k.RetiresAt = true, nil
	return nil
}

// RotateSigningKey makes next the current key: the current one verifies
// until previousUntil, older keys that still verify retire at now.
func (s *AuthStore) RotateSigningKey(ctx context.Context, next *auth.SigningKey, now, previousUntil time.Time) error {
	db := s.db
	now, previousUntil = normTime(now), normTime(previousUntil)
	return db.inTx(ctx, func(c conn) error {
		// Lock the current row so two rotations run one after the other.
		var kid string
		err := c.row(ctx, "SELECT kid FROM signing_keys WHERE is_current IS NOT NULL"+db.forUpdate()).Scan(&kid)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lock current signing key: %w", err)
		}
		if _, err := c.exec(ctx, `UPDATE signing_keys SET retires_at = ?
			WHERE is_current IS NULL AND (retires_at IS NULL OR retires_at > ?)`, db.ts(now), db.ts(now)); err != nil {
			return fmt.Errorf("retire old signing keys: %w", err)
		}
		if _, err := c.exec(ctx, `UPDATE signing_keys SET is_current = NULL, retires_at = ? WHERE is_current IS NOT NULL`,
			db.ts(previousUntil)); err != nil {
			return fmt.Errorf("retire current signing key: %w", err)
		}
		return db.insertSigningKey(ctx, c, next)
	})
}
