package clienttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/kiln-build/kiln"
)

// The fake's event streams: a build's events are made as its script
// advances, sharing their Seq with its log lines as on the real server. A
// stream of a build reveals the rest of its script at once, sends the
// events after the requested position and closes: as ended (1000) when the
// build has ended, as going away (1001) otherwise, so that clients
// reconnect.

// emit appends an event to a build; the lock is held.
func (s *Server) emit(b *buildRec, e *kiln.BuildEvent) *kiln.BuildEvent {
	if s.userSeq == nil {
		s.userSeq = map[int64]int64{}
	}
	s.userSeq[b.build.OwnerID]++
	e.BuildID, e.Seq, e.UserSeq = b.build.ID, int64(len(b.events)+1), s.userSeq[b.build.OwnerID]
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	b.events = append(b.events, e)
	return e
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, u *userRec) {
	if s.tickets == nil {
		s.tickets = map[string]int64{}
	}
	t := kiln.StreamTicket{Ticket: fmt.Sprintf("kst_fake%d", s.id()), ExpiresAt: s.now().Add(60e9)}
	s.tickets[t.Ticket] = u.user.ID
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, _ *userRec) {
	u := s.authenticate(r)
	if t := r.URL.Query().Get("ticket"); u == nil && t != "" {
		if id, ok := s.tickets[t]; ok {
			delete(s.tickets, t)
			u = s.userByID(id)
		}
	}
	if u == nil {
		problem(w, http.StatusUnauthorized, kiln.EUnauthorized, "missing or invalid credentials")
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		after, _ = strconv.ParseInt(id, 10, 64)
	}
	var events []*kiln.BuildEvent
	ended := false
	owner := r.PathValue("id") == ""
	if owner {
		for _, b := range s.builds {
			if b.build.OwnerID == u.user.ID {
				events = append(events, b.events...)
			}
		}
	} else {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		b := s.buildByID(id)
		if b == nil || !visible(u, b.build.OwnerID, true) {
			problem(w, http.StatusNotFound, kiln.ENotFound, "build not found")
			return
		}
		for len(b.script) > 0 && !b.build.Status.Terminal() {
			s.advance(b)
		}
		events, ended = b.events, b.build.Status.Terminal()
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	sent := 0
	for _, e := range events {
		pos := e.Seq
		if owner {
			pos = e.UserSeq
		}
		if pos <= after {
			continue
		}
		if s.StreamChunk > 0 && sent == s.StreamChunk {
			ended = false
			break
		}
		data, _ := json.Marshal(e)
		fmt.Fprintf(w, "id: %d\ndata: %s\n\n", pos, data)
		sent++
	}
	code, reason := 1001, "going away"
	if ended {
		code, reason = 1000, "build ended"
	}
	fmt.Fprintf(w, ": ping\n\nevent: close\ndata: {\"code\":%d,\"reason\":%q}\n\n", code, reason)
}
