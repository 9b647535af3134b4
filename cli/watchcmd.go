package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/cli/watch"
	"github.com/kiln-build/kiln/client"
)

// watchOps are the API operations the watch UI calls.
var watchOps = []string{"GET /v1/builds/{id}/events", "GET /v1/builds/{id}", "POST /v1/builds/{id}/cancel", "POST /v1/apps/{id}/builds"}

func (r *runner) buildsWatchCmd() *cobra.Command {
	var plain bool
	cmd := r.leaf(command{
		use:   "watch BUILD",
		short: "Watch a build live in a terminal UI",
		long: `Watch a build live: its steps with spinners, outcomes and durations, a
progress bar, a scrollable log and a status line. Keys: q quits (the build
goes on), c cancels the build (after a y to confirm), r starts a new build
of the app and watches it, arrows and PgUp/PgDn scroll the log, End follows
it again. It reconnects and resumes by itself when the connection drops or
the server restarts.

Without a terminal, with --plain or with -o json|yaml it prints the log as
plain lines like 'kiln builds logs -f'. The exit status is 0 when the build
succeeded, 1 when it failed or was canceled; quitting early exits 0.`,
		example: `  kiln builds watch 42
  kiln builds watch 42 --plain | tee build.log`,
		ops:  append([]string{"GET /v1/apps/{id}"}, watchOps...),
		args: []string{"BUILD"},
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			s, id, err := r.authedID(cmd, "BUILD", args[0])
			if err != nil {
				return err
			}
			if r.plainWatch(cmd, plain) {
				_, err := r.follow(ctx, cmd, s, id, 0)
				return err
			}
			b, _, err := s.GetBuild(ctx, id)
			if err != nil {
				return err
			}
			name := fmt.Sprintf("app %d", b.AppID)
			if app, err := s.GetApp(ctx, b.AppID); err == nil {
				name = app.Name
			}
			return r.watchBuild(ctx, cmd, s, b, name)
		},
	})
	cmd.Flags().BoolVar(&plain, "plain", false, "print plain log lines instead of the terminal UI")
	return cmd
}

// plainWatch reports whether a watch should print plain lines: asked for,
// a machine-readable output, or no terminal to draw on.
func (r *runner) plainWatch(cmd *cobra.Command, plain bool) bool {
	return plain || r.output != "table" || r.getenv("TERM") == "dumb" ||
		!r.isTerminal(cmd.OutOrStdout()) || !r.isTerminal(cmd.InOrStdin())
}

// watchBuild runs the watch UI until the user quits or the build ends and
// the user quits, then prints how it ended; a build that did not succeed
// returns a *BuildError.
func (r *runner) watchBuild(ctx context.Context, cmd *cobra.Command, s *session, b *kiln.Build, appName string) error {
	st := &streamer{s: s, ctx: ctx}
	defer st.stop()
	actions := watch.Actions{
		Cancel: func(id int64) tea.Cmd {
			return func() tea.Msg {
				if _, err := s.CancelBuild(ctx, id); err != nil {
					return watch.ActionMsg{Err: err}
				}
				return watch.ActionMsg{Text: "cancel requested; the build stops within seconds"}
			}
		},
		Rebuild: func(appID int64) tea.Cmd {
			return func() tea.Msg {
				nb, err := s.CreateBuild(ctx, appID, kiln.BuildCreate{}, newIdempotencyKey())
				if err != nil {
					return watch.ActionMsg{Err: verifyHint(err)}
				}
				return watch.ActionMsg{New: nb, Text: fmt.Sprintf("started build %d (#%d)", nb.ID, nb.Number)}
			}
		},
		Follow: func(id int64) tea.Cmd {
			st.follow(id)
			return nil
		},
	}
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(cmd.InOrStdin()), tea.WithOutput(cmd.OutOrStdout())}
	if !isTerminal(cmd.OutOrStdout()) {
		// No size to ask a terminal for (a pseudo-terminal of a test or a
		// recorder): draw on a common one.
		opts = append(opts, tea.WithWindowSize(100, 30))
	}
	p := tea.NewProgram(watch.New(b, appName, actions, r.now), opts...)
	st.p = p
	final, err := p.Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("watch: %w", err)
	}
	m, _ := final.(watch.Model)
	watched := m.Build()
	end := m.Ended()
	if end == nil {
		fmt.Fprintf(errw(cmd), "Stopped watching build %d; it goes on (kiln builds watch %d).\n", watched.ID, watched.ID)
		return nil
	}
	got, _, err := s.GetBuild(context.WithoutCancel(ctx), watched.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(errw(cmd), "Build %d (#%d) %s in %s.\n", got.ID, got.Number, r.status(cmd, got.Status), duration(got.Duration(r.now())))
	if got.Status != kiln.BuildSucceeded {
		return &BuildError{Build: got}
	}
	return nil
}

// streamer feeds one build's events into the program at a time.
type streamer struct {
	s   *session
	ctx context.Context
	p   *tea.Program

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// follow starts streaming a build, stopping the previous stream.
func (st *streamer) follow(id int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.cancel != nil {
		st.cancel()
	}
	ctx, cancel := context.WithCancel(st.ctx)
	st.cancel = cancel
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		opts := client.StreamOptions{OnReconnect: func(err error) { st.p.Send(watch.ConnMsg{Err: err}) }}
		_, err := st.s.FollowBuild(ctx, id, opts, func(e *kiln.BuildEvent) error {
			st.p.Send(watch.EventMsg{Event: e})
			return nil
		})
		if err != nil && ctx.Err() == nil {
			st.p.Send(watch.StreamErrMsg{Err: err})
		}
	}()
}

func (st *streamer) stop() {
	st.mu.Lock()
	if st.cancel != nil {
		st.cancel()
	}
	st.mu.Unlock()
	st.wg.Wait()
}
