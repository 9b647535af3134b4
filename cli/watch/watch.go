// Package watch is the terminal UI of `kiln builds watch`: a Bubble Tea
// model that shows one build live — its steps with spinners, outcomes and
// durations, an overall progress bar, a scrollable log pane and a status
// line — and lets the user quit (q), cancel the build (c, confirmed with y)
// or rebuild the app (r).
//
// The model does no I/O of its own. The program that runs it feeds it the
// build's events as EventMsg and the state of the connection as ConnMsg,
// and does what Actions ask (cancel, rebuild, follow another build) in
// commands. Tests drive it the same way, by feeding messages and reading
// View.
package watch

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kiln-build/kiln"
)

// MaxLines is how many log lines the model keeps; older ones scroll out.
const MaxLines = 20000

// EventMsg carries one event of the build being watched.
type EventMsg struct{ Event *kiln.BuildEvent }

// ConnMsg reports the connection: Err is why it is reconnecting, nil once
// events flow again.
type ConnMsg struct{ Err error }

// StreamErrMsg says the stream gave up for good (not the build's end).
type StreamErrMsg struct{ Err error }

// ActionMsg is the result of an action (cancel, rebuild).
type ActionMsg struct {
	Text string      // what to tell the user
	Err  error       // the action failed
	New  *kiln.Build // a rebuild: the new build to watch
}

// Actions do what the keys ask; each returns a command whose message is an
// ActionMsg (Follow's commands send the new build's events).
type Actions struct {
	Cancel  func(buildID int64) tea.Cmd
	Rebuild func(appID int64) tea.Cmd
	// Follow starts streaming a build's events into the program, stopping
	// the stream of the previous one.
	Follow func(buildID int64) tea.Cmd
}

// step is one step as the watcher knows it.
type step struct {
	id       int64
	name     string
	outcome  kiln.StepOutcome
	errMsg   string
	started  time.Time
	duration time.Duration
}

// Model is the watch UI's state. Create it with New.
type Model struct {
	build   kiln.Build
	appName string
	status  kiln.BuildStatus
	stepNow string
	steps   []*step
	lines   []string
	end     *kiln.EndEvent
	lastSeq int64

	width, height int
	offset        int  // first log line shown
	follow        bool // keep the newest line in view
	spin          spinner.Model
	bar           progress.Model

	conn    string // "" when live; why it is reconnecting otherwise
	failed  error  // the stream gave up
	confirm bool   // asking whether to cancel
	notice  string
	quit    bool

	actions Actions
	now     func() time.Time
}

// New returns a model of the build b of the app named appName.
func New(b *kiln.Build, appName string, actions Actions, now func() time.Time) Model {
	if now == nil {
		now = time.Now
	}
	return Model{
		build: *b, appName: appName, status: b.Status, stepNow: b.Step,
		width: 80, height: 24, follow: true,
		spin:    spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		bar:     progress.New(progress.WithDefaultBlend(), progress.WithWidth(30)),
		actions: actions, now: now,
	}
}

// Ended returns how the build ended, or nil while it runs.
func (m Model) Ended() *kiln.EndEvent { return m.end }

// Build returns the build being watched (the new one after a rebuild).
func (m Model) Build() kiln.Build { return m.build }

// Quit reports whether the user quit.
func (m Model) Quit() bool { return m.quit }

// Init starts the spinner and the stream.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.spin.Tick}
	if m.actions.Follow != nil {
		cmds = append(cmds, m.actions.Follow(m.build.ID))
	}
	return tea.Batch(cmds...)
}

// Update applies a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 20), max(msg.Height, 8)
		m.bar.SetWidth(min(40, m.width/3))
		m.clampOffset()
	case tea.KeyPressMsg:
		return m.key(msg)
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case EventMsg:
		if msg.Event.BuildID == m.build.ID && msg.Event.Seq > m.lastSeq {
			m.apply(msg.Event)
		}
	case ConnMsg:
		m.conn = ""
		if msg.Err != nil {
			m.conn = "reconnecting: " + clean(msg.Err.Error())
		}
	case StreamErrMsg:
		m.failed = msg.Err
	case ActionMsg:
		switch {
		case msg.Err != nil:
			m.notice = clean(kiln.ErrorMessage(msg.Err))
		case msg.New != nil:
			m = m.switchTo(msg.New, msg.Text)
			if m.actions.Follow != nil {
				return m, m.actions.Follow(msg.New.ID)
			}
		default:
			m.notice = msg.Text
		}
	}
	return m, nil
}

