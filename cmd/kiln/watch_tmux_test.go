package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/cli/watch"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/config"
)

// tmuxSession runs one command in a detached tmux session of its own
// server, on a 100×30 terminal, and reads its screen.
type tmuxSession struct {
	t      *testing.T
	socket string
	env    []string
}

// startTmux starts command in tmux; it skips the test when tmux is not
// installed (.ci/run installs it).
func startTmux(t *testing.T, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux): skipping the terminal UI test that drives a real terminal")
	}
	dir := t.TempDir()
	s := &tmuxSession{t: t, socket: filepath.Join(dir, "tmux.sock"),
		env: append(os.Environ(), "TMUX_TMPDIR="+dir, "TERM=xterm-256color")}
	s.run("-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", "-s", "kiln", command, ";", "set-option", "-g", "status", "off")
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", s.socket}, args...)...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen returns what the terminal shows, as text.
func (s *tmuxSession) screen() string {
	s.t.Helper()
	return s.run("capture-pane", "-p", "-t", "kiln")
}

// keys types keys into the terminal.
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	s.run(append([]string{"send-keys", "-t", "kiln"}, keys...)...)
}

// size returns the terminal's width and height.
func (s *tmuxSession) size() (w, h int) {
	s.t.Helper()
	out := s.run("display-message", "-p", "-t", "kiln", "#{pane_width} #{pane_height}")
	if _, err := fmt.Sscan(out, &w, &h); err != nil {
		s.t.Fatalf("pane size %q: %v", out, err)
	}
	return w, h
}

// logPane returns the lines of a watch screen's log pane, from its
// header to its bottom border, without trailing spaces.
func logPane(screen string) string {
	var out []string
	in := false
	for _, line := range strings.Split(screen, "\n") {
		switch {
		case strings.HasPrefix(line, "┌"):
			in = true
		case strings.HasPrefix(line, "└"):
			in = false
		}
		if in {
			out = append(out, strings.TrimRight(line, " "))
		}
	}
	return strings.Join(out, "\n")
}

