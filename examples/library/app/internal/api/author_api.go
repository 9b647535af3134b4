package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"example.com/library/internal/store"
)

// decodeAuthor reads an author from a request body, or returns what is
// wrong with it, by field.
func decodeAuthor(raw map[string]json.RawMessage) (*store.Author, map[string]string) {
	f := newForm(raw)
	v := &store.Author{
		Name:  field(f, "name", false, "", parseText(maxString, false)),
		Email: field(f, "email", false, "", parseEmail),
		Bio:   field(f, "bio", false, "", parseText(maxText, false)),
	}
	f.rejectUnknown("name", "email", "bio")
	if len(f.errs) > 0 {
		return nil, f.errs
	}
	return v, nil
}

func (s *Server) listAuthors(w http.ResponseWriter, r *http.Request) {
	opts, ok := listOptions(w, r)
	if !ok {
		return
	}
	items, total, err := s.db.ListAuthors(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listBody[*store.Author]{Items: items, Total: total, Limit: opts.Limit, Offset: opts.Offset})
}

func (s *Server) createAuthor(w http.ResponseWriter, r *http.Request) {
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	in, problems := decodeAuthor(raw)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid author", Fields: problems})
		return
	}
	v, err := s.db.CreateAuthor(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/authors/"+strconv.FormatInt(v.ID, 10))
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) getAuthor(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "author")
	if !ok {
		return
	}
	v, err := s.db.GetAuthor(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) updateAuthor(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "author")
	if !ok {
		return
	}
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	in, problems := decodeAuthor(raw)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid author", Fields: problems})
		return
	}
	v, err := s.db.UpdateAuthor(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) deleteAuthor(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "author")
	if !ok {
		return
	}
	if err := s.db.DeleteAuthor(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
