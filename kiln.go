// Package kiln holds Kiln's domain: the types every part shares, the service
// interfaces the storage, queue and API packages implement or consume, and
// the application error codes. It imports nothing but the standard library.
package kiln

import (
	"context"
	"time"
)

// Version is the Kiln release, set at build time with
// -ldflags "-X github.com/kiln-build/kiln.Version=…".
var Version = "dev"

// Commit is the source revision, set at build time.
var Commit = ""

type contextKey int

const userContextKey contextKey = iota + 1

// NewContextWithUser returns a copy of ctx that carries the authenticated user.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userContextKey, u)
}

// UserFromContext returns the authenticated user, or nil when there is none.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userContextKey).(*User)
	return u
}

// UserIDFromContext returns the authenticated user's id, or 0.
func UserIDFromContext(ctx context.Context) int64 {
	if u := UserFromContext(ctx); u != nil {
		return u.ID
	}
	return 0
}

// Page asks for one page of a list, newest first. Cursor is the opaque
// value a previous page returned in its Next field; Limit is clamped to
// [1, MaxPageLimit] with DefaultPageLimit when zero.
type Page struct {
	Cursor string
	Limit  int
}

// Page limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// NormLimit returns the limit clamped to its allowed range.
func (p Page) NormLimit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// Clock returns the current time; services take one so tests control time.
type Clock func() time.Time

// IdempotencyRecord is the stored outcome of a create request made with an
// Idempotency-Key, replayed when the same key and body come again.
type IdempotencyRecord struct {
	UserID      int64
	Key         string
	RequestHash string
	Status      int
	Body        []byte
	CreatedAt   time.Time
}

// IdempotencyStore keeps IdempotencyRecords.
type IdempotencyStore interface {
	// FindIdempotencyRecord returns the user's record for key. ENotFound.
	FindIdempotencyRecord(ctx context.Context, userID int64, key string) (*IdempotencyRecord, error)
	// CreateIdempotencyRecord stores r. EConflict when the key exists.
	CreateIdempotencyRecord(ctx context.Context, r *IdempotencyRecord) error
	// DeleteIdempotencyRecordsBefore removes records created before t.
	DeleteIdempotencyRecordsBefore(ctx context.Context, t time.Time) error
}
