package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"example.com/library/internal/store"
)

// decodeBook reads a book from a request body, or returns what is
// wrong with it, by field.
func decodeBook(raw map[string]json.RawMessage) (*store.Book, map[string]string) {
	f := newForm(raw)
	v := &store.Book{
		Title:         field(f, "title", false, "", parseText(maxString, false)),
		PublishedYear: field(f, "published_year", false, "", parseInteger),
		Isbn:          field(f, "isbn", false, "", parseText(maxString, false)),
		Price:         field(f, "price", false, "", parseDecimal),
		Available:     field(f, "available", false, "", parseBoolean),
		AuthorID:      value(field(f, "author_id", true, "", parseRef)),
	}
	f.rejectUnknown("title", "published_year", "isbn", "price", "available", "author_id")
	if len(f.errs) > 0 {
		return nil, f.errs
	}
	return v, nil
}

func (s *Server) listBooks(w http.ResponseWriter, r *http.Request) {
	opts, ok := listOptions(w, r, "author_id")
	if !ok {
		return
	}
	items, total, err := s.db.ListBooks(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listBody[*store.Book]{Items: items, Total: total, Limit: opts.Limit, Offset: opts.Offset})
}

func (s *Server) createBook(w http.ResponseWriter, r *http.Request) {
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	in, problems := decodeBook(raw)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid book", Fields: problems})
		return
	}
	v, err := s.db.CreateBook(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/books/"+strconv.FormatInt(v.ID, 10))
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) getBook(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "book")
	if !ok {
		return
	}
	v, err := s.db.GetBook(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) updateBook(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "book")
	if !ok {
		return
	}
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	in, problems := decodeBook(raw)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid book", Fields: problems})
		return
	}
	v, err := s.db.UpdateBook(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) deleteBook(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "book")
	if !ok {
		return
	}
	if err := s.db.DeleteBook(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
