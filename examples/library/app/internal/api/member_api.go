package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"example.com/library/internal/store"
)

// decodeMember reads a member from a request body, or returns what is
// wrong with it, by field.
func decodeMember(raw map[string]json.RawMessage) (*store.Member, map[string]string) {
	f := newForm(raw)
	v := &store.Member{
		Name:  field(f, "name", false, "", parseText(maxString, false)),
		Email: field(f, "email", false, "", parseEmail),
	}
	f.rejectUnknown("name", "email")
	if len(f.errs) > 0 {
		return nil, f.errs
	}
	return v, nil
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	opts, ok := listOptions(w, r)
	if !ok {
		return
	}
	items, total, err := s.db.ListMembers(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listBody[*store.Member]{Items: items, Total: total, Limit: opts.Limit, Offset: opts.Offset})
}

func (s *Server) createMember(w http.ResponseWriter, r *http.Request) {
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	in, problems := decodeMember(raw)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid member", Fields: problems})
		return
	}
	v, err := s.db.CreateMember(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/members/"+strconv.FormatInt(v.ID, 10))
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "member")
	if !ok {
		return
	}
	v, err := s.db.GetMember(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "member")
	if !ok {
		return
	}
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	in, problems := decodeMember(raw)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid member", Fields: problems})
		return
	}
	v, err := s.db.UpdateMember(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "member")
	if !ok {
		return
	}
	if err := s.db.DeleteMember(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
