package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// TestIdleWatcherMemory starts `kiln serve` as an API node (no worker, so
// the build stays queued), opens idle WebSocket watchers of one build and
// checks what each costs the server in resident memory: at most 64 KiB.
func TestIdleWatcherMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	bin := mustKilnBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--roles", "api", "--log-level", "warn")
	// A small GOGC keeps the heap close to what is live, so the numbers
	// below measure the watchers and not garbage waiting for a collection.
	cmd.Env = append(cmd.Environ(), "KILN_STREAM_MAX_PER_USER=10000", "GOGC=5")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-found:
	case <-time.After(time.Minute):
		t.Fatal("kiln serve did not say where it listens within a minute")
	}

	anon := client.New(base)
	if _, err := anon.Signup(ctx, "alice@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	sess, err := anon.Login(ctx, "alice@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	alice := client.New(base, client.WithToken(sess.AccessToken))
	_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title)"})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("ws%s/v1/builds/%d/events", strings.TrimPrefix(base, "http"), b.ID)
	open := func(n int) []*websocket.Conn {
		conns := make([]*websocket.Conn, 0, n)
		for range n {
			c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + sess.AccessToken}}})
			if err != nil {
				t.Fatalf("watcher %d: %v", len(conns), err)
			}
			// The first message, the queued status, proves the stream is up.
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			_, _, err = c.Read(rctx)
			rcancel()
			if err != nil {
				t.Fatalf("watcher %d: %v", len(conns), err)
			}
			conns = append(conns, c)
		}
		return conns
	}
	// Resident memory alone says little here: the password hashing of the
	// login left tens of MB of freed heap that new streams reuse. The Go
	// runtime's own count of heap and stack in use is what a watcher costs.
	type usage struct{ heap, stack, goroutines, rssKB float64 }
	settle := func() usage {
		time.Sleep(2 * time.Second)
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		u := usage{rssKB: float64(residentKB(t, cmd.Process.Pid))}
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			name, value, _ := strings.Cut(sc.Text(), " ")
			v, _ := strconv.ParseFloat(value, 64)
			switch name {
			case "go_memstats_heap_inuse_bytes":
				u.heap = v
			case "go_memstats_stack_inuse_bytes":
				u.stack = v
			case "go_goroutines":
				u.goroutines = v
			}
		}
		return u
	}
	warm := open(50) // the first streams pay for pools and code
	before := settle()
	const n = 1000
	conns := open(n)
	after := settle()
	perWatcher := (after.heap + after.stack - before.heap - before.stack) / n
	t.Logf("%d idle watchers: heap+stack %.1f → %.1f MB: %.1f KiB each (%.1f KiB of it stacks, %.1f goroutines); resident %.1f → %.1f MB",
		n, (before.heap+before.stack)/(1<<20), (after.heap+after.stack)/(1<<20), perWatcher/1024,
		(after.stack-before.stack)/n/1024, (after.goroutines-before.goroutines)/n, before.rssKB/1024, after.rssKB/1024)
	if perWatcher > 64*1024 {
		t.Errorf("an idle watcher costs %.1f KiB, want at most 64 KiB", perWatcher/1024)
	}
	for _, c := range append(warm, conns...) {
		c.CloseNow()
	}
}
