package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"example.com/library/internal/store"
)

// decodeLoan reads a loan from a request body, or returns what is
// wrong with it, by field.
func decodeLoan(raw map[string]json.RawMessage) (*store.Loan, map[string]string) {
	f := newForm(raw)
	v := &store.Loan{
		DueDate:  field(f, "due_date", false, "", parseDate),
		Returned: field(f, "returned", false, "", parseBoolean),
		BookID:   value(field(f, "book_id", true, "", parseRef)),
		MemberID: value(field(f, "member_id", true, "", parseRef)),
	}
	f.rejectUnknown("due_date", "returned", "book_id", "member_id")
	if len(f.errs) > 0 {
		return nil, f.errs
	}
	return v, nil
}

func (s *Server) listLoans(w http.ResponseWriter, r *http.Request) {
	opts, ok := listOptions(w, r, "book_id", "member_id")
	if !ok {
		return
	}
	items, total, err := s.db.ListLoans(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listBody[*store.Loan]{Items: items, Total: total, Limit: opts.Limit, Offset: opts.Offset})
}

func (s *Server) createLoan(w http.ResponseWriter, r *http.Request) {
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	in, problems := decodeLoan(raw)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid loan", Fields: problems})
		return
	}
	v, err := s.db.CreateLoan(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/loans/"+strconv.FormatInt(v.ID, 10))
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) getLoan(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "loan")
	if !ok {
		return
	}
	v, err := s.db.GetLoan(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) updateLoan(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "loan")
	if !ok {
		return
	}
	raw, ok := readObject(w, r)
	if !ok {
		return
	}
	in, problems := decodeLoan(raw)
	if problems != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "invalid loan", Fields: problems})
		return
	}
	v, err := s.db.UpdateLoan(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) deleteLoan(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "loan")
	if !ok {
		return
	}
	if err := s.db.DeleteLoan(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
