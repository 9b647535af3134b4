package clienttest

import (
	"fmt"
	"net/http"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// signingKeys returns the keys, creating the first one. Callers hold s.mu.
func (s *Server) signingKeys() []*kiln.SigningKey {
	if len(s.keys) == 0 {
		s.nextID++
		s.keys = []*kiln.SigningKey{{ID: fmt.Sprintf("key%04d", s.nextID), Algorithm: "ES256", Current: true, CreatedAt: s.now()}}
	}
	return s.keys
}

func (s *Server) adminKeys(w http.ResponseWriter, _ *http.Request, u *userRec) {
	if !u.user.IsAdmin() {
		problem(w, http.StatusForbidden, kiln.EForbidden, "only admins may manage signing keys")
		return
	}
	writeJSON(w, 200, map[string]any{"items": s.signingKeys()})
}

// adminRotateKeys starts a new key; the previous one verifies for 15
// minutes more (at once with immediate), older ones are dropped.
func (s *Server) adminRotateKeys(w http.ResponseWriter, r *http.Request, u *userRec) {
	if !u.user.IsAdmin() {
		problem(w, http.StatusForbidden, kiln.EForbidden, "only admins may manage signing keys")
		return
	}
	var in struct {
		Immediate bool `json:"immediate"`
	}
	if !decode(w, r, &in) {
		return
	}
	prev := s.signingKeys()[0]
	now := s.now()
	s.nextID++
	next := &kiln.SigningKey{ID: fmt.Sprintf("key%04d", s.nextID), Algorithm: "ES256", Current: true, CreatedAt: now}
	s.keys = []*kiln.SigningKey{next}
	if !in.Immediate {
		until := now.Add(15*time.Minute + time.Minute)
		prev.Current, prev.RetiresAt = false, &until
		s.keys = append(s.keys, prev)
	}
	writeJSON(w, 200, map[string]any{"items": s.keys})
}
