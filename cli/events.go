package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// describeEvent renders an event's payload on one line for people.
func describeEvent(e *kiln.BuildEvent) string {
	switch e.Kind {
	case kiln.EventStatus:
		if e.Status.Step != "" {
			return fmt.Sprintf("status %s (%s)", e.Status.Status, safe(e.Status.Step))
		}
		return fmt.Sprintf("status %s", e.Status.Status)
	case kiln.EventStep:
		st := e.Step
		if st.Phase == kiln.StepStarted {
			return fmt.Sprintf("step %s started", safe(st.Name))
		}
		s := fmt.Sprintf("step %s %s in %s", safe(st.Name), st.Outcome, duration(time.Duration(st.DurationMS)*time.Millisecond))
		if st.Error != "" {
			s += ": " + safe(st.Error)
		}
		return s
	case kiln.EventLog:
		return fmt.Sprintf("log %s: %s", e.Log.Stream, safe(e.Log.Text))
	case kiln.EventArtifact:
		a := e.Artifact
		return fmt.Sprintf("artifact %s %s (%s, sha256 %s)", safe(a.Kind), safe(a.Name), size(a.Size), truncate(safe(a.SHA256), 13))
	case kiln.EventEnd:
		s := fmt.Sprintf("end %s after %s", e.End.Status, duration(time.Duration(e.End.DurationMS)*time.Millisecond))
		if e.End.Error != "" {
			s += ": " + safe(e.End.Error)
		}
		return s
	}
	return string(e.Kind)
}

func (r *runner) buildsEventsCmd() *cobra.Command {
	var after int64
	cmd := r.leaf(command{
		use:   "events [BUILD]",
		short: "Follow the events of one build, or of all your builds",
		long: `Print build events as they happen: status changes, steps starting and
finishing (with outcome and duration), log lines, artifacts and the end.
With BUILD it follows that build until it ends and exits with its outcome,
like 'kiln builds logs -f'. Without, it follows all your builds until
interrupted. --after resumes after a position: a build's seq, or with all
builds a user_seq (both are in -o json's output).`,
		example: `  kiln builds events 42
  kiln builds events -o json | jq -c 'select(.kind == "end")'`,
		ops:  []string{"GET /v1/builds/{id}/events", "GET /v1/events", "GET /v1/builds/{id}"},
		args: nil,
		run: func(ctx context.Context, cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf(cmd, "%s: unexpected argument %q", cmd.CommandPath(), args[1])
			}
			if after < 0 {
				return usageErrorf(cmd, "--after must not be negative")
			}
			var id int64
			if len(args) == 1 {
				var err error
				if id, err = parseID(cmd, "BUILD", args[0]); err != nil {
					return err
				}
			}
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			print := r.eventWriter(cmd)
			opts := client.StreamOptions{After: after, OnReconnect: func(err error) {
				fmt.Fprintf(errw(cmd), "(connection to the server lost: %s; resuming…)\n", safe(err.Error()))
			}}
			if id == 0 {
				err := s.FollowEvents(ctx, opts, print)
				if ctx.Err() != nil {
					return nil // interrupted: the normal way to stop
				}
				return err
			}
			end, err := s.FollowBuild(ctx, id, opts, print)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("stopped following build %d; it goes on on the server", id)
				}
				return err
			}
			if end.End.Status != kiln.BuildSucceeded {
				b, _, err := s.GetBuild(ctx, id)
				if err != nil {
					return err
				}
				return &BuildError{Build: b}
			}
			return nil
		},
	})
	cmd.Args = cobra.ArbitraryArgs
	cmd.Flags().Int64Var(&after, "after", 0, "start after this position (seq, or user_seq without BUILD)")
	return cmd
}

// eventWriter returns the function that prints one event: a line of text,
// or one JSON object per line with -o json (yaml: documents).
func (r *runner) eventWriter(cmd *cobra.Command) func(*kiln.BuildEvent) error {
	w := out(cmd)
	return func(e *kiln.BuildEvent) error {
		var err error
		switch r.output {
		case "json":
			var b []byte
			if b, err = json.Marshal(e); err == nil {
				_, err = fmt.Fprintf(w, "%s\n", b)
			}
		case "yaml":
			if _, err = fmt.Fprintln(w, "---"); err == nil {
				err = writeYAML(w, e)
			}
		default:
			_, err = fmt.Fprintf(w, "%s build %d %s\n", e.Time.Local().Format("15:04:05"), e.BuildID, describeEvent(e))
		}
		if err != nil {
			return fmt.Errorf("print event: %w", err)
		}
		return nil
	}
}

func (r *runner) streamTicketCmd() *cobra.Command {
	return r.leaf(command{
		use:   "stream-ticket",
		short: "Create a single-use ticket that opens one event stream",
		long: `Create a short-lived ticket (valid for about a minute, once) that opens one
event stream as ?ticket=TICKET, for clients that cannot send an
Authorization header: browsers, and tools such as wscat. The ticket is
printed on stdout.`,
		example: `  wscat -c "ws://127.0.0.1:8080/v1/builds/42/events?ticket=$(kiln tokens stream-ticket)"`,
		ops:     []string{"POST /v1/stream-tickets"},
		run: func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			s, err := r.authed(cmd)
			if err != nil {
				return err
			}
			t, err := s.CreateStreamTicket(ctx)
			if err != nil {
				return err
			}
			return r.emit(cmd, t, func(w io.Writer) { fmt.Fprintln(w, safe(t.Ticket)) })
		},
	})
}

// safeLineWriter strips control characters (terminal escapes) from each
// line written through it, for text from builds shown on a terminal.
type safeLineWriter struct {
	w   io.Writer
	buf []byte
}

func (s *safeLineWriter) Write(p []byte) (int, error) {
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := fmt.Fprintln(s.w, safe(string(s.buf[:i]))); err != nil {
			return 0, err
		}
		s.buf = s.buf[i+1:]
	}
}

// Close writes a last partial line.
func (s *safeLineWriter) Close() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := fmt.Fprintln(s.w, safe(string(s.buf)))
	s.buf = nil
	return err
}
