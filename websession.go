package kiln

import (
	"context"
	"time"
)

// WebSession is a browser's login to the web portal. The browser holds a
// random secret in a cookie; the store keys the session by a hash of that
// secret and keeps the user's API tokens only as Data, sealed with a key
// derived from the secret, so neither a copy of the database nor a copy of
// the cookie alone yields a usable credential.
type WebSession struct {
	ID        string    // hex SHA-256 of the cookie secret
	UserID    int64     // whose session it is
	Data      []byte    // sealed tokens and display data; opaque to the store
	CreatedAt time.Time // when the user logged in
	UpdatedAt time.Time // when Data last changed (a token refresh)
	ExpiresAt time.Time // after this the session is gone
}

// WebSessionStore keeps portal sessions.
type WebSessionStore interface {
	// CreateWebSession stores a new session. EConflict when the id exists.
	CreateWebSession(ctx context.Context, s *WebSession) error

	// FindWebSession returns a session that has not expired at now.
	// ENotFound otherwise.
	FindWebSession(ctx context.Context, id string, now time.Time) (*WebSession, error)

	// UpdateWebSession replaces a session's Data and ExpiresAt. ENotFound
	// when it is gone.
	UpdateWebSession(ctx context.Context, id string, data []byte, expiresAt time.Time) error

	// DeleteWebSession removes a session; an unknown id is not an error.
	DeleteWebSession(ctx context.Context, id string) error

	// DeleteExpiredWebSessions removes sessions that expired before t and
	// returns how many.
	DeleteExpiredWebSessions(ctx context.Context, t time.Time) (int64, error)
}
