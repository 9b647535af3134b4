package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// benchBatch is the events per request (and per raw insert).
const benchBatch = 100

// ingestBench is one SQLite database behind the analytics API, with an app,
// an unthrottled key, the NDJSON body of one request and the same events
// for the raw insert.
type ingestBench struct {
	e       *analyticsEnv
	app     int64
	secret  string
	payload []byte
	raw     *sql.Stmt // a bare 100-row INSERT into analytics_events
	rawArgs []any
	hc      *http.Client
}

func newIngestBench(b *testing.B) *ingestBench {
	e := mustAnalyticsServer(b)
	tok := MustToken(b, e.srv, "bench@example.com")
	app := mustApp(b, e.srv, tok)
	key := mustKey(b, e.srv, tok, app, fmt.Sprintf(`{"rate_limit":%d}`, kiln.MaxIngestRateLimit))
	now := time.Now().UTC()
	var body strings.Builder
	props, _ := json.Marshal(map[string]any{"route": "GET /api/books/{id}", "method": "GET", "status": 200})
	var args []any
	for i := range benchBatch {
		fmt.Fprintf(&body, `{"name":"request","timestamp":%q,"user_id":"u%d","value":%d,"properties":{"route":"GET /api/books/{id}","method":"GET","status":200}}`+"\n",
			now.Format(time.RFC3339Nano), i%20, i)
		args = append(args, app, now.UnixMicro(), "request", fmt.Sprintf("u%d", i%20), nil, float64(i), string(props))
	}
	q := "INSERT INTO analytics_events (app_id, ts, name, user_id, session_id, value, props) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", benchBatch), ", ")
	raw, err := e.db.Writer().Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	return &ingestBench{e: e, app: app, secret: key.Secret, payload: []byte(body.String()), raw: raw, rawArgs: args,
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// rawInsert stores one batch of 100 events in one transaction with a
// prepared multi-row INSERT: the fastest way into the table.
func (ib *ingestBench) rawInsert(ctx context.Context) error {
	tx, err := ib.e.db.Writer().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, ib.raw).ExecContext(ctx, ib.rawArgs...); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// post sends one request of 100 events and fails unless all are accepted.
func (ib *ingestBench) post() error {
	req, _ := http.NewRequest("POST", ib.e.srv.URL+"/v1/ingest", bytes.NewReader(ib.payload))
	req.Header.Set("Authorization", "Bearer "+ib.secret)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := ib.hc.Do(req)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%d %s", res.StatusCode, buf.String())
	}
	return nil
}

// ingestClients is how many concurrent clients post, as many apps' or
// instances' batchers would.
const ingestClients = 16

// forDuration runs fn from n goroutines until d has passed and returns the
// events per second of wall time.
func forDuration(b *testing.B, n int, d time.Duration, fn func() error) float64 {
	var count atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := fn(); err != nil {
					b.Error(err)
					return
				}
				count.Add(benchBatch)
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds()
}

// BenchmarkIngest compares, on the same SQLite database, a raw batched
// insert (100 events per transaction through a prepared multi-row INSERT,
// one writer, as fast as SQLite takes them) with POST /v1/ingest of 100
// events per request from 16 concurrent clients, through HTTP, key
// lookup, validation, rate limiting and the group-commit writer.
//
// Ratio runs the two side by side in KILN_BENCH_ROUNDS interleaved rounds
// (default 5) of KILN_BENCH_SECONDS each (default 2), so load from
// elsewhere hits both alike, and reports the medians: ingest/raw (the
// target is at least 0.5) and each side's events/s (the aim is 50,000 or
// more for ingest). Run it with -benchtime=1x:
//
//	go test ./api -run '^$' -bench 'Ingest/Ratio' -benchtime=1x
//
// RawInsert and HTTP report each side alone as events/s and CPU µs per
// event (the HTTP variant's clients included).
func BenchmarkIngest(b *testing.B) {
	b.Run("Ratio", func(b *testing.B) {
		rounds := envInt("KILN_BENCH_ROUNDS", 5)
		d := time.Duration(envInt("KILN_BENCH_SECONDS", 2)) * time.Second
		for b.Loop() {
			ib := newIngestBench(b)
			ctx := context.Background()
			// Warm up both paths (statements, connections, the page cache).
			forDuration(b, 1, 200*time.Millisecond, func() error { return ib.rawInsert(ctx) })
			forDuration(b, ingestClients, 200*time.Millisecond, ib.post)
			var raws, ingests, ratios []float64
			for round := range rounds {
				raw := forDuration(b, 1, d, func() error { return ib.rawInsert(ctx) })
				ingest := forDuration(b, ingestClients, d, ib.post)
				b.Logf("round %d: raw insert %6.0f events/s, POST /v1/ingest %6.0f events/s: %.2f", round+1, raw, ingest, ingest/raw)
				raws, ingests, ratios = append(raws, raw), append(ingests, ingest), append(ratios, ingest/raw)
			}
			var stored int64
			if err := ib.e.db.Writer().QueryRow("SELECT count(*) FROM analytics_events").Scan(&stored); err != nil {
				b.Fatal(err)
			}
			b.Logf("%d events stored", stored)
			b.ReportMetric(median(raws), "raw-events/s")
			b.ReportMetric(median(ingests), "ingest-events/s")
			b.ReportMetric(median(ratios), "ingest/raw")
		}
	})
	b.Run("RawInsert", func(b *testing.B) {
		ib := newIngestBench(b)
		ctx := context.Background()
		b.ResetTimer()
		cpu := cpuTime()
		for b.Loop() {
			if err := ib.rawInsert(ctx); err != nil {
				b.Fatal(err)
			}
		}
		reportEvents(b, cpu)
	})
	b.Run("HTTP", func(b *testing.B) {
		ib := newIngestBench(b)
		b.SetParallelism(ingestClients)
		b.ResetTimer()
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := ib.post(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportEvents(b, cpu)
	})
}

// cpuTime returns the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportEvents reports events/s of wall time and CPU µs per event (the
// HTTP variant's clients included): on a busy machine the wall rate swings
// with the neighbours, the CPU cost does not.
func reportEvents(b *testing.B, cpuStart time.Duration) {
	n := float64(b.N * benchBatch)
	b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime()-cpuStart).Microseconds())/n, "cpu-µs/event")
}
