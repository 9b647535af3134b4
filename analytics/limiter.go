package analytics

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	kiln "github.com/kiln-build/kiln"
)

// maxLimiters bounds how many keys' buckets are kept; past it, buckets
// that have refilled completely (keys idle long enough that forgetting
// them changes nothing) are dropped.
const maxLimiters = 10000

// Limiter enforces each ingest key's rate limit in events per second with
// a token bucket holding one second of events, and at least one full
// request (MaxIngestEvents). It is per process: with several API nodes,
// each allows the full rate. Safe for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	buckets map[int64]*bucket
}

type bucket struct {
	limit int
	rl    *rate.Limiter
}

// NewLimiter returns an empty Limiter.
func NewLimiter() *Limiter { return &Limiter{buckets: map[int64]*bucket{}} }

// Allow takes n events from the key's bucket at now. When the bucket
// lacks them it takes nothing and returns how long until it would have
// them.
func (l *Limiter) Allow(keyID int64, limit, n int, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[keyID]
	if b == nil || b.limit != limit {
		if len(l.buckets) >= maxLimiters {
			l.evict(now)
		}
		b = &bucket{limit: limit, rl: rate.NewLimiter(rate.Limit(limit), max(limit, kiln.MaxIngestEvents))}
		l.buckets[keyID] = b
	}
	r := b.rl.ReserveN(now, n)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict drops the buckets that are full again.
func (l *Limiter) evict(now time.Time) {
	for id, b := range l.buckets {
		if b.rl.TokensAt(now) >= float64(b.rl.Burst()) {
			delete(l.buckets, id)
		}
	}
}
