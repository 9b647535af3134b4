package watch_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/cli/watch"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// harness drives a model the way a program would and records what the
// actions were asked to do.
type harness struct {
	t        *testing.T
	m        tea.Model
	seq      int64
	now      time.Time
	canceled []int64
	rebuilt  []int64
	followed []int64
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, now: t0.Add(10 * time.Second)}
	b := &kiln.Build{ID: 42, AppID: 7, Number: 3, Status: kiln.BuildQueued, CreatedAt: t0}
	h.m = watch.New(b, "todo", watch.Actions{
		Cancel: func(id int64) tea.Cmd {
			h.canceled = append(h.canceled, id)
			return func() tea.Msg { return watch.ActionMsg{Text: "cancel requested"} }
		},
		Rebuild: func(appID int64) tea.Cmd {
			h.rebuilt = append(h.rebuilt, appID)
			return func() tea.Msg {
				return watch.ActionMsg{Text: "build 43 (#4) queued", New: &kiln.Build{ID: 43, AppID: appID, Number: 4, Status: kiln.BuildQueued}}
			}
		},
		Follow: func(id int64) tea.Cmd {
			h.followed = append(h.followed, id)
			return nil
		},
	}, func() time.Time { return h.now })
	h.send(tea.WindowSizeMsg{Width: 100, Height: 30})
	return h
}

// send applies a message and then, like a program, the messages of the
// commands it returns (not timers).
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	var cmd tea.Cmd
	h.m, cmd = h.m.Update(msg)
	h.run(cmd)
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		switch msg := msg.(type) {
		case tea.BatchMsg:
			for _, c := range msg {
				h.run(c)
			}
		case nil, tea.QuitMsg:
		default:
			h.send(msg)
		}
	case <-time.After(50 * time.Millisecond):
		// a timer (the spinner's tick): not followed
	}
}

func (h *harness) key(s string) {
	h.t.Helper()
	k := tea.KeyPressMsg{Text: s, Code: []rune(s)[0]}
	switch s {
	case "up":
		k = tea.KeyPressMsg{Code: tea.KeyUp}
	case "pgup":
		k = tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "end":
		k = tea.KeyPressMsg{Code: tea.KeyEnd}
	}
	h.send(k)
}

func (h *harness) event(e *kiln.BuildEvent) {
	h.t.Helper()
	h.seq++
	e.BuildID, e.Seq, e.Time = 42, h.seq, t0.Add(time.Duration(h.seq)*time.Second)
	h.send(watch.EventMsg{Event: e})
}

func (h *harness) status(s kiln.BuildStatus, step string) {
	h.event(&kiln.BuildEvent{Kind: kiln.EventStatus, Status: &kiln.StatusEvent{Status: s, Step: step}})
}

func (h *harness) stepStarted(id int64, name string) {
	h.event(&kiln.BuildEvent{Kind: kiln.EventStep, Step: &kiln.StepEvent{ID: id, Name: name, Phase: kiln.StepStarted, Outcome: kiln.StepRunning}})
}

func (h *harness) stepFinished(id int64, name string, o kiln.StepOutcome, ms int64, errMsg string) {
	h.event(&kiln.BuildEvent{Kind: kiln.EventStep, Step: &kiln.StepEvent{ID: id, Name: name, Phase: kiln.StepFinished, Outcome: o, DurationMS: ms, Error: errMsg}})
}

func (h *harness) log(text string) {
	h.event(&kiln.BuildEvent{Kind: kiln.EventLog, Log: &kiln.LogEvent{Stream: kiln.StreamStdout, Text: text}})
}

// screen returns the view as plain text.
func (h *harness) screen() string {
	return ansi.Strip(h.m.View().Content)
}

func (h *harness) model() watch.Model { return h.m.(watch.Model) }

