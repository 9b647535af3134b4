package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

// farFuture is a staleBefore that makes every heartbeat stale, standing in
// for "the worker stopped beating long ago" without sleeping.
func farFuture() time.Time { return time.Now().Add(24 * time.Hour) }

// allLogs reads every log line of a build as its owner.
func allLogs(t *testing.T, e *Env, u *kiln.User, buildID int64) []*kiln.LogLine {
	t.Helper()
	var out []*kiln.LogLine
	var after int64
	for {
		lines, err := e.Builds.FindLogs(e.ctx(u), buildID, after, sqlstore.MaxLogLimit)
		require.NoError(t, err)
		if len(lines) == 0 {
			return out
		}
		out = append(out, lines...)
		after = lines[len(lines)-1].Seq
	}
}

func testWork(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	bg := context.Background()

	t.Run("ClaimBuild", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app, b := MustCreateApp(t, e, u, "a todo list")
		past := time.Now().Add(-time.Hour)

		got, gotApp, err := e.Work.ClaimBuild(bg, b.ID, "w1", past)
		require.NoError(t, err)
		require.Equal(t, 1, got.Attempt)
		require.NotNil(t, got.StartedAt)
		require.Equal(t, kiln.BuildQueued, got.Status, "the worker sets the status as it goes")
		require.Equal(t, app.ID, gotApp.ID)
		require.Equal(t, app.Description, gotApp.Description)

		_, _, err = e.Work.ClaimBuild(bg, b.ID, "w2", past)
		RequireCode(t, err, kiln.EConflict) // held by w1, heartbeat fresh
		_, _, err = e.Work.ClaimBuild(bg, 99999, "w2", past)
		RequireCode(t, err, kiln.ENotFound)
		_, _, err = e.Work.ClaimBuild(bg, b.ID, "", past)
		RequireCode(t, err, kiln.EInvalid)

		// w1 stops beating: w2 takes the build over and w1 is locked out.
		got, _, err = e.Work.ClaimBuild(bg, b.ID, "w2", farFuture())
		require.NoError(t, err)
		require.Equal(t, 2, got.Attempt)
		_, err = e.Work.Heartbeat(bg, b.ID, "w1")
		RequireCode(t, err, kiln.EConflict)
		RequireCode(t, e.Work.SetBuildStatus(bg, b.ID, "w1", kiln.BuildPlanning, "plan"), kiln.EConflict)
		RequireCode(t, e.Work.SetBuildSpec(bg, b.ID, "w1", validSpec("todo")), kiln.EConflict)
		RequireCode(t, e.Work.FinishBuild(bg, b.ID, "w1", kiln.BuildSucceeded, ""), kiln.EConflict)
		RequireCode(t, e.Work.ReleaseBuild(bg, b.ID, "w1", "oops"), kiln.EConflict)
		_, err = e.Work.Heartbeat(bg, 99999, "w1")
		RequireCode(t, err, kiln.ENotFound)

		require.NoError(t, e.Work.FinishBuild(bg, b.ID, "w2", kiln.BuildSucceeded, ""))
		_, _, err = e.Work.ClaimBuild(bg, b.ID, "w3", farFuture())
		RequireCode(t, err, kiln.EConflict) // ended
		_, err = e.Work.Heartbeat(bg, b.ID, "w2")
		RequireCode(t, err, kiln.EConflict) // the lease went with the finish
	})

	t.Run("StatusAndSpec", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app, b := MustCreateApp(t, e, u, "a library")
		MustClaim(t, e, b.ID, "l")
		require.NoError(t, e.Work.SetBuildStatus(bg, b.ID, "l", kiln.BuildPlanning, "plan"))
		got, err := e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildPlanning, got.Status)
		require.Equal(t, "plan", got.Step)
		require.NoError(t, e.Work.SetBuildStatus(bg, b.ID, "l", "", "plan-llm"))
		got, err = e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildPlanning, got.Status, "an empty status keeps the current one")
		require.Equal(t, "plan-llm", got.Step)
		RequireField(t, e.Work.SetBuildStatus(bg, b.ID, "l", kiln.BuildSucceeded, ""), "status")
		RequireField(t, e.Work.SetBuildStatus(bg, b.ID, "l", "bogus", ""), "status")

		spec := validSpec("library")
		require.NoError(t, e.Work.SetBuildSpec(bg, b.ID, "l", spec))
		got, err = e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, spec, got.Spec)
		gotApp, err := e.Apps.FindAppByID(e.ctx(u), app.ID)
		require.NoError(t, err)
		require.Equal(t, spec, gotApp.Spec, "the planned spec becomes the app's")
		bad := validSpec("Library")
		RequireField(t, e.Work.SetBuildSpec(bg, b.ID, "l", bad), "name")

		RequireField(t, e.Work.FinishBuild(bg, b.ID, "l", kiln.BuildPackaging, ""), "status")
		require.NoError(t, e.Work.FinishBuild(bg, b.ID, "l", kiln.BuildFailed, "go vet failed:\x00 \xff"))
		got, err = e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildFailed, got.Status)
		require.True(t, utf8.ValidString(got.Error))
		require.True(t, strings.HasPrefix(got.Error, "go vet failed:"))
		require.NotNil(t, got.FinishedAt)
	})

	t.Run("Steps", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		lease := "l"
		MustClaim(t, e, b.ID, lease)
		s, err := e.Work.StartStep(bg, b.ID, "vet")
		require.NoError(t, err)
		require.Equal(t, kiln.StepRunning, s.Outcome)
		RequireField(t, e.Work.FinishStep(bg, s.ID, kiln.StepRunning, ""), "outcome")
		require.NoError(t, e.Work.FinishStep(bg, s.ID, kiln.StepFailed, "exit status 1"))
		RequireCode(t, e.Work.FinishStep(bg, s.ID, kiln.StepSucceeded, ""), kiln.EConflict)
		RequireCode(t, e.Work.FinishStep(bg, 99999, kiln.StepSucceeded, ""), kiln.ENotFound)
		_, err = e.Work.StartStep(bg, 99999, "vet")
		RequireCode(t, err, kiln.ENotFound)
		_, err = e.Work.StartStep(bg, b.ID, "")
		RequireField(t, err, "name")

		// Steps still running when the build fails end with it.
		open, err := e.Work.StartStep(bg, b.ID, "test")
		require.NoError(t, err)
		require.NoError(t, e.Work.FinishBuild(bg, b.ID, lease, kiln.BuildFailed, "tests failed"))
		steps, err := e.Builds.FindSteps(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Len(t, steps, 2)
		require.Equal(t, "exit status 1", steps[0].Error)
		require.Equal(t, open.ID, steps[1].ID)
		require.Equal(t, kiln.StepFailed, steps[1].Outcome)
		require.NotNil(t, steps[1].FinishedAt)
	})

	t.Run("AppendLogs", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		at := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))
		long := strings.Repeat("é", kiln.MaxLogLineLen) // 2 bytes each
		lines := []*kiln.LogLine{
			{Stream: kiln.StreamStdout, Text: "first", Time: at},
			{Stream: kiln.StreamStderr, Text: long},
			{Text: "bad \xff bytes and a \x00 nul"},
		}
		require.NoError(t, e.Work.AppendLogs(bg, b.ID, lines))
		// Seq 1 is the build's queued status event; log lines share its sequence.
		require.Equal(t, []int64{2, 3, 4}, []int64{lines[0].Seq, lines[1].Seq, lines[2].Seq})
		require.NoError(t, e.Work.AppendLogs(bg, b.ID, []*kiln.LogLine{{Stream: kiln.StreamSystem, Text: "fourth"}}))
		require.NoError(t, e.Work.AppendLogs(bg, b.ID, nil))

		got := allLogs(t, e, u, b.ID)
		require.Len(t, got, 4)
		require.Equal(t, lines[0], got[0], "a line round-trips exactly")
		require.True(t, got[0].Time.Equal(at.Truncate(time.Microsecond)), "time keeps microseconds: %v", got[0].Time)
		require.LessOrEqual(t, len(got[1].Text), kiln.MaxLogLineLen)
		require.True(t, utf8.ValidString(got[1].Text))
		require.Contains(t, got[1].Text, "cut", "a cut line says so")
		require.Equal(t, kiln.StreamSystem, got[2].Stream, "an empty stream is a system line")
		require.True(t, utf8.ValidString(got[2].Text))
		require.NotContains(t, got[2].Text, "\x00")
		require.Equal(t, int64(5), got[3].Seq)

		after, err := e.Builds.FindLogs(e.ctx(u), b.ID, 3, 1)
		require.NoError(t, err)
		require.Len(t, after, 1)
		require.Equal(t, int64(4), after[0].Seq)

		RequireCode(t, e.Work.AppendLogs(bg, 99999, []*kiln.LogLine{{Text: "x"}}), kiln.ENotFound)
		RequireField(t, e.Work.AppendLogs(bg, b.ID, []*kiln.LogLine{{Text: "x"}, {Stream: "stdin", Text: "x"}}), "lines[1].stream")
	})

	t.Run("AppendLogsConcurrent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		_, b := MustCreateApp(t, e, u, "a todo list")
		const writers, batches, perBatch = 6, 15, 4
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range batches {
					var lines []*kiln.LogLine
					for j := range perBatch {
						lines = append(lines, &kiln.LogLine{Stream: kiln.StreamStdout, Text: fmt.Sprintf("w%d b%d l%d", w, i, j)})
					}
					if err := e.Work.AppendLogs(bg, b.ID, lines); err != nil {
						t.Errorf("append: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		got := allLogs(t, e, u, b.ID)
		require.Len(t, got, writers*batches*perBatch)
		seen := map[string]bool{}
		for i, l := range got {
			require.Equal(t, int64(i+2), l.Seq, "seqs are gapless and unique (1 is the queued status)")
			require.False(t, seen[l.Text], "line stored once: %s", l.Text)
			seen[l.Text] = true
		}
		// Each batch's lines stay together and in order.
		for i := 0; i < len(got); i += perBatch {
			prefix := got[i].Text[:strings.LastIndex(got[i].Text, " ")]
			for j := range perBatch {
				require.Equal(t, fmt.Sprintf("%s l%d", prefix, j), got[i+j].Text)
			}
		}
	})

	t.Run("ReleaseBuild", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app, b := MustCreateApp(t, e, u, "a todo list")
		MustClaim(t, e, b.ID, "l1")
		require.NoError(t, e.Work.SetBuildStatus(bg, b.ID, "l1", kiln.BuildValidating, "vet"))
		_, err := e.Work.StartStep(bg, b.ID, "vet")
		require.NoError(t, err)
		require.NoError(t, e.Work.ReleaseBuild(bg, b.ID, "l1", "sandbox crashed"))
		got, err := e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildQueued, got.Status)
		steps, err := e.Builds.FindSteps(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.StepFailed, steps[0].Outcome)
		logs := allLogs(t, e, u, b.ID)
		require.Contains(t, logs[len(logs)-1].Text, "sandbox crashed")

		// The retry claims it at once: the lease is free, not merely stale.
		got = MustClaim(t, e, b.ID, "l2")
		require.Equal(t, 2, got.Attempt)
		_, err = e.Builds.CancelBuild(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.NoError(t, e.Work.ReleaseBuild(bg, b.ID, "l2", "node shutting down"))
		got, err = e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildCanceled, got.Status, "a release after a cancel request cancels")
		require.Len(t, e.Queue.IDs(), 1, "a release enqueues nothing; the queue retries its own job")
		_ = app
	})
}

