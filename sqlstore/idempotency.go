package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// IdempotencyStore implements kiln.IdempotencyStore.
type IdempotencyStore struct {
	db *DB
}

var _ kiln.IdempotencyStore = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns the idempotency record store over db.
func NewIdempotencyStore(db *DB) kiln.IdempotencyStore { return &IdempotencyStore{db: db} }

// maxIdempotencyKeyLen bounds Idempotency-Key values.
const maxIdempotencyKeyLen = 255

// checkIdempotencyKey refuses keys neither dialect could store or compare.
func checkIdempotencyKey(key string) error {
	if key == "" || len(key) > maxIdempotencyKeyLen {
		return kiln.FieldErrorf("idempotency_key", "must be 1 to %d bytes", maxIdempotencyKeyLen)
	}
	return checkInputText("idempotency_key", key, maxIdempotencyKeyLen, false)
}

// FindIdempotencyRecord returns the user's record for key. ENotFound;
// EInvalid for a key that is empty, too long or not printable UTF-8.
func (s *IdempotencyStore) FindIdempotencyRecord(ctx context.Context, userID int64, key string) (*kiln.IdempotencyRecord, error) {
	if err := checkIdempotencyKey(key); err != nil {
		return nil, err
	}
	r := &kiln.IdempotencyRecord{UserID: userID, Key: key}
	err := s.db.read().row(ctx, `SELECT request_hash, status, body, created_at FROM idempotency_records
		WHERE user_id = ? AND key = ?`, userID, key).Scan(&r.RequestHash, &r.Status, &r.Body, timeScan{&r.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.ENotFound, "idempotency record not found")
	} else if err != nil {
		return nil, fmt.Errorf("find idempotency record: %w", err)
	}
	if r.Body == nil {
		r.Body = []byte{}
	}
	return r, nil
}

// CreateIdempotencyRecord stores r, with CreatedAt set to now when zero.
// EConflict when the user already has a record for the key, EInvalid for a
// bad key.
func (s *IdempotencyStore) CreateIdempotencyRecord(ctx context.Context, r *kiln.IdempotencyRecord) error {
	if err := checkIdempotencyKey(r.Key); err != nil {
		return err
	}
	db := s.db
	if r.CreatedAt.IsZero() {
		r.CreatedAt = db.nowUTC()
	}
	r.CreatedAt = normTime(r.CreatedAt)
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	ok, err := db.write().execOne(ctx, `INSERT INTO idempotency_records (user_id, key, request_hash, status, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.UserID, r.Key, r.RequestHash, r.Status, body, db.ts(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("create idempotency record: %w", err)
	} else if !ok {
		return kiln.Errorf(kiln.EConflict, "a request with this idempotency key was already made")
	}
	return nil
}

// DeleteIdempotencyRecordsBefore removes records created before t.
func (s *IdempotencyStore) DeleteIdempotencyRecordsBefore(ctx context.Context, t time.Time) error {
	if _, err := s.db.write().exec(ctx, "DELETE FROM idempotency_records WHERE created_at < ?", s.db.ts(t)); err != nil {
		return fmt.Errorf("delete idempotency records: %w", err)
	}
	return nil
}
