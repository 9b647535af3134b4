package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// wscatPath finds wscat (npm install -g wscat): $KILN_TEST_WSCAT, else
// PATH; it skips the test when there is none.
func wscatPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KILN_TEST_WSCAT"); p != "" {
		return p
	}
	p, err := exec.LookPath("wscat")
	if err != nil {
		t.Skip("wscat is not installed (npm install -g wscat, or set KILN_TEST_WSCAT): skipping the third-party WebSocket client test")
	}
	return p
}

// TestWscatFollowsABuild has a third-party WebSocket client, wscat from
// npm, follow a build with a stream ticket, the way a script would.
func TestWscatFollowsABuild(t *testing.T) {
	wscat := wscatPath(t)
	m := MustMain(t, "", t.TempDir(), []string{"api", "worker"}, testPipeline{})
	alice := MustUser(t, m, "alice@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title)"})
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := alice.CreateStreamTicket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("ws%s/v1/builds/%d/events?ticket=%s", strings.TrimPrefix(m.URL(), "http"), b.ID, ticket.Ticket)
	stdout, stderr, err := runWscat(ctx, wscat, url)
	if err != nil {
		t.Fatalf("wscat: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	var events []*kiln.BuildEvent
	for _, line := range strings.Split(stdout, "\n") {
		// wscat prefixes messages with "< " on a terminal only.
		msg := strings.TrimPrefix(strings.TrimSpace(line), "< ")
		if !strings.HasPrefix(msg, "{") {
			continue
		}
		var e kiln.BuildEvent
		if err := json.Unmarshal([]byte(msg), &e); err != nil {
			t.Fatalf("wscat printed %q: %v", msg, err)
		}
		events = append(events, &e)
	}
	if len(events) == 0 {
		t.Fatalf("wscat printed no events:\n%s\n%s", stdout, stderr)
	}
	checkGapless(t, events)
	last := events[len(events)-1]
	if last.Kind != kiln.EventEnd || last.End.Status != kiln.BuildSucceeded {
		t.Fatalf("last event: %+v", last)
	}
	// wscat exited by itself: the server closed the stream after the end.

	// The ticket worked once.
	stdout, stderr, err = runWscat(ctx, wscat, url)
	if err == nil || !strings.Contains(stdout+stderr, "401") {
		t.Errorf("a used ticket: %v\n%s%s", err, stdout, stderr)
	}

	// With batch=true the ended build replays as JSON arrays of events:
	// the same events, fewer messages.
	if ticket, err = alice.CreateStreamTicket(ctx); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err = runWscat(ctx, wscat, fmt.Sprintf("ws%s/v1/builds/%d/events?batch=true&ticket=%s", strings.TrimPrefix(m.URL(), "http"), b.ID, ticket.Ticket))
	if err != nil {
		t.Fatalf("wscat batch=true: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	var batched []*kiln.BuildEvent
	messages := 0
	for _, line := range strings.Split(stdout, "\n") {
		msg := strings.TrimPrefix(strings.TrimSpace(line), "< ")
		if msg == "" || strings.HasPrefix(msg, "Connected") || strings.HasPrefix(msg, "Disconnected") {
			continue
		}
		var batch []*kiln.BuildEvent
		if err := json.Unmarshal([]byte(msg), &batch); err != nil || len(batch) == 0 {
			t.Fatalf("wscat printed %q, not a JSON array of events: %v", msg, err)
		}
		batched = append(batched, batch...)
		messages++
	}
	if len(batched) != len(events) || messages >= len(events) {
		t.Fatalf("batch=true: %d events in %d messages; the stream had %d events", len(batched), messages, len(events))
	}
	for i := range events {
		if batched[i].Seq != events[i].Seq || batched[i].Kind != events[i].Kind {
			t.Fatalf("batch=true event %d: %+v, want %+v", i, batched[i], events[i])
		}
	}
}

// runWscat runs wscat against url with an input that stays open, as a
// terminal's would (it hangs up when its input ends), until it exits.
func runWscat(ctx context.Context, wscat, url string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wscat, "--no-color", "-c", url)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", "", err
	}
	defer in.Close()
	err = cmd.Run()
	return out.String(), errOut.String(), err
}
