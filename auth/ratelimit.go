package auth

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// failureLimiter counts failures per key in a sliding window: a key with
// limit failures in the last window is blocked until the oldest of them
// leaves the window. It tracks at most maxKeys keys, dropping expired ones
// first and then the least recently failed, so memory stays bounded under
// a flood of distinct keys. Safe for concurrent use.
type failureLimiter struct {
	limit   int
	window  time.Duration
	maxKeys int

	mu    sync.Mutex
	keys  map[string]*list.Element // of *failureEntry
	order *list.List               // most recently failed at the front
}

type failureEntry struct {
	key   string
	times []time.Time // the last failures, oldest first, at most limit
}

func newFailureLimiter(limit int, window time.Duration, maxKeys int) *failureLimiter {
	return &failureLimiter{
		limit:   limit,
		window:  window,
		maxKeys: maxKeys,
		keys:    make(map[string]*list.Element),
		order:   list.New(),
	}
}

// retryAfter returns how long key stays blocked at now, or 0 when it may try.
func (l *failureLimiter) retryAfter(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	if !ok {
		return 0
	}
	e := el.Value.(*failureEntry)
	l.prune(e, now)
	if len(e.times) < l.limit {
		return 0
	}
	return e.times[0].Add(l.window).Sub(now)
}

// fail records a failure of key at now.
func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.keys[key]
	if ok {
		l.order.MoveToFront(el)
	} else {
		l.evict(now)
		el = l.order.PushFront(&failureEntry{key: key})
		l.keys[key] = el
	}
	e := el.Value.(*failureEntry)
	l.prune(e, now)
	if len(e.times) == l.limit {
		e.times = append(e.times[:0], e.times[1:]...)
	}
	e.times = append(e.times, now)
}

// reset forgets key's failures.
func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.keys[key]; ok {
		l.order.Remove(el)
		delete(l.keys, key)
	}
}

// len returns how many keys are tracked.
func (l *failureLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// prune drops e's failures that left the window.
func (l *failureLimiter) prune(e *failureEntry, now time.Time) {
	cut := 0
	for cut < len(e.times) && !now.Before(e.times[cut].Add(l.window)) {
		cut++
	}
	if cut > 0 {
		e.times = append(e.times[:0], e.times[cut:]...)
	}
}

// evict makes room for one more key: it drops keys whose newest failure
// left the window (they sit at the back), then, if still full, the least
// recently failed key.
func (l *failureLimiter) evict(now time.Time) {
	for back := l.order.Back(); back != nil; back = l.order.Back() {
		e := back.Value.(*failureEntry)
		expired := len(e.times) == 0 || !now.Before(e.times[len(e.times)-1].Add(l.window))
		if !expired && len(l.keys) < l.maxKeys {
			return
		}
		l.order.Remove(back)
		delete(l.keys, e.key)
	}
}

// ipKey returns the rate-limit key for a client address: the address
// itself for IPv4, its /64 network for IPv6 (one host usually owns a whole
// /64), and "" when ip is empty, which is not limited per IP. A port, as in RemoteAddr, is ignored; any other string is its
// own key, cut to 64 bytes.
func ipKey(ip string) string {
	if ip == "" {
		return ""
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		ap, err := netip.ParseAddrPort(ip)
		if err != nil {
			return "raw:" + ip[:min(len(ip), 64)]
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}
