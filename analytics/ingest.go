package analytics

import (
	"context"
	"fmt"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// KeyAuthenticator resolves an ingest key secret; kiln.IngestKeyService
// satisfies it.
type KeyAuthenticator interface {
	AuthenticateIngestKey(ctx context.Context, secret string) (*kiln.IngestKey, error)
}

// Ingester defaults.
const (
	DefaultRateLimit = 5000 // events per second per key
)

// IngesterConfig configures an Ingester.
type IngesterConfig struct {
	Keys      KeyAuthenticator
	Committer *Committer
	Limiter   *Limiter // default: a new one
	// DefaultRateLimit applies to keys without their own (events/s).
	DefaultRateLimit int
	// MaxAge is the oldest event time accepted (default and at most
	// MaxEventAge; less when retention is shorter).
	MaxAge time.Duration
	Now    func() time.Time
}

// Ingester handles ingest requests end to end.
type Ingester struct {
	cfg IngesterConfig
}

// NewIngester returns an Ingester.
func NewIngester(cfg IngesterConfig) *Ingester {
	if cfg.Limiter == nil {
		cfg.Limiter = NewLimiter()
	}
	if cfg.DefaultRateLimit <= 0 {
		cfg.DefaultRateLimit = DefaultRateLimit
	}
	if cfg.MaxAge <= 0 || cfg.MaxAge > kiln.MaxEventAge {
		cfg.MaxAge = kiln.MaxEventAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Ingester{cfg: cfg}
}

// Ingest authenticates the key, reads and validates the body and stores
// the good events, returning once they are committed. Errors:
// EUnauthorized for a bad key; ETooLarge past MaxIngestBytes or
// MaxIngestEvents; a MalformedError for a body that is not JSON or NDJSON;
// ERateLimited (with RetryAfter) past the key's rate; EInvalid, with a
// field per refused event, when no event is valid; EUnavailable when the
// events could not be stored.
func (g *Ingester) Ingest(ctx context.Context, secret string, body []byte, encoding string) (*kiln.IngestResult, error) {
	if secret == "" {
		return nil, kiln.Errorf(kiln.EUnauthorized, "send the app's ingest key as Authorization: Bearer %s… or X-Kiln-App-Key", kiln.IngestKeyPrefix)
	}
	key, err := g.cfg.Keys.AuthenticateIngestKey(ctx, secret)
	if err != nil {
		return nil, err
	}
	now := g.cfg.Now()
	body, err = ReadBody(body, encoding)
	if err != nil {
		return nil, err
	}
	events, rejected, err := Parse(body, now, g.cfg.MaxAge)
	if err != nil {
		return nil, err
	}
	limit := key.RateLimit
	if limit <= 0 {
		limit = g.cfg.DefaultRateLimit
	}
	if ok, wait := g.cfg.Limiter.Allow(key.ID, limit, len(events)+len(rejected), now); !ok {
		return nil, &kiln.Error{Code: kiln.ERateLimited, RetryAfter: wait,
			Message: fmt.Sprintf("ingest key %d is over its rate limit of %d events per second", key.ID, limit)}
	}
	if len(events) == 0 {
		e := &kiln.Error{Code: kiln.EInvalid, Message: fmt.Sprintf("none of the %d events is valid", len(rejected))}
		for _, r := range rejected {
			for _, msg := range r.Errors {
				e.Fields = append(e.Fields, kiln.FieldError{Path: fmt.Sprintf("body[%d]", r.Index), Message: msg})
			}
		}
		return nil, e
	}
	for i := range events {
		events[i].AppID, events[i].KeyID = key.AppID, key.ID
	}
	if err := g.cfg.Committer.Submit(ctx, events); err != nil {
		return nil, err
	}
	if rejected == nil {
		rejected = []kiln.EventRejection{}
	}
	return &kiln.IngestResult{Accepted: len(events), Rejected: rejected}, nil
}
