package queue_test

import (
	"testing"
	"time"

	"github.com/kiln-build/kiln/queue"
)

func TestMailBackoff(t *testing.T) {
	t.Parallel()
	mid := func() float64 { return 0.5 }
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{1, 7 * time.Second}, {2, 14 * time.Second}, {3, 28 * time.Second}, {9, 1792 * time.Second},
		{10, queue.DefaultMailRetryMax}, {50, queue.DefaultMailRetryMax},
	} {
		if got := queue.MailBackoff(tc.n, queue.DefaultMailRetryBase, queue.DefaultMailRetryMax, mid); got != tc.want {
			t.Errorf("MailBackoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	// The default attempts span about an hour: the waits between them add up.
	var total time.Duration
	for n := 1; n < queue.DefaultMailMaxAttempts; n++ {
		total += queue.MailBackoff(n, queue.DefaultMailRetryBase, queue.DefaultMailRetryMax, mid)
	}
	if total < 50*time.Minute || total > 70*time.Minute {
		t.Errorf("the default retries span %v, want about an hour", total)
	}
	// Jitter stays within ±25%.
	lo := queue.MailBackoff(3, time.Second, time.Hour, func() float64 { return 0 })
	hi := queue.MailBackoff(3, time.Second, time.Hour, func() float64 { return 0.999999 })
	if lo != 3*time.Second || hi < 4990*time.Millisecond || hi > 5*time.Second {
		t.Errorf("jitter bounds %v..%v, want 3s..5s", lo, hi)
	}
}
