package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
)

// BenchmarkFanout measures how long a log line takes from the build to
// its watchers' WebSocket clients, side by side with a minimal
// coder/websocket broadcast loop on the same machine and load (sending
// each line as a message, and, as "minimal-batch", each 100 ms batch of
// lines as one message): one build
// writes KILN_BENCH_RATE lines a second (default 1000) in batches every
// 100 ms, as a worker does, to KILN_BENCH_WATCHERS watchers (default 1000)
// for KILN_BENCH_SECONDS (default 3), in KILN_BENCH_ROUNDS interleaved
// rounds (default 3). Kiln's watchers ask for batch=true, as clients of
// busy builds should (KILN_BENCH_UNBATCHED=1: one event per message). It
// logs each setup's p50 and p99 and reports the medians of the p99s and of
// the ratios: kiln against both minimal loops, and kiln with one stalled
// client against kiln. Run it with -benchtime=1x:
//
//	go test ./api -run '^$' -bench Fanout -benchtime=1x
func BenchmarkFanout(b *testing.B) {
	watchers := envInt("KILN_BENCH_WATCHERS", 1000)
	rate := envInt("KILN_BENCH_RATE", 1000)
	secs := envInt("KILN_BENCH_SECONDS", 3)
	rounds := envInt("KILN_BENCH_ROUNDS", 3)
	batch := os.Getenv("KILN_BENCH_UNBATCHED") == ""
	for range b.N {
		var minimal, minBatched, kiln, stalled, vsMinimal, vsBatched, vsKiln []float64
		for round := range rounds {
			m := fanoutMinimal(b, watchers, rate, secs, false)
			mb := fanoutMinimal(b, watchers, rate, secs, true)
			k := fanoutKiln(b, watchers, rate, secs, batch, false)
			s := fanoutKiln(b, watchers, rate, secs, batch, true)
			for _, r := range []struct {
				name string
				res  fanoutResult
			}{{"minimal", m}, {"minimal-batch", mb}, {"kiln", k}, {"kiln-stalled", s}} {
				// Printed, not logged: a benchmark's log keeps only its
				// first lines.
				fmt.Fprintf(os.Stderr, "round %d %-13s p50 %7.2f ms  p99 %7.2f ms  (%d deliveries, %d missing)\n", round+1, r.name, ms(r.res.p50), ms(r.res.p99), r.res.n, r.res.missing)
			}
			minimal, minBatched = append(minimal, ms(m.p99)), append(minBatched, ms(mb.p99))
			kiln, stalled = append(kiln, ms(k.p99)), append(stalled, ms(s.p99))
			vsMinimal = append(vsMinimal, float64(k.p99)/float64(m.p99))
			vsBatched = append(vsBatched, float64(k.p99)/float64(mb.p99))
			vsKiln = append(vsKiln, float64(s.p99)/float64(k.p99))
		}
		b.ReportMetric(median(minimal), "minimal-p99-ms")
		b.ReportMetric(median(minBatched), "minimal-batch-p99-ms")
		b.ReportMetric(median(kiln), "kiln-p99-ms")
		b.ReportMetric(median(stalled), "stalled-p99-ms")
		b.ReportMetric(median(vsMinimal), "kiln/minimal-p99")
		b.ReportMetric(median(vsBatched), "kiln/minimal-batch-p99")
		b.ReportMetric(median(vsKiln), "stalled/kiln-p99")
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type fanoutResult struct {
	p50, p99 time.Duration
	n        int
	missing  int
}

// produce calls emit with batches of stamped lines every 100 ms for secs
// seconds and returns how many lines it emitted.
func produce(rate, secs int, emit func(texts []string)) int {
	perBatch := max(rate/10, 1)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	total := 0
	for range secs * 10 {
		<-t.C
		texts := make([]string, perBatch)
		now := strconv.FormatInt(time.Now().UnixNano(), 10)
		for i := range texts {
			texts[i] = now
		}
		emit(texts)
		total += perBatch
	}
	return total
}

// watcher reads one WebSocket and records each stamped line's latency.
type watcher struct {
	c         *websocket.Conn
	latencies []time.Duration
	done      chan struct{}
}

var textKey = []byte(`"text":"`)

func watch(ctx context.Context, c *websocket.Conn, capacity int) *watcher {
	w := &watcher{c: c, latencies: make([]time.Duration, 0, capacity), done: make(chan struct{})}
	c.SetReadLimit(1 << 20)
	go func() {
		defer close(w.done)
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			now := time.Now()
			for { // one event, or a batch=true array of them
				i := bytes.Index(msg, textKey)
				if i < 0 {
					break
				}
				msg = msg[i+len(textKey):]
				end := bytes.IndexByte(msg, '"')
				if end < 0 {
					break
				}
				if stamp, err := strconv.ParseInt(string(msg[:end]), 10, 64); err == nil {
					w.latencies = append(w.latencies, now.Sub(time.Unix(0, stamp)))
				}
				msg = msg[end:]
			}
		}
	}()
	return w
}

// collect waits until every watcher has want lines (or 60 s passed),
// closes them and summarizes the latencies.
func collect(b *testing.B, ws []*watcher, want int) fanoutResult {
	deadline := time.Now().Add(60 * time.Second)
	for _, w := range ws {
		for len(w.latencies) < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // a benchmark's drain, not a test's wait
		}
	}
	var all []time.Duration
	res := fanoutResult{}
	for _, w := range ws {
		w.c.CloseNow()
		<-w.done
		all = append(all, w.latencies...)
		res.missing += max(want-len(w.latencies), 0)
	}
	if len(all) == 0 {
		b.Fatal("no deliveries")
	}
	slices.Sort(all)
	res.n = len(all)
	res.p50, res.p99 = all[len(all)/2], all[len(all)*99/100]
	return res
}