// waitScreen waits until the screen matches re and returns it.
func (s *tmuxSession) waitScreen(what string, re *regexp.Regexp) string {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		sc := s.screen()
		if re.MatchString(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %s (%s):\n%s", what, re, sc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWatchAcrossRestart runs `kiln builds watch` — the real binary, its
// Bubble Tea UI on a real terminal (tmux) — while the server it watches
// is stopped mid-build and started again on the same address. The screen
// says it is reconnecting, then follows the build again from where it
// was: the log pane ends with every line of the build exactly once, the
// steps and the outcome are shown, and q exits with the build's outcome.
func TestWatchAcrossRestart(t *testing.T) {
	bin := mustKilnBinary(t)
	dataDir := t.TempDir()
	p1 := newGatedPipeline(5)
	first := mustMainWith(t, "", dataDir, []string{"api", "worker"}, p1, nil)
	MustUser(t, first, "alice@example.com")
	ctx := context.Background()
	sess, err := client.New(first.URL()).Login(ctx, "alice@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	alice := client.New(first.URL(), client.WithToken(sess.AccessToken))
	app, b, err := alice.CreateApp(ctx, kiln.AppCreate{Description: "a todo app with tasks (title)"})
	if err != nil {
		t.Fatal(err)
	}
	<-p1.started

	tm := startTmux(t, fmt.Sprintf("env KILN_SERVER=%s KILN_TOKEN=%s KILN_CONFIG_DIR=%s NO_COLOR=1 %s builds watch %d; echo EXIT=$?; sleep 600",
		first.URL(), sess.AccessToken, t.TempDir(), bin, b.ID))
	title := regexp.MustCompile(fmt.Sprintf(`Build %d \(#1\) of %s\s+● live`, b.ID, regexp.QuoteMeta(app.Name)))
	tm.waitScreen("the build live", title)
	tm.waitScreen("the gate line", regexp.MustCompile(`waiting at the gate`))

	// Stop the server mid-build: the worker hands the build back, and the
	// next server runs it again from the start.
	addr := strings.TrimPrefix(first.URL(), "http://")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	tm.waitScreen("the reconnecting state", regexp.MustCompile(`○ reconnecting`))
	p2 := newGatedPipeline(5)
	close(p2.gate)
	second := mustMainWith(t, "", dataDir, []string{"api", "worker"}, p2, func(c *config.Config) { c.Addr = addr })

	sc := tm.waitScreen("the end", regexp.MustCompile(`succeeded in \S+`))
	t.Logf("the screen at the end:\n%s", sc)
	// The log pane shows what a clean replay of the whole build shows:
	// every line once, in order, and the same count in its header.
	w, h := tm.size()
	var replay tea.Model = watch.New(b, app.Name, watch.Actions{}, nil)
	replay, _ = replay.Update(tea.WindowSizeMsg{Width: w, Height: h})
	again := client.New(second.URL(), client.WithToken(sess.AccessToken))
	if _, err := again.FollowBuild(ctx, b.ID, client.StreamOptions{}, func(e *kiln.BuildEvent) error {
		replay, _ = replay.Update(watch.EventMsg{Event: e})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, got := logPane(ansi.Strip(replay.View().Content)), logPane(sc)
	if want == "" || got != want {
		t.Errorf("the log pane after the restart:\n%s\nwant, as a clean replay shows it:\n%s", got, want)
	}
	for i := range 5 {
		if n := strings.Count(sc, fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Errorf("line %d is on the screen %d times:\n%s", i, n, sc)
		}
	}
	for _, step := range []string{"plan", "test", "package"} {
		if !regexp.MustCompile(`✓ ` + step + `\s`).MatchString(sc) {
			t.Errorf("step %s is not shown as succeeded:\n%s", step, sc)
		}
	}
	if strings.Contains(sc, "reconnecting") || strings.Contains(sc, "disconnected") {
		t.Errorf("the status should be back from reconnecting:\n%s", sc)
	}

	tm.keys("q")
	sc = tm.waitScreen("the exit", regexp.MustCompile(`EXIT=\d+`))
	if !strings.Contains(sc, "EXIT=0") || !regexp.MustCompile(fmt.Sprintf(`Build %d \(#1\) succeeded in`, b.ID)).MatchString(sc) {
		t.Errorf("kiln builds watch should exit 0 after a successful build:\n%s", sc)
	}
}

// TestAppsCreateWatchInTerminal runs `kiln apps create … --watch` on a
// real terminal: the UI follows the new build, c asks before canceling,
// y cancels it, and q exits 1 with the outcome.
func TestAppsCreateWatchInTerminal(t *testing.T) {
	bin := mustKilnBinary(t)
	m := MustMain(t, "", t.TempDir(), []string{"api", "worker"}, testPipeline{})
	MustUser(t, m, "alice@example.com")
	sess, err := client.New(m.URL()).Login(context.Background(), "alice@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	// "slow": the test step runs until the build is canceled.
	tm := startTmux(t, fmt.Sprintf("env KILN_SERVER=%s KILN_TOKEN=%s KILN_CONFIG_DIR=%s NO_COLOR=1 %s apps create 'a slow todo app with tasks (title)' --name slow --watch; echo EXIT=$?; sleep 600",
		m.URL(), sess.AccessToken, t.TempDir(), bin))
	tm.waitScreen("the build's test step", regexp.MustCompile(`(?s)Build \d+ \(#1\) of slow\s+● live.*ok  \s*demo/pkg2`))
	tm.keys("c")
	tm.waitScreen("the confirmation", regexp.MustCompile(`Cancel build \d+\? y to cancel it`))
	tm.keys("y")
	sc := tm.waitScreen("the canceled build", regexp.MustCompile(`canceled in \S+`))
	if !regexp.MustCompile(`■ test\s`).MatchString(sc) {
		t.Errorf("the test step should show as canceled:\n%s", sc)
	}
	tm.keys("q")
	sc = tm.waitScreen("the exit", regexp.MustCompile(`EXIT=\d+`))
	if !strings.Contains(sc, "EXIT=1") || !regexp.MustCompile(`Build \d+ \(#1\) canceled in`).MatchString(sc) {
		t.Errorf("a canceled build should exit 1 and say so:\n%s", sc)
	}
}
