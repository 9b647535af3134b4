package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// WebSessionStore implements kiln.WebSessionStore.
type WebSessionStore struct {
	db *DB
}

var _ kiln.WebSessionStore = (*WebSessionStore)(nil)

// NewWebSessionStore returns the portal session store over db.
func NewWebSessionStore(db *DB) *WebSessionStore { return &WebSessionStore{db: db} }

// maxWebSessionIDLen bounds session ids (hex SHA-256 is 64).
const maxWebSessionIDLen = 128

func checkWebSessionID(id string) error {
	if id == "" || len(id) > maxWebSessionIDLen {
		return kiln.FieldErrorf("id", "must be 1 to %d bytes", maxWebSessionIDLen)
	}
	return nil
}

// CreateWebSession stores s, setting CreatedAt and UpdatedAt to now when
// zero. EConflict when the id exists; EInvalid for a bad id.
func (s *WebSessionStore) CreateWebSession(ctx context.Context, ws *kiln.WebSession) error {
	if err := checkWebSessionID(ws.ID); err != nil {
		return err
	}
	db := s.db
	now := db.nowUTC()
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = now
	}
	if ws.UpdatedAt.IsZero() {
		ws.UpdatedAt = ws.CreatedAt
	}
	ws.CreatedAt, ws.UpdatedAt, ws.ExpiresAt = normTime(ws.CreatedAt), normTime(ws.UpdatedAt), normTime(ws.ExpiresAt)
	data := ws.Data
	if data == nil {
		data = []byte{}
	}
	ok, err := db.write().execOne(ctx, `INSERT INTO web_sessions (id, user_id, data, created_at, updated_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		ws.ID, ws.UserID, data, db.ts(ws.CreatedAt), db.ts(ws.UpdatedAt), db.ts(ws.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create web session: %w", err)
	} else if !ok {
		return kiln.Errorf(kiln.EConflict, "web session exists")
	}
	return nil
}

// FindWebSession returns the session when it has not expired at now.
// ENotFound otherwise.
func (s *WebSessionStore) FindWebSession(ctx context.Context, id string, now time.Time) (*kiln.WebSession, error) {
	if err := checkWebSessionID(id); err != nil {
		return nil, kiln.Errorf(kiln.ENotFound, "web session not found")
	}
	ws := &kiln.WebSession{ID: id}
	err := s.db.read().row(ctx, `SELECT user_id, data, created_at, updated_at, expires_at FROM web_sessions
		WHERE id = ? AND expires_at > ?`, id, s.db.ts(now)).
		Scan(&ws.UserID, &ws.Data, timeScan{&ws.CreatedAt}, timeScan{&ws.UpdatedAt}, timeScan{&ws.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.ENotFound, "web session not found")
	} else if err != nil {
		return nil, fmt.Errorf("find web session: %w", err)
	}
	return ws, nil
}

// UpdateWebSession replaces a session's data and expiry. ENotFound when it
// is gone.
func (s *WebSessionStore) UpdateWebSession(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	if err := checkWebSessionID(id); err != nil {
		return kiln.Errorf(kiln.ENotFound, "web session not found")
	}
	if data == nil {
		data = []byte{}
	}
	db := s.db
	ok, err := db.write().execOne(ctx, "UPDATE web_sessions SET data = ?, expires_at = ?, updated_at = ? WHERE id = ?",
		data, db.ts(expiresAt), db.ts(db.nowUTC()), id)
	if err != nil {
		return fmt.Errorf("update web session: %w", err)
	} else if !ok {
		return kiln.Errorf(kiln.ENotFound, "web session not found")
	}
	return nil
}

// DeleteWebSession removes a session; an unknown id is not an error.
func (s *WebSessionStore) DeleteWebSession(ctx context.Context, id string) error {
	if _, err := s.db.write().exec(ctx, "DELETE FROM web_sessions WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteExpiredWebSessions removes sessions that expired before t.
func (s *WebSessionStore) DeleteExpiredWebSessions(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.db.write().exec(ctx, "DELETE FROM web_sessions WHERE expires_at < ?", s.db.ts(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return n, nil
}
