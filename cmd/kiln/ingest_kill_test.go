package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// TestAcknowledgedEventsSurviveKill runs a real `kiln serve`, sends it
// events from several clients, kills it with SIGKILL in the middle of the
// traffic, and checks after a restart that every event it answered 202 for
// is stored, and that the summary counts exactly what is stored.
func TestAcknowledgedEventsSurviveKill(t *testing.T) {
	bin := mustKilnBinary(t)
	t.Run("SQLite", func(t *testing.T) { testEventsSurviveKill(t, bin, "") })
	t.Run("PostgreSQL", func(t *testing.T) { testEventsSurviveKill(t, bin, MustPostgresURL(t)) })
}

func testEventsSurviveKill(t *testing.T, bin, dbURL string) {
	ctx := context.Background()
	dataDir := t.TempDir()

	setup := MustMain(t, dbURL, dataDir, []string{"api"}, nil)
	alice := MustUser(t, setup, "alice@example.com")
	app, _, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks"})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := alice.CreateIngestKey(ctx, app.ID, kiln.IngestKeyCreate{RateLimit: kiln.MaxIngestRateLimit})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.Close(); err != nil {
		t.Fatal(err)
	}

	args := []string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--roles", "api", "--log-format", "text"}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	srv := exec.Command(bin, args...)
	var logs syncBuffer
	pr, pw := io.Pipe()
	srv.Stdout, srv.Stderr = pw, pw
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill() //nolint:errcheck // already dead on the normal path
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(&logs, sc.Text())
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-urls:
	case <-time.After(60 * time.Second):
		t.Fatalf("kiln serve did not start:\n%s", logs.String())
	}

	// Senders post batches of 50 events, each with a unique user id, and
	// record the ids of every batch answered 202.
	const senders, batch, killAfter = 4, 50, 3000
	var mu sync.Mutex
	var acked []string
	sent := 0
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	now := time.Now().UTC()
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client.New(base)
			for n := 0; ; n++ {
				var body bytes.Buffer
				ids := make([]string, batch)
				for i := range ids {
					ids[i] = fmt.Sprintf("s%d-%d-%d", s, n, i)
					fmt.Fprintf(&body, `{"name":"request","timestamp":%q,"user_id":%q,"value":%d}`+"\n", now.Format(time.RFC3339Nano), ids[i], i)
				}
				mu.Lock()
				sent += batch
				mu.Unlock()
				if _, err := c.Ingest(ctx, key, body.Bytes(), false); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, ids...)
				if len(acked) >= killAfter {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-enough:
	case <-time.After(2 * time.Minute):
		t.Fatalf("only %d events acknowledged:\n%s", len(acked), logs.String())
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	pw.Close()
	wg.Wait()
	t.Logf("killed with %d events acknowledged of %d sent", len(acked), sent)

	after := MustMain(t, dbURL, dataDir, []string{"api"}, nil)
	stored := map[string]bool{}
	rows, err := after.DB.Writer().QueryContext(ctx, rebindQ(after, "SELECT user_id FROM analytics_events WHERE app_id = ?"), app.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
	}
	rows.Close()
	lost := 0
	for _, id := range acked {
		if !stored[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged events are lost after kill -9", lost, len(acked))
	}
	if len(stored) > sent {
		t.Fatalf("%d events stored, more than the %d sent", len(stored), sent)
	}

	anon := client.New(after.URL())
	sess, err := anon.Login(ctx, "alice@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	owner := client.New(after.URL(), client.WithToken(sess.AccessToken))
	sum, err := owner.AnalyticsSummary(ctx, app.ID, kiln.SummaryQuery{From: now.Add(-time.Hour), To: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Totals.Count != int64(len(stored)) {
		t.Fatalf("summary counts %d events, %d are stored", sum.Totals.Count, len(stored))
	}
	t.Logf("after restart: %d stored (%d acknowledged, %d more committed before the kill)", len(stored), len(acked), len(stored)-len(acked))
}

// rebindQ turns ? into $1 on PostgreSQL.
func rebindQ(m *Main, q string) string {
	if m.DB.Dialect() == "postgres" {
		return regexp.MustCompile(`\?`).ReplaceAllString(q, "$$1")
	}
	return q
}