// switchTo starts watching another build of the same app.
func (m Model) switchTo(b *kiln.Build, notice string) Model {
	n := New(b, m.appName, m.actions, m.now)
	n.width, n.height, n.spin, n.bar = m.width, m.height, m.spin, m.bar
	n.notice = notice
	return n
}

func (m Model) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	s := k.String()
	if m.confirm {
		m.confirm = false
		if s == "y" || s == "Y" {
			m.notice = "canceling…"
			if m.actions.Cancel != nil {
				return m, m.actions.Cancel(m.build.ID)
			}
			return m, nil
		}
		m.notice = "not canceled"
		return m, nil
	}
	switch s {
	case "q", "ctrl+c", "esc":
		m.quit = true
		return m, tea.Quit
	case "c":
		if m.end != nil {
			m.notice = "the build has already ended"
			return m, nil
		}
		m.confirm = true
		m.notice = ""
	case "r":
		m.notice = "starting a new build…"
		if m.actions.Rebuild != nil {
			return m, m.actions.Rebuild(m.build.AppID)
		}
	case "up", "k":
		m.scroll(-1)
	case "down", "j":
		m.scroll(1)
	case "pgup", "b":
		m.scroll(-m.logHeight())
	case "pgdown", "space", "f":
		m.scroll(m.logHeight())
	case "home", "g":
		m.follow, m.offset = false, 0
	case "end", "G":
		m.follow = true
		m.clampOffset()
	}
	return m, nil
}

// apply records one event.
func (m *Model) apply(e *kiln.BuildEvent) {
	m.lastSeq = e.Seq
	m.conn = ""
	switch e.Kind {
	case kiln.EventStatus:
		m.status = e.Status.Status
		if e.Status.Step != "" {
			m.stepNow = e.Status.Step
		}
		if m.status == kiln.BuildQueued && len(m.steps) > 0 {
			m.addLine("==> back in the queue for another attempt")
		}
	case kiln.EventStep:
		st := e.Step
		if st.Phase == kiln.StepStarted {
			m.steps = append(m.steps, &step{id: st.ID, name: clean(st.Name), outcome: kiln.StepRunning, started: e.Time})
			m.stepNow = st.Name
			return
		}
		for _, s := range m.steps {
			if s.id == st.ID {
				s.outcome, s.errMsg = st.Outcome, clean(st.Error)
				s.duration = time.Duration(st.DurationMS) * time.Millisecond
			}
		}
	case kiln.EventLog:
		prefix := ""
		switch e.Log.Stream {
		case kiln.StreamSystem:
			prefix = "==> "
		case kiln.StreamStderr:
			prefix = "! "
		}
		m.addLine(prefix + clean(e.Log.Text))
	case kiln.EventArtifact:
		a := e.Artifact
		m.addLine(fmt.Sprintf("==> artifact %s (%d bytes)", clean(a.Name), a.Size))
	case kiln.EventEnd:
		end := *e.End
		m.end, m.status = &end, end.Status
		m.confirm = false
	}
}

func (m *Model) addLine(s string) {
	m.lines = append(m.lines, s)
	if over := len(m.lines) - MaxLines; over > 0 {
		m.lines = m.lines[over:]
		m.offset = max(m.offset-over, 0)
	}
	m.clampOffset()
}

// logHeight is the number of log lines the screen has room for.
func (m Model) logHeight() int {
	// title, blank, steps (or the waiting line), blank, bar, log frame
	// (2), status line
	return max(m.height-max(len(m.visibleSteps()), 1)-7, 3)
}

func (m *Model) scroll(n int) {
	m.offset += n
	m.follow = false
	m.clampOffset()
	if m.offset >= len(m.lines)-m.logHeight() {
		m.follow = true
	}
}

func (m *Model) clampOffset() {
	last := max(len(m.lines)-m.logHeight(), 0)
	if m.follow || m.offset > last {
		m.offset = last
	}
	m.offset = max(m.offset, 0)
}

// visibleSteps are the steps shown: the latest few when there are many.
func (m Model) visibleSteps() []*step {
	limit := max(m.height/3, 3)
	if len(m.steps) > limit {
		return m.steps[len(m.steps)-limit:]
	}
	return m.steps
}

