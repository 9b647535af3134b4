package kiln

import (
	"context"
	"time"
)

// IngestKeyPrefix starts every ingest key secret, so a key pasted in the
// wrong place is recognizable and the API can tell it from a user's token.
const IngestKeyPrefix = "kiln_ik_"

// Limits of ingest keys.
const (
	MaxIngestKeyNameLen = 64
	MaxIngestKeysPerApp = 20
	// MaxIngestRateLimit is the highest per-key rate limit, in events per
	// second.
	MaxIngestRateLimit = 1_000_000
)

// IngestKey lets a generated app send analytics events for one app. Its
// secret is shown once, when it is created or rotated, and stored only as a
// hash.
type IngestKey struct {
	ID     int64  `json:"id"`
	AppID  int64  `json:"app_id"`
	Name   string `json:"name"`
	Prefix string `json:"prefix" doc:"The first characters of the secret, to tell keys apart."`
	// RateLimit is the events per second the key may send; 0 means the
	// server's default (analytics.rate_limit).
	RateLimit  int        `json:"rate_limit" doc:"Events per second the key may send; 0 means the server's default."`
	CreatedAt  time.Time  `json:"created_at"`
	RotatedAt  *time.Time `json:"rotated_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// IngestKeyCreate is the input of IngestKeyService.CreateIngestKey.
type IngestKeyCreate struct {
	Name      string // default "default"
	RateLimit int    // events per second; 0 for the server's default
}

// IngestKeyService manages the ingest keys of the caller's apps. Only an
// app's owner sees or changes its keys: everyone else, admins included,
// gets ENotFound, as for an app that does not exist.
type IngestKeyService interface {
	// CreateIngestKey creates a key and returns it with its secret, which
	// is never retrievable again. EInvalid for a bad name or rate limit,
	// EConflict when the app has MaxIngestKeysPerApp keys.
	CreateIngestKey(ctx context.Context, appID int64, in IngestKeyCreate) (*IngestKey, string, error)

	// FindIngestKeys lists an app's keys, oldest first, without secrets.
	FindIngestKeys(ctx context.Context, appID int64) ([]*IngestKey, error)

	// RotateIngestKey gives a key a new secret and returns it; the old
	// secret is refused from then on. ENotFound for an unknown key.
	RotateIngestKey(ctx context.Context, appID, keyID int64) (*IngestKey, string, error)

	// RevokeIngestKey deletes a key; its secret is refused from then on.
	// ENotFound for an unknown key.
	RevokeIngestKey(ctx context.Context, appID, keyID int64) error

	// AuthenticateIngestKey returns the key a secret belongs to. It needs
	// no user in ctx. EUnauthorized for an unknown, revoked or rotated-away
	// secret.
	AuthenticateIngestKey(ctx context.Context, secret string) (*IngestKey, error)
}
