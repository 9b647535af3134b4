package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// Every change to a build that a watcher cares about is appended to
// build_events in the transaction that makes it: status changes, steps,
// log lines, artifacts and the end. Seq comes from builds.last_seq and
// user_seq from event_counters; both rows stay locked until commit, so each
// sequence is gapless in commit order. After the commit the store tells
// its listeners (see listen.go).

// Limits of event reads.
const (
	DefaultEventLimit = 500
	MaxEventLimit     = 5000
	eventInsertBatch  = 100 // rows per INSERT; 9 parameters each
)

// txNotices collects what a transaction appended, one notice per build.
type txNotices struct {
	list []kiln.EventNotice
}

func (n *txNotices) add(note kiln.EventNotice) {
	for i := range n.list {
		if n.list[i].BuildID == note.BuildID {
			n.list[i].Seq = max(n.list[i].Seq, note.Seq)
			n.list[i].UserSeq = max(n.list[i].UserSeq, note.UserSeq)
			return
		}
	}
	n.list = append(n.list, note)
}

func statusEvent(t time.Time, status kiln.BuildStatus, step string) *kiln.BuildEvent {
	return &kiln.BuildEvent{Time: t, Kind: kiln.EventStatus, Status: &kiln.StatusEvent{Status: status, Step: step}}
}

func logEvent(l *kiln.LogLine) *kiln.BuildEvent {
	return &kiln.BuildEvent{Time: l.Time, Kind: kiln.EventLog, Log: &kiln.LogEvent{Stream: l.Stream, Text: l.Text}}
}

func stepFinishedEvent(t time.Time, s *kiln.Step) *kiln.BuildEvent {
	d := t.Sub(s.StartedAt)
	return &kiln.BuildEvent{Time: t, Kind: kiln.EventStep, Step: &kiln.StepEvent{
		ID: s.ID, Name: s.Name, Phase: kiln.StepFinished, Outcome: s.Outcome, Error: s.Error, DurationMS: max(d.Milliseconds(), 0),
	}}
}

// endEvent is the last event of the build b, which ends at t.
func endEvent(t time.Time, b *kiln.Build, status kiln.BuildStatus, errMsg string) *kiln.BuildEvent {
	from := b.CreatedAt
	if b.StartedAt != nil {
		from = *b.StartedAt
	}
	return &kiln.BuildEvent{Time: t, Kind: kiln.EventEnd, End: &kiln.EndEvent{
		Status: status, Error: errMsg, DurationMS: max(t.Sub(from).Milliseconds(), 0),
	}}
}

// eventPayload returns the data column of an event: its payload as JSON,
// or NULL for log lines, which keep theirs in stream and text.
func eventPayload(e *kiln.BuildEvent) (any, error) {
	var v any
	switch e.Kind {
	case kiln.EventLog:
		return nil, nil
	case kiln.EventStatus:
		v = e.Status
	case kiln.EventStep:
		v = e.Step
	case kiln.EventArtifact:
		v = e.Artifact
	case kiln.EventEnd:
		v = e.End
	default:
		return nil, fmt.Errorf("append event: unknown kind %q", e.Kind)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("append event: encode %s: %w", e.Kind, err)
	}
	return string(b), nil
}

