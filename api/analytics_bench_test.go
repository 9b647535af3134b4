package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// benchBatch is the events per request (and per raw insert).
const benchBatch = 100

// BenchmarkIngest compares, in one run on the same SQLite setup, a raw
// batched insert of 100 events per transaction with POST /v1/ingest of 100
// events per request from 16 concurrent clients, through HTTP, key lookup,
// validation, rate limiting and the group-commit writer. Both report
// events/s.
func BenchmarkIngest(b *testing.B) {
	b.Run("RawInsert", func(b *testing.B) {
		e := mustAnalyticsServer(b)
		tok := MustToken(b, e.srv, "bench@example.com")
		app := mustApp(b, e.srv, tok)
		now := time.Now().UTC()
		batch := make([]kiln.Event, benchBatch)
		for i := range batch {
			v := float64(i)
			batch[i] = kiln.Event{AppID: app, Name: "request", Time: now, UserID: fmt.Sprintf("u%d", i%20), Value: &v,
				Properties: map[string]any{"route": "GET /api/books/{id}", "method": "GET", "status": 200.0}}
		}
		ctx := context.Background()
		b.ResetTimer()
		cpu := cpuTime()
		for b.Loop() {
			if err := e.events.InsertEvents(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		reportEvents(b, cpu)
	})
	b.Run("HTTP", func(b *testing.B) {
		e := mustAnalyticsServer(b)
		tok := MustToken(b, e.srv, "bench@example.com")
		app := mustApp(b, e.srv, tok)
		key := mustKey(b, e.srv, tok, app, fmt.Sprintf(`{"rate_limit":%d}`, kiln.MaxIngestRateLimit))
		now := time.Now().UTC().Format(time.RFC3339Nano)
		var body strings.Builder
		for i := range benchBatch {
			fmt.Fprintf(&body, `{"name":"request","timestamp":%q,"user_id":"u%d","value":%d,"properties":{"route":"GET /api/books/{id}","method":"GET","status":200}}`+"\n", now, i%20, i)
		}
		payload := []byte(body.String())
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.SetParallelism(16)
		b.ResetTimer()
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("POST", e.srv.URL+"/v1/ingest", bytes.NewReader(payload))
				req.Header.Set("Authorization", "Bearer "+key.Secret)
				req.Header.Set("Content-Type", "application/x-ndjson")
				res, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusAccepted {
					b.Errorf("%d %s", res.StatusCode, buf.String())
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
