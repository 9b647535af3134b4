package auth

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

var testParams = Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestPasswordHash(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		h1, err := hashPassword("s3cret password", testParams)
		if err != nil {
			t.Fatal(err)
		}
		h2, _ := hashPassword("s3cret password", testParams)
		if h1 == h2 {
			t.Fatal("two hashes of one password are equal: no salt")
		}
		parts := strings.Split(h1, "$")
		if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" || parts[3] != "m=64,t=1,p=1" ||
			len(parts[4]) != 22 || len(parts[5]) != 43 {
			t.Fatalf("hash %q is not $argon2id$v=19$m=64,t=1,p=1$<16-byte salt>$<32-byte key>", h1)
		}
		for _, h := range []string{h1, h2} {
			if ok, err := checkPassword("s3cret password", h); err != nil || !ok {
				t.Fatalf("checkPassword(right) = %v, %v", ok, err)
			}
			if ok, err := checkPassword("s3cret passwore", h); err != nil || ok {
				t.Fatalf("checkPassword(wrong) = %v, %v", ok, err)
			}
		}
	})

	t.Run("KnownVector", func(t *testing.T) {
		t.Parallel()
		// Made with the reference argon2 CLI:
		// echo -n password | argon2 somesalt -id -t 2 -m 16 -p 4 -l 32 -e
		const phc = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"
		ok, err := checkPassword("password", phc)
		if err != nil || !ok {
			t.Fatalf("reference vector: %v, %v", ok, err)
		}
	})

	t.Run("ErrMalformed", func(t *testing.T) {
		t.Parallel()
		good, _ := hashPassword("pw", testParams)
		p := strings.Split(good, "$")
		join := func(parts ...string) string { return strings.Join(parts, "$") }
		for _, bad := range []string{
			"",
			"plaintext",
			"$2a$10$abcdefghijklmnopqrstuu5Qe3vZl8bSxqXo3C9C3l2v0T7kY8ZgK", // bcrypt
			join("", "argon2i", p[2], p[3], p[4], p[5]),
			join("", "argon2id", "v=16", p[3], p[4], p[5]),
			join("", "argon2id", "v=019", p[3], p[4], p[5]),
			join("", "argon2id", p[2], "m=64,t=1", p[4], p[5]),
			join("", "argon2id", p[2], "m=64,t=1,p=1,x=2", p[4], p[5]),
			join("", "argon2id", p[2], "m=4294967296,t=1,p=1", p[4], p[5]),
			join("", "argon2id", p[2], "m=4194304,t=1,p=1", p[4], p[5]), // 4 GiB
			join("", "argon2id", p[2], "m=64,t=1000000,p=1", p[4], p[5]),
			join("", "argon2id", p[2], "m=64,t=1,p=0", p[4], p[5]),
			join("", "argon2id", p[2], "m=64,t=1,p=255", p[4], p[5]),
			join("", "argon2id", p[2], p[3], "!!!", p[5]),
			join("", "argon2id", p[2], p[3], "", p[5]),
			join("", "argon2id", p[2], p[3], p[4], ""),
			join("", "argon2id", p[2], p[3], p[4], p[5], "extra"),
		} {
			if _, err := parseHash(bad); err == nil {
				t.Errorf("parseHash(%q) succeeded", bad)
			}
			if ok, err := checkPassword("pw", bad); err == nil || ok {
				t.Errorf("checkPassword(%q) = %v, %v; want an error", bad, ok, err)
			}
		}
	})

	t.Run("NeedsRehash", func(t *testing.T) {
		t.Parallel()
		h, _ := hashPassword("pw", testParams)
		if needsRehash(h, testParams) {
			t.Fatal("fresh hash needs rehash")
		}
		other := testParams
		other.Memory = 128
		if !needsRehash(h, other) {
			t.Fatal("hash with old memory does not need rehash")
		}
		if !needsRehash("garbage", testParams) {
			t.Fatal("unreadable hash does not need rehash")
		}
	})

	t.Run("HasherWaitsForContext", func(t *testing.T) {
		t.Parallel()
		hs, err := newHasher(testParams, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := hs.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := hs.hash(ctx, "pw"); err == nil {
			t.Fatal("hash ran past the concurrency limit")
		}
		hs.release()
		if _, err := hs.hash(context.Background(), "pw"); err != nil {
			t.Fatalf("hash after release: %v", err)
		}
		if ok, err := hs.check(context.Background(), "pw", ""); ok || err != nil {
			t.Fatalf("dummy check = %v, %v; want false, nil", ok, err)
		}
	})
}

func TestFailureLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("SlidingWindow", func(t *testing.T) {
		t.Parallel()
		l := newFailureLimiter(3, time.Minute, 100)
		l.fail("k", t0)
		l.fail("k", t0.Add(10*time.Second))
		if d := l.retryAfter("k", t0.Add(20*time.Second)); d != 0 {
			t.Fatalf("blocked after 2 of 3 failures: %v", d)
		}
		l.fail("k", t0.Add(20*time.Second))
		if d := l.retryAfter("k", t0.Add(30*time.Second)); d != 30*time.Second {
			t.Fatalf("retryAfter = %v, want 30s (first failure leaves at 60s)", d)
		}
		// At 60 s the first failure leaves; two remain.
		if d := l.retryAfter("k", t0.Add(60*time.Second)); d != 0 {
			t.Fatalf("still blocked at 60s: %v", d)
		}
		l.fail("k", t0.Add(61*time.Second))
		if d := l.retryAfter("k", t0.Add(61*time.Second)); d != 9*time.Second {
			t.Fatalf("retryAfter = %v, want 9s (second failure leaves at 70s)", d)
		}
		l.reset("k")
		if d := l.retryAfter("k", t0.Add(61*time.Second)); d != 0 {
			t.Fatalf("blocked after reset: %v", d)
		}
	})

	t.Run("BoundedMemory", func(t *testing.T) {
		t.Parallel()
		l := newFailureLimiter(3, time.Minute, 100)
		// Blocking "victim", then flooding with fresh keys in the same
		// window: the map never grows past its cap.
		for range 3 {
			l.fail("victim", t0)
		}
		for i := range 1000 {
			l.fail(fmt.Sprint("flood", i), t0.Add(time.Second))
			if n := l.len(); n > 100 {
				t.Fatalf("tracked %d keys, cap is 100", n)
			}
		}
		// Once the window has passed, stale keys are swept, not evicted
		// one by one: a new key makes room by dropping all expired ones.
		l.fail("late", t0.Add(2*time.Minute))
		if n := l.len(); n != 1 {
			t.Fatalf("tracked %d keys after the window passed, want 1", n)
		}
	})

	t.Run("EvictsLeastRecentlyFailed", func(t *testing.T) {
		t.Parallel()
		l := newFailureLimiter(1, time.Minute, 3)
		l.fail("a", t0)
		l.fail("b", t0.Add(time.Second))
		l.fail("c", t0.Add(2*time.Second))
		l.fail("a", t0.Add(3*time.Second)) // a is now the most recent
		l.fail("d", t0.Add(4*time.Second)) // evicts b
		for key, blocked := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
			if got := l.retryAfter(key, t0.Add(5*time.Second)) > 0; got != blocked {
				t.Errorf("%s blocked = %v, want %v", key, got, blocked)
			}
		}
	})
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                        "",
		"192.0.2.1":               "192.0.2.1",
		"192.0.2.1:8080":          "192.0.2.1",
		"::ffff:192.0.2.1":        "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"[2001:db8:1:2::9]:443":   "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
		"unix-socket":             "raw:unix-socket",
		strings.Repeat("x", 1000): "raw:" + strings.Repeat("x", 64),
	} {
		if got := ipKey(in); got != want {
			t.Errorf("ipKey(%.20q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkHashPassword measures one password hash with the default
// parameters, the cost of a signup and of a login.
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := hashPassword("correct horse battery staple", DefaultArgon2Params); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckPassword measures one password check with the default
// parameters.
func BenchmarkCheckPassword(b *testing.B) {
	h, err := hashPassword("correct horse battery staple", DefaultArgon2Params)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := checkPassword("correct horse battery staple", h); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
