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

// Limits of ingested events, checked per event.
const (
	MaxEventNameLen    = 100
	MaxEventIDLen      = 128 // user_id and session_id
	MaxEventProperties = 32
	MaxPropertyKeyLen  = 64
	MaxPropertyLen     = 256 // a string property's value, in characters
	// MaxEventFuture and MaxEventAge bound an event's timestamp around the
	// time Kiln receives it.
	MaxEventFuture = 24 * time.Hour
	MaxEventAge    = 30 * 24 * time.Hour
)

// Limits of one ingest request.
const (
	MaxIngestEvents = 1000
	MaxIngestBytes  = 1 << 20 // before and after gzip decompression
)

// Event is one thing that happened in an app: a request served, a signup, a
// purchase. Properties are flat: each value is a string, a float64 or a
// bool.
type Event struct {
	AppID      int64          `json:"-"`
	KeyID      int64          `json:"-"`
	Name       string         `json:"name"`
	Time       time.Time      `json:"timestamp"`
	UserID     string         `json:"user_id,omitempty"`
	SessionID  string         `json:"session_id,omitempty"`
	Value      *float64       `json:"value,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
	// PropertiesJSON, when set, is Properties already encoded as a JSON
	// object (as it arrived), which the store keeps instead of encoding
	// Properties again.
	PropertiesJSON []byte `json:"-"`
}

// Interval is the width of a summary's buckets.
type Interval string

// Intervals of summaries, each also a rollup granularity.
const (
	IntervalMinute Interval = "minute"
	IntervalHour   Interval = "hour"
	IntervalDay    Interval = "day"
)

// Duration returns the interval's length, or 0 for an unknown one.
func (i Interval) Duration() time.Duration {
	switch i {
	case IntervalMinute:
		return time.Minute
	case IntervalHour:
		return time.Hour
	case IntervalDay:
		return 24 * time.Hour
	}
	return 0
}

// MaxSummaryPoints bounds the buckets of one summary.
const MaxSummaryPoints = 2000

// SummaryQuery selects what AnalyticsService.Summary reports: events in
// [From, To) in buckets of Interval, of one event name or all.
type SummaryQuery struct {
	From, To time.Time
	Interval Interval
	Event    string // "" for every event
	// Top is how many top events and values per property to list
	// (default 10).
	Top int
}

// Stats summarize a set of events.
type Stats struct {
	Count int64 `json:"count"`
	// Users is the number of distinct user ids: exact up to 512, within a
	// few percent beyond.
	Users int64 `json:"users"`
	// Values counts the events that carried a value; the rest describe
	// those values. Percentiles are within 1% of the true value.
	Values int64    `json:"values"`
	Sum    float64  `json:"sum"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
	P50    *float64 `json:"p50,omitempty"`
	P90    *float64 `json:"p90,omitempty"`
	P99    *float64 `json:"p99,omitempty"`
}

// Point is one bucket of a summary's series.
type Point struct {
	Time time.Time `json:"time"`
	Stats
}

// NameCount is an event name with how often it happened.
type NameCount struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// PropertyValues lists a property's most frequent values.
type PropertyValues struct {
	Key   string `json:"key"`
	Count int64  `json:"count" doc:"Events carrying the property."`
	// Other counts the events whose value is not listed.
	Other  int64        `json:"other"`
	Values []ValueCount `json:"values"`
}

// ValueCount is one property value with its count.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Summary is the answer of AnalyticsService.Summary.
type Summary struct {
	AppID    int64     `json:"app_id"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Interval Interval  `json:"interval"`
	Event    string    `json:"event,omitempty"`
	Totals   Stats     `json:"totals"`
	Series   []Point   `json:"series"`
	// TopEvents are the most frequent event names in the range (all of
	// them counted even when Event filters the rest).
	TopEvents     []NameCount      `json:"top_events"`
	TopProperties []PropertyValues `json:"top_properties"`
}

// AnalyticsService answers questions about an app's events.
type AnalyticsService interface {
	// Summary returns the app's events in q's range as a series of buckets
	// with totals, top events and top property values. Only the app's
	// owner may ask: ENotFound for anyone else. EInvalid for a bad range,
	// interval or event name.
	Summary(ctx context.Context, appID int64, q SummaryQuery) (*Summary, error)
}

// IngestResult is the answer to an ingest request whose good events were
// stored.
type IngestResult struct {
	Accepted int              `json:"accepted" doc:"Events stored."`
	Rejected []EventRejection `json:"rejected" doc:"Events refused, by their position in the request."`
}

// EventRejection says why one event of a request was refused.
type EventRejection struct {
	Index  int      `json:"index" doc:"The event's position in the request, from 0 (for NDJSON, among the non-blank lines)."`
	Errors []string `json:"errors" doc:"Each problem, naming the field."`
}
