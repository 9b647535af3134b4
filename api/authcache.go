package api

import (
	"net/http"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// DefaultAuthCacheTTL is how long a resolved bearer credential is reused
// for reads when Config.AuthCacheTTL is zero.
const DefaultAuthCacheTTL = 2 * time.Second

// authCacheMax bounds the credentials the cache holds; when full it starts
// over rather than track recency.
const authCacheMax = 10_000

// authCache remembers, for a few seconds, which user a bearer credential
// resolved to, so a client polling GET endpoints does not cost a user
// lookup per request. It serves only safe methods (GET, HEAD): every
// request that changes something resolves the credential afresh, so a
// just-verified address, a revoked token or a changed role applies to
// writes at once and to reads within the TTL.
type authCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]authEntry
}

type authEntry struct {
	user    *kiln.User
	expires time.Time
}

func newAuthCache(ttl time.Duration) *authCache {
	if ttl == 0 {
		ttl = DefaultAuthCacheTTL
	}
	if ttl < 0 {
		return nil
	}
	return &authCache{ttl: ttl, now: time.Now, entries: make(map[string]authEntry)}
}

// cacheable reports whether a request may use a cached credential.
func (c *authCache) cacheable(r *http.Request) bool {
	return c != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

// get returns the user token resolved to, if it did so within the TTL.
// The user is a copy: handlers cannot change the cached one.
func (c *authCache) get(token string) (*kiln.User, bool) {
	c.mu.Lock()
	e, ok := c.entries[token]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.expires) {
		return nil, false
	}
	u := *e.user
	return &u, true
}

// put remembers that token resolved to u.
func (c *authCache) put(token string, u *kiln.User) {
	cp := *u
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= authCacheMax {
		clear(c.entries)
	}
	c.entries[token] = authEntry{user: &cp, expires: c.now().Add(c.ttl)}
}

// forget drops what token resolved to (a no-op on a nil cache).
func (c *authCache) forget(token string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, token)
}
