package api

import (
	"net/http/httptest"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
)

func TestAuthCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newAuthCache(2 * time.Second)
	c.now = func() time.Time { return now }

	for _, m := range []string{"GET", "HEAD"} {
		if !c.cacheable(httptest.NewRequest(m, "/v1/me", nil)) {
			t.Errorf("%s not cacheable", m)
		}
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if c.cacheable(httptest.NewRequest(m, "/v1/apps", nil)) {
			t.Errorf("%s cacheable: writes must resolve credentials afresh", m)
		}
	}

	if _, ok := c.get("tok"); ok {
		t.Fatal("hit on an empty cache")
	}
	u := &kiln.User{ID: 7, Email: "a@example.com"}
	c.put("tok", u)
	u.Role = kiln.RoleAdmin // the caller's later changes do not reach the cache
	got, ok := c.get("tok")
	if !ok || got.ID != 7 || got.Role == kiln.RoleAdmin {
		t.Fatalf("get = %+v, %v", got, ok)
	}
	got.Email = "changed" // nor do a handler's changes
	if again, _ := c.get("tok"); again.Email != "a@example.com" {
		t.Fatalf("cached user changed through a returned copy: %+v", again)
	}
	if _, ok := c.get("other"); ok {
		t.Fatal("hit for another token")
	}

	now = now.Add(2 * time.Second)
	if _, ok := c.get("tok"); ok {
		t.Fatal("hit after the TTL")
	}

	if newAuthCache(-1) != nil || newAuthCache(-1).cacheable(httptest.NewRequest("GET", "/", nil)) {
		t.Fatal("a negative TTL must turn the cache off")
	}
	if c := newAuthCache(0); c.ttl != DefaultAuthCacheTTL {
		t.Fatalf("default ttl %v", c.ttl)
	}
}

func TestAuthCacheBounded(t *testing.T) {
	t.Parallel()
	c := newAuthCache(time.Minute)
	for i := range authCacheMax + 10 {
		c.put(string(rune(i)), &kiln.User{ID: int64(i)})
	}
	if n := len(c.entries); n > authCacheMax {
		t.Fatalf("%d entries, bound %d", n, authCacheMax)
	}
}
