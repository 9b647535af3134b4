package kiln

import (
	"context"
	"time"
)

// EventKind names what a BuildEvent reports.
type EventKind string

// Build event kinds. Every build's log of events starts with a queued status and,
// once the build has ended, finishes with exactly one end event.
const (
	EventStatus   EventKind = "status"   // the build moved to a new status
	EventStep     EventKind = "step"     // a step started or finished
	EventLog      EventKind = "log"      // one log line
	EventArtifact EventKind = "artifact" // the build stored an artifact
	EventEnd      EventKind = "end"      // the build ended; nothing follows
)

// Step event phases.
const (
	StepStarted  = "started"
	StepFinished = "finished"
)

// BuildEvent is one entry of a build's durable event log. Seq numbers a build's
// events 1, 2, 3 … without gaps, in the order they were committed; log
// lines share the sequence (LogLine.Seq is their BuildEvent.Seq). UserSeq
// numbers all the events of one owner's builds the same way, so a stream
// of every build of a user can resume too. Exactly one payload field is
// set, the one named by Kind.
type BuildEvent struct {
	BuildID int64     `json:"build_id"`
	Seq     int64     `json:"seq" doc:"Position in the build's events, from 1, gapless."`
	UserSeq int64     `json:"user_seq" doc:"Position in the events of all the owner's builds."`
	Time    time.Time `json:"time"`
	Kind    EventKind `json:"kind" enum:"status,step,log,artifact,end"`

	Status   *StatusEvent `json:"status,omitempty"`
	Step     *StepEvent   `json:"step,omitempty"`
	Log      *LogEvent    `json:"log,omitempty"`
	Artifact *Artifact    `json:"artifact,omitempty"`
	End      *EndEvent    `json:"end,omitempty"`
}

// StatusEvent is the payload of a status event.
type StatusEvent struct {
	Status BuildStatus `json:"status"`
	Step   string      `json:"step,omitempty" doc:"The step the build is in, when it names one."`
}

// StepEvent is the payload of a step event.
type StepEvent struct {
	ID         int64       `json:"id"`
	Name       string      `json:"name"`
	Phase      string      `json:"phase" enum:"started,finished"`
	Outcome    StepOutcome `json:"outcome" doc:"running when started; how it ended when finished."`
	Error      string      `json:"error,omitempty"`
	DurationMS int64       `json:"duration_ms,omitempty" doc:"How long the step ran, when finished."`
}

// LogEvent is the payload of a log event.
type LogEvent struct {
	Stream string `json:"stream" enum:"stdout,stderr,system"`
	Text   string `json:"text"`
}

// EndEvent is the payload of an end event: how the build ended.
type EndEvent struct {
	Status     BuildStatus `json:"status"`
	Error      string      `json:"error,omitempty"`
	DurationMS int64       `json:"duration_ms" doc:"From the build's start (or creation, if it never started) to its end."`
}

// LogLine returns a log event as a LogLine, or nil for other kinds.
func (e *BuildEvent) LogLine() *LogLine {
	if e.Kind != EventLog || e.Log == nil {
		return nil
	}
	return &LogLine{BuildID: e.BuildID, Seq: e.Seq, Time: e.Time, Stream: e.Log.Stream, Text: e.Log.Text}
}

// EventNotice says that a build's event log grew, up to Seq (and its
// owner's, up to UserSeq). Stores send one after each commit that added
// events; streams take it as a cue to read the new events.
type EventNotice struct {
	BuildID int64 `json:"b"`
	OwnerID int64 `json:"o"`
	Seq     int64 `json:"s"`
	UserSeq int64 `json:"u"`
}

// StreamTicket is a short-lived, single-use credential for opening one
// event stream where a client cannot send an Authorization header (a
// browser's WebSocket or EventSource).
type StreamTicket struct {
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// BuildEventService reads the durable event logs of builds.
type BuildEventService interface {
	// FindEvents returns up to limit events of a build with Seq > after,
	// in order. ENotFound for another user's build.
	FindEvents(ctx context.Context, buildID, after int64, limit int) ([]*BuildEvent, error)

	// FindUserEvents returns up to limit events of the builds of the user
	// in ctx with UserSeq > after, in order.
	FindUserEvents(ctx context.Context, after int64, limit int) ([]*BuildEvent, error)

	// CreateStreamTicket makes a ticket for the user in ctx that opens one
	// stream within ttl.
	CreateStreamTicket(ctx context.Context, ttl time.Duration) (*StreamTicket, error)

	// RedeemStreamTicket consumes a ticket and returns its user.
	// EUnauthorized when it is unknown, used or expired.
	RedeemStreamTicket(ctx context.Context, ticket string) (*User, error)
}
