package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// Clock is a settable clock for Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// RunEvents checks the event log, its notices, stream tickets and log
// retention. open must return a fresh, migrated database opened with opts.
func RunEvents(t *testing.T, open func(t *testing.T, opts sqlstore.Options) *sqlstore.DB) {
	bg := context.Background()
	env := func(t *testing.T) (*Env, *sqlstore.BuildEventService) {
		t.Helper()
		e := newEnvFrom(t, open(t, sqlstore.Options{}))
		return e, sqlstore.NewBuildEventService(e.DB)
	}

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		e, ev := env(t)
		u := MustCreateUser(t, e, "u@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		MustClaim(t, e, b.ID, "l")
		require.NoError(t, e.Work.SetBuildStatus(bg, b.ID, "l", kiln.BuildPlanning, "plan"))
		require.NoError(t, e.Work.SetBuildStatus(bg, b.ID, "l", kiln.BuildPlanning, "plan"), "no change, no event")
		require.NoError(t, e.Work.SetBuildStatus(bg, b.ID, "l", "", ""), "a heartbeat, no event")
		step, err := e.Work.StartStep(bg, b.ID, "plan")
		require.NoError(t, err)
		require.NoError(t, e.Work.AppendLogs(bg, b.ID, []*kiln.LogLine{{Stream: kiln.StreamStdout, Text: "hello"}}))
		require.NoError(t, e.Work.FinishStep(bg, step.ID, kiln.StepSucceeded, ""))
		require.NoError(t, e.Work.SetBuildStatus(bg, b.ID, "l", kiln.BuildPackaging, "package"))
		open, err := e.Work.StartStep(bg, b.ID, "package")
		require.NoError(t, err)
		art := &kiln.Artifact{BuildID: b.ID, Kind: kiln.ArtifactChecksums, Name: "SHA256SUMS", Size: 3, SHA256: "abc", Location: "builds/x"}
		require.NoError(t, e.Work.CreateArtifact(bg, art))
		require.NoError(t, e.Work.FinishBuild(bg, b.ID, "l", kiln.BuildFailed, "broke"))

		events, err := ev.FindEvents(e.ctx(u), b.ID, 0, 0)
		require.NoError(t, err)
		var kinds []string
		for i, x := range events {
			require.Equal(t, int64(i+1), x.Seq, "gapless from 1")
			require.Equal(t, int64(i+1), x.UserSeq, "the user's only build")
			require.Equal(t, b.ID, x.BuildID)
			require.False(t, x.Time.IsZero())
			kinds = append(kinds, describe(x))
		}
		require.Equal(t, []string{
			"status queued", "status planning plan", "step plan started running", "log stdout hello",
			"step plan finished succeeded", "status packaging package", "step package started running",
			"artifact SHA256SUMS", "step package finished failed", "end failed broke",
		}, kinds)
		require.Equal(t, open.ID, events[8].Step.ID)
		require.Equal(t, art.ID, events[7].Artifact.ID)
		require.Empty(t, events[7].Artifact.Location, "the blob location never leaves the server")

		// Log lines are the log events.
		lines := allLogs(t, e, u, b.ID)
		require.Len(t, lines, 1)
		require.Equal(t, events[3].LogLine(), lines[0])

		last, err := ev.LastSeq(bg, b.ID)
		require.NoError(t, err)
		require.Equal(t, int64(len(events)), last)
		userLast, err := ev.LastUserSeq(bg, u.ID)
		require.NoError(t, err)
		require.Equal(t, last, userLast)
		n, err := ev.LastUserSeq(bg, other.ID)
		require.NoError(t, err)
		require.Zero(t, n)
		_, err = ev.LastSeq(bg, 99999)
		RequireCode(t, err, kiln.ENotFound)

		tail, err := ev.FindEvents(e.ctx(u), b.ID, 8, 1)
		require.NoError(t, err)
		require.Len(t, tail, 1)
		require.Equal(t, int64(9), tail[0].Seq)

		_, err = ev.FindEvents(e.ctx(other), b.ID, 0, 0)
		RequireCode(t, err, kiln.ENotFound)
		_, err = ev.FindEvents(context.Background(), b.ID, 0, 0)
		RequireCode(t, err, kiln.EUnauthorized)
		none, err := ev.FindUserEvents(e.ctx(other), 0, 0)
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("EndsOfBuilds", func(t *testing.T) {
		t.Parallel()
		e, ev := env(t)
		u := MustCreateUser(t, e, "u@example.com")
		ctx := e.ctx(u)
		kindsOf := func(id int64) []string {
			t.Helper()
			events, err := ev.FindEvents(ctx, id, 0, 0)
			require.NoError(t, err)
			var out []string
			for _, x := range events {
				out = append(out, describe(x))
			}
			return out
		}

		_, queued := MustCreateApp(t, e, u, "canceled while queued")
		_, err := e.Builds.CancelBuild(ctx, queued.ID)
		require.NoError(t, err)
		require.Equal(t, []string{"status queued", "log system canceled by the user before it started", "end canceled"}, kindsOf(queued.ID))

		_, released := MustCreateApp(t, e, u, "released")
		MustClaim(t, e, released.ID, "l")
		_, err = e.Work.StartStep(bg, released.ID, "render")
		require.NoError(t, err)
		require.NoError(t, e.Work.ReleaseBuild(bg, released.ID, "l", "worker stopped"))
		require.Equal(t, []string{
			"status queued", "step render started running", "step render finished failed worker stopped",
			"log system released back to the queue for a retry: worker stopped", "status queued",
		}, kindsOf(released.ID))

		_, lost := MustCreateApp(t, e, u, "lost twice")
		MustClaim(t, e, lost.ID, "a")
		_, err = e.Work.StartStep(bg, lost.ID, "test")
		require.NoError(t, err)
		_, failed, err := e.Work.RescueStaleBuilds(bg, farFuture(), 1)
		require.NoError(t, err)
		require.Equal(t, []int64{lost.ID}, failed)
		got := kindsOf(lost.ID)
		require.Len(t, got, 5)
		require.Equal(t, "step test finished failed the worker running this build was lost 1 times (no heartbeat); giving up", got[2])
		require.True(t, strings.HasPrefix(got[4], "end failed the worker"), got[4])

		_, ok := MustCreateApp(t, e, u, "succeeds")
		MustClaim(t, e, ok.ID, "l")
		require.NoError(t, e.Work.FinishBuild(bg, ok.ID, "l", kiln.BuildSucceeded, ""))
		require.Equal(t, []string{"status queued", "end succeeded"}, kindsOf(ok.ID))
	})

	t.Run("UserSeqAcrossBuilds", func(t *testing.T) {
		t.Parallel()
		e, ev := env(t)
		u := MustCreateUser(t, e, "u@example.com")
		other := MustCreateUser(t, e, "other@example.com")
		var builds []*kiln.Build
		for i := range 3 {
			_, b := MustCreateApp(t, e, u, fmt.Sprintf("app %d", i))
			builds = append(builds, b)
		}
		_, ob := MustCreateApp(t, e, other, "someone else's")
		const batches = 10
		var wg sync.WaitGroup
		for _, b := range append(builds, ob) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range batches {
					lines := []*kiln.LogLine{{Text: fmt.Sprintf("%d a%d", b.ID, i)}, {Text: fmt.Sprintf("%d b%d", b.ID, i)}}
					if err := e.Work.AppendLogs(bg, b.ID, lines); err != nil {
						t.Errorf("append: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()

		var all []*kiln.BuildEvent
		var after int64
		for {
			page, err := ev.FindUserEvents(e.ctx(u), after, 7)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = page[len(page)-1].UserSeq
		}
		want := len(builds) * (1 + 2*batches)
		require.Len(t, all, want)
		lastSeq := map[int64]int64{}
		for i, x := range all {
			require.Equal(t, int64(i+1), x.UserSeq, "the user's events are gapless")
			require.NotEqual(t, ob.ID, x.BuildID, "no one else's")
			require.Equal(t, lastSeq[x.BuildID]+1, x.Seq, "each build's events keep their order")
			lastSeq[x.BuildID] = x.Seq
		}
		otherEvents, err := ev.FindUserEvents(e.ctx(other), 0, 0)
		require.NoError(t, err)
		require.Len(t, otherEvents, 1+2*batches)
		require.Equal(t, int64(1+2*batches), otherEvents[len(otherEvents)-1].UserSeq)
	})

	t.Run("Listen", func(t *testing.T) {
		t.Parallel()
		e, _ := env(t)
		u := MustCreateUser(t, e, "u@example.com")
		notes := make(chan kiln.EventNotice, 16)
		ctx, cancel := context.WithCancel(bg)
		l, err := e.DB.Listen(ctx, func(n kiln.EventNotice) { notes <- n }, func() {})
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.Run(ctx)
		}()
		t.Cleanup(func() { cancel(); <-done })

		_, b := MustCreateApp(t, e, u, "a todo list")
		require.Equal(t, kiln.EventNotice{BuildID: b.ID, OwnerID: u.ID, Seq: 1, UserSeq: 1}, waitNotice(t, notes))
		require.NoError(t, e.Work.AppendLogs(bg, b.ID, []*kiln.LogLine{{Text: "a"}, {Text: "b"}}))
		require.Equal(t, kiln.EventNotice{BuildID: b.ID, OwnerID: u.ID, Seq: 3, UserSeq: 3}, waitNotice(t, notes),
			"one notice per transaction, with its last seqs")

		// A rolled-back transaction tells no one.
		e.Queue.FailWith(fmt.Errorf("queue down"))
		_, _, err = e.Apps.CreateApp(e.ctx(u), kiln.AppCreate{Description: "never built"})
		require.Error(t, err)
		e.Queue.FailWith(nil)
		require.NoError(t, e.Work.AppendLogs(bg, b.ID, []*kiln.LogLine{{Text: "c"}}))
		require.Equal(t, kiln.EventNotice{BuildID: b.ID, OwnerID: u.ID, Seq: 4, UserSeq: 4}, waitNotice(t, notes))
	})

	t.Run("StreamTickets", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
		e := newEnvFrom(t, open(t, sqlstore.Options{Now: clock.Now}))
		ev := sqlstore.NewBuildEventService(e.DB)
		u := MustCreateUser(t, e, "u@example.com")

		tk, err := ev.CreateStreamTicket(e.ctx(u), time.Minute)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(tk.Ticket, sqlstore.StreamTicketPrefix))
		require.Equal(t, clock.Now().Add(time.Minute), tk.ExpiresAt)
		got, err := ev.RedeemStreamTicket(bg, tk.Ticket)
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, u.Email, got.Email)
		_, err = ev.RedeemStreamTicket(bg, tk.Ticket)
		RequireCode(t, err, kiln.EUnauthorized) // single use

		expired, err := ev.CreateStreamTicket(e.ctx(u), time.Minute)
		require.NoError(t, err)
		clock.Add(time.Minute)
		_, err = ev.RedeemStreamTicket(bg, expired.Ticket)
		RequireCode(t, err, kiln.EUnauthorized)

		for _, bad := range []string{"", "kst_nope", tk.Ticket + "x", strings.Repeat("kst_", 40)} {
			_, err = ev.RedeemStreamTicket(bg, bad)
			RequireCode(t, err, kiln.EUnauthorized)
		}
		_, err = ev.CreateStreamTicket(bg, time.Minute)
		RequireCode(t, err, kiln.EUnauthorized)

		long, err := ev.CreateStreamTicket(e.ctx(u), 24*time.Hour)
		require.NoError(t, err)
		require.Equal(t, clock.Now().Add(sqlstore.MaxStreamTicketTTL), long.ExpiresAt, "the lifetime is capped")
		_, err = ev.CreateStreamTicket(e.ctx(u), time.Minute)
		require.NoError(t, err)
		clock.Add(5 * time.Minute)
		require.NoError(t, ev.DeleteExpiredStreamTickets(bg, clock.Now()))
		require.Equal(t, 1, e.count(t, "stream_tickets"), "only the long one is left")
	})

	t.Run("PruneLogs", func(t *testing.T) {
		t.Parallel()
		clock := NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
		e := newEnvFrom(t, open(t, sqlstore.Options{Now: clock.Now}))
		ev := sqlstore.NewBuildEventService(e.DB)
		u := MustCreateUser(t, e, "u@example.com")
		_, old := MustCreateApp(t, e, u, "old")
		_, recent := MustCreateApp(t, e, u, "recent")
		_, running := MustCreateApp(t, e, u, "running")
		for _, b := range []*kiln.Build{old, recent, running} {
			MustClaim(t, e, b.ID, "l")
			require.NoError(t, e.Work.AppendLogs(bg, b.ID, []*kiln.LogLine{{Text: "one"}, {Text: "two"}}))
		}
		require.NoError(t, e.Work.FinishBuild(bg, old.ID, "l", kiln.BuildSucceeded, ""))
		clock.Add(48 * time.Hour)
		require.NoError(t, e.Work.FinishBuild(bg, recent.ID, "l", kiln.BuildSucceeded, ""))

		builds, lines, err := ev.PruneLogs(bg, clock.Now().Add(-24*time.Hour), 10)
		require.NoError(t, err)
		require.Equal(t, 1, builds)
		require.Equal(t, int64(2), lines)
		require.Empty(t, allLogs(t, e, u, old.ID))
		require.Len(t, allLogs(t, e, u, recent.ID), 2)
		require.Len(t, allLogs(t, e, u, running.ID), 2)
		events, err := ev.FindEvents(e.ctx(u), old.ID, 0, 0)
		require.NoError(t, err)
		require.Len(t, events, 2, "status and end stay")
		require.Equal(t, kiln.EventEnd, events[1].Kind)
		when, err := ev.LogsPruned(bg, old.ID)
		require.NoError(t, err)
		require.NotNil(t, when)
		when, err = ev.LogsPruned(bg, recent.ID)
		require.NoError(t, err)
		require.Nil(t, when)

		builds, _, err = ev.PruneLogs(bg, clock.Now().Add(-24*time.Hour), 10)
		require.NoError(t, err)
		require.Zero(t, builds, "a pruned build is not visited again")
	})
}

// describe renders an event compactly for comparisons.
func describe(e *kiln.BuildEvent) string {
	switch e.Kind {
	case kiln.EventStatus:
		return strings.TrimSpace(fmt.Sprintf("status %s %s", e.Status.Status, e.Status.Step))
	case kiln.EventStep:
		return strings.TrimSpace(fmt.Sprintf("step %s %s %s %s", e.Step.Name, e.Step.Phase, e.Step.Outcome, e.Step.Error))
	case kiln.EventLog:
		return fmt.Sprintf("log %s %s", e.Log.Stream, e.Log.Text)
	case kiln.EventArtifact:
		return "artifact " + e.Artifact.Name
	case kiln.EventEnd:
		return strings.TrimSpace(fmt.Sprintf("end %s %s", e.End.Status, e.End.Error))
	}
	return "unknown " + string(e.Kind)
}

func waitNotice(t *testing.T, ch <-chan kiln.EventNotice) kiln.EventNotice {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no event notice within 10s")
		return kiln.EventNotice{}
	}
}