func testRescue(t *testing.T, open func(t *testing.T) *sqlstore.DB) {
	bg := context.Background()

	t.Run("RequeueAndFail", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		app, retry := MustCreateApp(t, e, u, "first")
		_, giveUp := MustCreateApp(t, e, u, "second")
		_, alive := MustCreateApp(t, e, u, "third")
		_, idle := MustCreateApp(t, e, u, "fourth") // queued, never claimed
		MustClaim(t, e, retry.ID, "a")
		require.NoError(t, e.Work.SetBuildStatus(bg, retry.ID, "a", kiln.BuildGenerating, "render"))
		_, err := e.Work.StartStep(bg, retry.ID, "render")
		require.NoError(t, err)
		MustClaim(t, e, giveUp.ID, "b1")
		_, _, err = e.Work.ClaimBuild(bg, giveUp.ID, "b2", farFuture())
		require.NoError(t, err) // attempt 2
		MustClaim(t, e, alive.ID, "c")
		enqueuedBefore := len(e.Queue.IDs())

		requeued, failed, err := e.Work.RescueStaleBuilds(bg, time.Now().Add(-time.Hour), 2)
		require.NoError(t, err)
		require.Empty(t, requeued, "fresh heartbeats are left alone")
		require.Empty(t, failed)

		// Only retry and giveUp go stale: alive beats again after the cutoff.
		cutoff := time.Now()
		_, err = e.Work.Heartbeat(bg, alive.ID, "c")
		require.NoError(t, err)

		requeued, failed, err = e.Work.RescueStaleBuilds(bg, cutoff, 2)
		require.NoError(t, err)
		require.Equal(t, []int64{retry.ID}, requeued)
		require.Equal(t, []int64{giveUp.ID}, failed)
		require.Equal(t, append(e.Queue.IDs()[:enqueuedBefore:enqueuedBefore], retry.ID), e.Queue.IDs(),
			"a requeued build gets a new job")

		got, err := e.Builds.FindBuildByID(e.ctx(u), retry.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildQueued, got.Status)
		logs := allLogs(t, e, u, retry.ID)
		require.Contains(t, logs[len(logs)-1].Text, "worker lost; retrying, attempt 2")
		steps, err := e.Builds.FindSteps(e.ctx(u), retry.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.StepFailed, steps[0].Outcome)
		_, err = e.Work.Heartbeat(bg, retry.ID, "a")
		RequireCode(t, err, kiln.EConflict)
		got = MustClaim(t, e, retry.ID, "a2")
		require.Equal(t, 2, got.Attempt)

		got, err = e.Builds.FindBuildByID(e.ctx(u), giveUp.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildFailed, got.Status)
		require.Contains(t, got.Error, "lost 2 times")
		require.NotNil(t, got.FinishedAt)

		for _, id := range []int64{alive.ID, idle.ID} {
			got, err = e.Builds.FindBuildByID(e.ctx(u), id)
			require.NoError(t, err)
			require.Equal(t, kiln.BuildQueued, got.Status)
		}
		_, err = e.Work.Heartbeat(bg, alive.ID, "c")
		require.NoError(t, err, "the live worker keeps its lease")
		_ = app
	})

	t.Run("CancelRequested", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		_, b := MustCreateApp(t, e, u, "first")
		MustClaim(t, e, b.ID, "a")
		_, err := e.Builds.CancelBuild(e.ctx(u), b.ID)
		require.NoError(t, err)
		requeued, failed, err := e.Work.RescueStaleBuilds(bg, farFuture(), 5)
		require.NoError(t, err)
		require.Empty(t, requeued)
		require.Equal(t, []int64{b.ID}, failed)
		got, err := e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildCanceled, got.Status)
	})

	t.Run("EnqueueFailureRollsBack", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, open)
		u := MustCreateUser(t, e, "u@example.com")
		_, b := MustCreateApp(t, e, u, "first")
		MustClaim(t, e, b.ID, "a")
		require.NoError(t, e.Work.SetBuildStatus(bg, b.ID, "a", kiln.BuildPlanning, "plan"))
		boom := errors.New("queue down")
		e.Queue.FailWith(boom)
		requeued, failed, err := e.Work.RescueStaleBuilds(bg, farFuture(), 3)
		require.ErrorIs(t, err, boom)
		require.Empty(t, requeued)
		require.Empty(t, failed)
		got, err := e.Builds.FindBuildByID(e.ctx(u), b.ID)
		require.NoError(t, err)
		require.Equal(t, kiln.BuildPlanning, got.Status, "nothing changed without the new job")
		logs := allLogs(t, e, u, b.ID)
		require.Empty(t, logs)

		e.Queue.FailWith(nil)
		requeued, _, err = e.Work.RescueStaleBuilds(bg, farFuture(), 3)
		require.NoError(t, err)
		require.Equal(t, []int64{b.ID}, requeued)
	})
}