func TestWatchShowsTheBuild(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.send(h.m.Init()())
	assert.Equal(t, []int64{42}, h.followed, "Init starts the stream")
	s := h.screen()
	assert.Contains(t, s, "Build 42 (#3) of todo")
	assert.Contains(t, s, "● live")
	assert.Contains(t, s, "waiting for a worker")

	h.status(kiln.BuildPlanning, "plan")
	h.stepStarted(1, "plan")
	h.log("planning todo")
	h.stepFinished(1, "plan", kiln.StepSucceeded, 400, "")
	h.status(kiln.BuildValidating, "test")
	h.stepStarted(2, "test")
	h.log("ok  \tdemo/store\t0.01s")
	h.log("\x1b[31mred text\x1b[0m")
	s = h.screen()
	assert.Regexp(t, `✓ plan\s+400ms`, s)
	assert.Regexp(t, `test\s+4s`, s, "a running step shows how long it has run")
	assert.NotContains(t, s, "waiting for a worker")
	assert.Contains(t, s, "60%")
	assert.Contains(t, s, "validating · test")
	assert.Contains(t, s, "planning todo")
	assert.Contains(t, s, "ok   demo/store 0.01s")
	assert.Contains(t, s, "[31mred text[0m", "escapes from the build are neutralized")
	assert.NotContains(t, h.m.View().Content, "\x1b[31mred", "no raw escape from the build reaches the terminal")
	assert.Contains(t, s, "log (3 lines)")
	assert.Contains(t, s, "q quit · c cancel · r rebuild")

	h.stepFinished(2, "test", kiln.StepFailed, 2300, "exit status 1")
	h.event(&kiln.BuildEvent{Kind: kiln.EventEnd, End: &kiln.EndEvent{Status: kiln.BuildFailed, Error: "go test failed", DurationMS: 3100}})
	s = h.screen()
	assert.Regexp(t, `✗ test\s+2.3s\s+exit status 1`, s)
	assert.Contains(t, s, "100%")
	assert.Contains(t, s, "failed in 3.1s: go test failed")
	assert.Contains(t, s, "ended")
	assert.NotContains(t, s, "c cancel", "an ended build cannot be canceled")
	require.NotNil(t, h.model().Ended())
	assert.Equal(t, kiln.BuildFailed, h.model().Ended().Status)

	// Repeated or foreign events change nothing.
	before := h.screen()
	h.send(watch.EventMsg{Event: &kiln.BuildEvent{BuildID: 42, Seq: 3, Kind: kiln.EventLog, Log: &kiln.LogEvent{Text: "again"}}})
	h.send(watch.EventMsg{Event: &kiln.BuildEvent{BuildID: 99, Seq: 100, Kind: kiln.EventLog, Log: &kiln.LogEvent{Text: "other"}}})
	assert.Equal(t, before, h.screen())
}

func TestWatchCancelAsksFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.status(kiln.BuildPlanning, "plan")
	h.key("c")
	assert.Contains(t, h.screen(), "Cancel build 42? y to cancel it")
	h.key("n")
	assert.Empty(t, h.canceled)
	assert.Contains(t, h.screen(), "not canceled")
	h.key("c")
	h.key("y")
	assert.Equal(t, []int64{42}, h.canceled)
	assert.Contains(t, h.screen(), "cancel requested")

	h.send(watch.ActionMsg{Err: kiln.Errorf(kiln.EConflict, "build 42 has already ended (succeeded)")})
	assert.Contains(t, h.screen(), "build 42 has already ended (succeeded)")
}

func TestWatchRebuildFollowsTheNewBuild(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.status(kiln.BuildPlanning, "plan")
	h.log("old line")
	h.event(&kiln.BuildEvent{Kind: kiln.EventEnd, End: &kiln.EndEvent{Status: kiln.BuildSucceeded}})
	h.key("r")
	assert.Equal(t, []int64{7}, h.rebuilt)
	assert.Equal(t, []int64{43}, h.followed)
	s := h.screen()
	assert.Contains(t, s, "Build 43 (#4) of todo")
	assert.Contains(t, s, "build 43 (#4) queued")
	assert.NotContains(t, s, "old line")
	assert.Nil(t, h.model().Ended())
	assert.Equal(t, int64(43), h.model().Build().ID)
}

func TestWatchQuit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var cmd tea.Cmd
	h.m, cmd = h.m.Update(tea.KeyPressMsg{Text: "q", Code: 'q'})
	require.NotNil(t, cmd)
	assert.IsType(t, tea.QuitMsg{}, cmd())
	assert.True(t, h.model().Quit())
}

func TestWatchScrollsTheLog(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for i := range 100 {
		h.log(fmt.Sprintf("line %03d", i))
	}
	s := h.screen()
	assert.Contains(t, s, "line 099", "follows the newest line")
	assert.NotContains(t, s, "line 050")
	h.key("pgup")
	h.key("pgup")
	s = h.screen()
	assert.NotContains(t, s, "line 099")
	assert.Contains(t, s, "scrolled, End follows")
	h.log("line 100")
	assert.NotContains(t, h.screen(), "line 100", "scrolled back, it stays put")
	h.key("end")
	assert.Contains(t, h.screen(), "line 100")
	assert.NotContains(t, h.screen(), "scrolled")

	// The screen never grows past the terminal.
	assert.LessOrEqual(t, strings.Count(h.screen(), "\n")+1, 30)
	for _, line := range strings.Split(h.screen(), "\n") {
		assert.LessOrEqual(t, ansi.StringWidth(line), 100)
	}
}

func TestWatchConnection(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.send(watch.ConnMsg{Err: errors.New("server restarting")})
	assert.Contains(t, h.screen(), "○ reconnecting: server restarting")
	h.log("back")
	assert.Contains(t, h.screen(), "● live")
	h.send(watch.StreamErrMsg{Err: errors.New("gave up reconnecting after 2m0s")})
	s := h.screen()
	assert.Contains(t, s, "✗ disconnected")
	assert.Contains(t, s, "lost the stream: gave up reconnecting after 2m0s")
}

func TestWatchNarrowTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.send(tea.WindowSizeMsg{Width: 30, Height: 10})
	h.log(strings.Repeat("x", 200))
	for _, line := range strings.Split(h.screen(), "\n") {
		assert.LessOrEqual(t, ansi.StringWidth(line), 30, "%q", line)
	}
}