// appendEvents stores events of one build in order inside c's transaction,
// filling each one's BuildID, Seq, UserSeq and Time (when zero). Log
// payloads are cleaned for storage. ENotFound when the build does not exist.
func (db *DB) appendEvents(ctx context.Context, c conn, buildID int64, events []*kiln.BuildEvent) error {
	if len(events) == 0 {
		return nil
	}
	n := int64(len(events))
	// The UPDATE locks the build row until commit, which serializes
	// concurrent appends to one build on PostgreSQL; the upsert then does
	// the same for the owner's sequence. Every writer takes them in this
	// order.
	var last, owner int64
	err := c.row(ctx, "UPDATE builds SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq, owner_id", n, buildID).Scan(&last, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return errBuildNotFound(buildID)
	} else if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	var userLast int64
	err = c.row(ctx, `INSERT INTO event_counters (owner_id, last_seq) VALUES (?, ?)
		ON CONFLICT (owner_id) DO UPDATE SET last_seq = event_counters.last_seq + excluded.last_seq
		RETURNING last_seq`, owner, n).Scan(&userLast)
	if err != nil {
		return fmt.Errorf("append events: count: %w", err)
	}
	now := db.nowUTC()
	for i, e := range events {
		e.BuildID, e.Seq, e.UserSeq = buildID, last-n+int64(i)+1, userLast-n+int64(i)+1
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = normTime(e.Time)
		if e.Kind == kiln.EventLog {
			if e.Log.Stream == "" {
				e.Log.Stream = kiln.StreamSystem
			}
			e.Log.Text = cleanText(e.Log.Text, kiln.MaxLogLineLen)
		}
	}
	for start := 0; start < len(events); start += eventInsertBatch {
		batch := events[start:min(start+eventInsertBatch, len(events))]
		var q strings.Builder
		q.WriteString("INSERT INTO build_events (build_id, seq, user_seq, owner_id, time, kind, stream, text, data) VALUES ")
		args := make([]any, 0, len(batch)*9)
		for i, e := range batch {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			data, err := eventPayload(e)
			if err != nil {
				return err
			}
			stream, text := "", ""
			if e.Log != nil {
				stream, text = e.Log.Stream, e.Log.Text
			}
			args = append(args, e.BuildID, e.Seq, e.UserSeq, owner, db.ts(e.Time), string(e.Kind), stream, text, data)
		}
		if _, err := c.exec(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
	}
	if c.notes != nil {
		c.notes.add(kiln.EventNotice{BuildID: buildID, OwnerID: owner, Seq: last, UserSeq: userLast})
	}
	return nil
}

// appendLogs stores log lines inside c's transaction, filling each one's
// BuildID, Seq and Time (when zero) and cleaning its text; see AppendLogs.
func (db *DB) appendLogs(ctx context.Context, c conn, buildID int64, lines []*kiln.LogLine) error {
	events := make([]*kiln.BuildEvent, len(lines))
	for i, l := range lines {
		events[i] = logEvent(l)
	}
	if err := db.appendEvents(ctx, c, buildID, events); err != nil {
		return err
	}
	for i, l := range lines {
		e := events[i]
		l.BuildID, l.Seq, l.Time, l.Stream, l.Text = e.BuildID, e.Seq, e.Time, e.Log.Stream, e.Log.Text
	}
	return nil
}

// eventSelect reads the columns scanEvent expects.
const eventSelect = "SELECT build_id, seq, user_seq, time, kind, stream, text, data FROM build_events "

func scanEvent(r rowScanner) (*kiln.BuildEvent, error) {
	e := new(kiln.BuildEvent)
	var userSeq sql.NullInt64
	var stream, text string
	var data sql.NullString
	if err := r.Scan(&e.BuildID, &e.Seq, &userSeq, timeScan{&e.Time}, &e.Kind, &stream, &text, &data); err != nil {
		return nil, err
	}
	e.UserSeq = userSeq.Int64
	var target any
	switch e.Kind {
	case kiln.EventLog:
		e.Log = &kiln.LogEvent{Stream: stream, Text: text}
		return e, nil
	case kiln.EventStatus:
		e.Status = new(kiln.StatusEvent)
		target = e.Status
	case kiln.EventStep:
		e.Step = new(kiln.StepEvent)
		target = e.Step
	case kiln.EventArtifact:
		e.Artifact = new(kiln.Artifact)
		target = e.Artifact
	case kiln.EventEnd:
		e.End = new(kiln.EndEvent)
		target = e.End
	default:
		return nil, fmt.Errorf("scan event %d/%d: unknown kind %q", e.BuildID, e.Seq, e.Kind)
	}
	if data.Valid {
		if err := json.Unmarshal([]byte(data.String), target); err != nil {
			return nil, fmt.Errorf("scan event %d/%d: %w", e.BuildID, e.Seq, err)
		}
	}
	return e, nil
}

// BuildEventService implements kiln.BuildEventService, and the system reads the
// live streams share among their watchers.
type BuildEventService struct {
	db *DB
}

var _ kiln.BuildEventService = (*BuildEventService)(nil)

// NewBuildEventService returns the event service over db.
func NewBuildEventService(db *DB) *BuildEventService { return &BuildEventService{db: db} }

func eventLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultEventLimit
	case limit > MaxEventLimit:
		return MaxEventLimit
	}
	return limit
}

func (s *BuildEventService) query(ctx context.Context, where string, args ...any) ([]*kiln.BuildEvent, error) {
	rows, err := s.db.read().query(ctx, eventSelect+where, args...)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	events, err := collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	return events, nil
}

// FindEvents returns up to limit events of a build with Seq > after, in
// order; a limit of 0 or less means DefaultEventLimit, at most
// MaxEventLimit come back. ENotFound when the build is not the caller's.
func (s *BuildEventService) FindEvents(ctx context.Context, buildID, after int64, limit int) ([]*kiln.BuildEvent, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.findBuild(ctx, s.db.read(), u, buildID, false); err != nil {
		return nil, err
	}
	return s.BuildEvents(ctx, buildID, after, limit)
}

// FindUserEvents returns up to limit events of the caller's builds with
// UserSeq > after, in order. Admins get their own builds' events too.
func (s *BuildEventService) FindUserEvents(ctx context.Context, after int64, limit int) ([]*kiln.BuildEvent, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	return s.OwnerEvents(ctx, u.ID, after, limit)
}

// BuildEvents is FindEvents for the system: it checks no user, so callers
// must have checked that the reader may see the build.
func (s *BuildEventService) BuildEvents(ctx context.Context, buildID, after int64, limit int) ([]*kiln.BuildEvent, error) {
	return s.query(ctx, "WHERE build_id = ? AND seq > ? ORDER BY seq LIMIT ?", buildID, after, eventLimit(limit))
}

// OwnerEvents returns up to limit events of the owner's builds with
// UserSeq > after, in order, for the system.
func (s *BuildEventService) OwnerEvents(ctx context.Context, ownerID, after int64, limit int) ([]*kiln.BuildEvent, error) {
	return s.query(ctx, "WHERE owner_id = ? AND user_seq > ? ORDER BY user_seq LIMIT ?", ownerID, after, eventLimit(limit))
}

// LastSeq returns the Seq of the build's latest event (0 before the
// first). ENotFound when the build does not exist.
func (s *BuildEventService) LastSeq(ctx context.Context, buildID int64) (int64, error) {
	var last int64
	err := s.db.read().row(ctx, "SELECT last_seq FROM builds WHERE id = ?", buildID).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errBuildNotFound(buildID)
	} else if err != nil {
		return 0, fmt.Errorf("last seq: %w", err)
	}
	return last, nil
}

// LastUserSeq returns the UserSeq of the owner's latest event, 0 before
// the first.
func (s *BuildEventService) LastUserSeq(ctx context.Context, ownerID int64) (int64, error) {
	var last int64
	err := s.db.read().row(ctx, "SELECT last_seq FROM event_counters WHERE owner_id = ?", ownerID).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("last user seq: %w", err)
	}
	return last, nil
}