func dialAll(b *testing.B, url string, hdr http.Header, n int) []*websocket.Conn {
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: hdr})
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		conns[i] = c
	}
	return conns
}

// fanoutMinimal is the baseline: a server that writes each line (batched:
// each batch of lines as a JSON array) to every connection, one writer
// goroutine per connection, nothing else.
func fanoutMinimal(b *testing.B, watchers, rate, secs int, batched bool) fanoutResult {
	var mu sync.Mutex
	var outs []chan []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		out := make(chan []byte, 4*rate)
		mu.Lock()
		outs = append(outs, out)
		mu.Unlock()
		ctx := c.CloseRead(context.Background())
		for {
			select {
			case msg := <-out:
				if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}))
	defer srv.Close()
	conns := dialAll(b, "ws"+strings.TrimPrefix(srv.URL, "http"), nil, watchers)
	for {
		mu.Lock()
		n := len(outs)
		mu.Unlock()
		if n == watchers {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ws := make([]*watcher, len(conns))
	for i, c := range conns {
		ws[i] = watch(context.Background(), c, rate*secs)
	}
	seq := 0
	runtime.GC() // start each setup on a clean heap
	send := func(msg []byte) {
		mu.Lock()
		for _, out := range outs {
			select {
			case out <- msg:
			default: // a full client loses lines here; the baseline does nothing smarter
			}
		}
		mu.Unlock()
	}
	total := produce(rate, secs, func(texts []string) {
		var batch []byte
		for _, t := range texts {
			seq++
			msg := fmt.Appendf(nil, `{"build_id":1,"seq":%d,"user_seq":%d,"time":"2026-05-01T12:00:00Z","kind":"log","log":{"stream":"stdout","text":"%s"}}`, seq, seq, t)
			if !batched {
				send(msg)
				continue
			}
			if batch == nil {
				batch = append(batch, '[')
			} else {
				batch = append(batch, ',')
			}
			batch = append(batch, msg...)
		}
		if batched {
			send(append(batch, ']'))
		}
	})
	return collect(b, ws, total)
}

// fanoutKiln follows a build through the real API, store and bus.
func fanoutKiln(b *testing.B, watchers, rate, secs int, batch, stall bool) fanoutResult {
	e := mustStreamEnv(b, api.StreamConfig{MaxPerUser: watchers + 10, WriteTimeout: time.Second}, 0)
	tok := MustToken(b, e.srv, "bench@example.com")
	id := e.build(b, tok)
	// The build has a history of 8 MB of log the watchers skip. The
	// stalled client asks for it: the server's writes to it block once the
	// kernel's buffers are full, before the measured part starts, and it
	// is dropped a write timeout later, while the others are measured.
	history := strings.Repeat("x", 4000)
	for range 10 {
		lines := make([]*kiln.LogLine, 200)
		for i := range lines {
			lines[i] = &kiln.LogLine{Stream: kiln.StreamStdout, Text: history}
		}
		if err := e.work.AppendLogs(context.Background(), id, lines); err != nil {
			b.Fatal(err)
		}
	}
	base := fmt.Sprintf("ws%s/v1/builds/%d/events?batch=%v&after=", strings.TrimPrefix(e.srv.URL, "http"), id, batch)
	hdr := http.Header{"Authorization": {"Bearer " + tok}}
	conns := dialAll(b, base+"2001", hdr, watchers)
	var stalled *websocket.Conn
	if stall {
		stalled = dialAll(b, base+"1", hdr, 1)[0] // never read until the end
		defer stalled.CloseNow()
	}
	ws := make([]*watcher, len(conns))
	for i, c := range conns {
		ws[i] = watch(context.Background(), c, rate*secs)
	}
	runtime.GC() // the login's password hashing left a big heap behind
	total := produce(rate, secs, func(texts []string) {
		lines := make([]*kiln.LogLine, len(texts))
		for i, t := range texts {
			lines[i] = &kiln.LogLine{Stream: kiln.StreamStdout, Text: t}
		}
		if err := e.work.AppendLogs(context.Background(), id, lines); err != nil {
			b.Error(err)
		}
	})
	res := collect(b, ws, total)
	if stalled != nil {
		// Proof that it stalled: the server sent it part of the history
		// and dropped it.
		n, err := drain(stalled)
		fmt.Fprintf(os.Stderr, "the stalled client got %d of %d lines, then: %v\n", n, 2000+total, err)
	}
	return res
}

// drain reads what is waiting on c until it ends or nothing comes for a
// moment, and counts the log lines.
func drain(c *websocket.Conn) (int, error) {
	c.SetReadLimit(1 << 20)
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, msg, err := c.Read(ctx)
		cancel()
		if err != nil {
			return n, err
		}
		n += bytes.Count(msg, textKey)
	}
}