// progress is the share of the pipeline done, from the build's status.
func (m Model) progress() float64 {
	if m.end != nil {
		return 1
	}
	order := map[kiln.BuildStatus]float64{
		kiln.BuildQueued: 0, kiln.BuildPlanning: 1, kiln.BuildGenerating: 2,
		kiln.BuildValidating: 3, kiln.BuildRepairing: 3, kiln.BuildPackaging: 4,
	}
	return order[m.status] / 5
}

var (
	titleStyle = lipgloss.NewStyle().Bold(true)
	dimStyle   = lipgloss.NewStyle().Faint(true)
	okStyle    = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	badStyle   = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	warnStyle  = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
)

// View renders the screen.
func (m Model) View() tea.View {
	var b strings.Builder
	w := m.width
	title := fmt.Sprintf("Build %d (#%d) of %s", m.build.ID, m.build.Number, m.appName)
	state := okStyle.Render("● live")
	switch {
	case m.failed != nil:
		state = badStyle.Render("✗ disconnected")
	case m.conn != "":
		state = warnStyle.Render("○ " + m.conn)
	case m.end != nil:
		state = dimStyle.Render("ended")
	}
	b.WriteString(fit(titleStyle.Render(title)+"  "+state, w) + "\n\n")

	if len(m.steps) == 0 {
		b.WriteString(dimStyle.Render("  waiting for a worker…") + "\n")
	}
	for _, s := range m.visibleSteps() {
		icon, d := m.spin.View(), m.now().Sub(s.started)
		switch s.outcome {
		case kiln.StepSucceeded:
			icon, d = okStyle.Render("✓"), s.duration
		case kiln.StepFailed:
			icon, d = badStyle.Render("✗"), s.duration
		case kiln.StepCanceled:
			icon, d = warnStyle.Render("■"), s.duration
		case kiln.StepSkipped:
			icon, d = dimStyle.Render("-"), s.duration
		}
		line := fmt.Sprintf(" %s %-18s %8s", icon, s.name, fmtDuration(d))
		if s.errMsg != "" {
			line += "  " + badStyle.Render(s.errMsg)
		}
		b.WriteString(fit(line, w) + "\n")
	}
	b.WriteString("\n")

	label := string(m.status)
	if m.stepNow != "" && m.end == nil {
		label += " · " + clean(m.stepNow)
	}
	if m.end != nil {
		label = fmt.Sprintf("%s in %s", m.end.Status, fmtDuration(time.Duration(m.end.DurationMS)*time.Millisecond))
		if m.end.Error != "" {
			label += ": " + clean(m.end.Error)
		}
	}
	b.WriteString(fit(" "+m.bar.ViewAs(m.progress())+"  "+label, w) + "\n")

	h := m.logHeight()
	top := fmt.Sprintf("─ log (%d lines) ", len(m.lines))
	if !m.follow {
		top += "· scrolled, End follows "
	}
	b.WriteString(dimStyle.Render(fit("┌"+top+strings.Repeat("─", max(w-ansi.StringWidth(top)-1, 0)), w)) + "\n")
	end := min(m.offset+h, len(m.lines))
	for i := m.offset; i < end; i++ {
		b.WriteString(fit(" "+m.lines[i], w) + "\n")
	}
	for i := end - m.offset; i < h; i++ {
		b.WriteString("\n")
	}
	b.WriteString(dimStyle.Render("└"+strings.Repeat("─", max(w-1, 0))) + "\n")

	switch {
	case m.confirm:
		b.WriteString(warnStyle.Render(fit(fmt.Sprintf(" Cancel build %d? y to cancel it, any other key to keep it running", m.build.ID), w)))
	case m.failed != nil:
		b.WriteString(badStyle.Render(fit(" lost the stream: "+clean(m.failed.Error())+" · q quit", w)))
	default:
		keys := " q quit · c cancel · r rebuild · ↑↓ PgUp PgDn scroll"
		if m.end != nil {
			keys = " q quit · r rebuild · ↑↓ PgUp PgDn scroll"
		}
		if m.notice != "" {
			keys += " · " + m.notice
		}
		b.WriteString(fit(keys, w))
	}
	v := tea.NewView(b.String())
	v.AltScreen = true
	v.WindowTitle = fmt.Sprintf("kiln · build %d · %s", m.build.ID, m.status)
	return v
}

// fit cuts a line to the screen's width.
func fit(s string, w int) string { return ansi.Truncate(s, w, "…") }

// clean removes control characters (terminal escapes) from text the build
// produced.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
