// Package api serves the REST API of Library and its web UI.
//
// Every entity has the same five routes, JSON in and out:
//
//	GET    /api/<plural>        list (?limit=&offset=, filters by reference)
//	POST   /api/<plural>        create → 201
//	GET    /api/<plural>/{id}   read
//	PUT    /api/<plural>/{id}   replace every field
//	DELETE /api/<plural>/{id}   delete → 204
//
// Errors are JSON objects {"error": "...", "fields": {"name": "problem"}}:
// 400 for malformed JSON or query parameters, 404 for unknown ids, 409 for
// unique values already taken or records still referred to, 422 for
// invalid fields.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"example.com/library/internal/store"
	"example.com/library/internal/web"
)

// maxBodyBytes caps request bodies.
const maxBodyBytes = 1 << 20

// Server holds the dependencies of the handlers.
type Server struct {
	db  *store.DB
	log *slog.Logger
}

// New returns the app's HTTP handler: the API under /api/, GET /healthz,
// and the web UI at /.
func New(db *store.DB, log *slog.Logger) http.Handler {
	s := &Server{db: db, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /api/authors", s.listAuthors)
	mux.HandleFunc("POST /api/authors", s.createAuthor)
	mux.HandleFunc("GET /api/authors/{id}", s.getAuthor)
	mux.HandleFunc("PUT /api/authors/{id}", s.updateAuthor)
	mux.HandleFunc("DELETE /api/authors/{id}", s.deleteAuthor)
	mux.HandleFunc("GET /api/books", s.listBooks)
	mux.HandleFunc("POST /api/books", s.createBook)
	mux.HandleFunc("GET /api/books/{id}", s.getBook)
	mux.HandleFunc("PUT /api/books/{id}", s.updateBook)
	mux.HandleFunc("DELETE /api/books/{id}", s.deleteBook)
	mux.HandleFunc("GET /api/members", s.listMembers)
	mux.HandleFunc("POST /api/members", s.createMember)
	mux.HandleFunc("GET /api/members/{id}", s.getMember)
	mux.HandleFunc("PUT /api/members/{id}", s.updateMember)
	mux.HandleFunc("DELETE /api/members/{id}", s.deleteMember)
	mux.HandleFunc("GET /api/loans", s.listLoans)
	mux.HandleFunc("POST /api/loans", s.createLoan)
	mux.HandleFunc("GET /api/loans/{id}", s.getLoan)
	mux.HandleFunc("PUT /api/loans/{id}", s.updateLoan)
	mux.HandleFunc("DELETE /api/loans/{id}", s.deleteLoan)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no such API route"})
	})
	ui := web.Handler()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method not allowed"})
			return
		}
		ui.ServeHTTP(w, r)
	})
	return s.middleware(mux)
}

// middleware sets security headers, recovers from panics and logs each
// request.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				s.log.ErrorContext(r.Context(), "panic", slog.Any("panic", v), slog.String("path", r.URL.Path))
				if !rec.wrote {
					writeJSON(rec, http.StatusInternalServerError, errorBody{Error: "internal error"})
				}
			}
			s.log.InfoContext(r.Context(), "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(rec, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if err := s.db.Ping(r.Context()); err != nil {
		s.log.ErrorContext(r.Context(), "health check", slog.Any("err", err))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// listBody is the JSON body of a list response.
type listBody[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may be gone; nothing left to do
}

// writeError answers with the status that err's kind calls for; other
// errors are logged and answered with a bare 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var se *store.Error
	if errors.As(err, &se) {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(se.Kind, store.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(se.Kind, store.ErrConflict):
			status = http.StatusConflict
		case errors.Is(se.Kind, store.ErrInvalid):
			status = http.StatusUnprocessableEntity
		}
		writeJSON(w, status, errorBody{Error: se.Message, Fields: se.Fields})
		return
	}
	if errors.Is(err, r.Context().Err()) {
		return // the client went away
	}
	s.log.ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("err", err))
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
}

// readObject decodes the request body as one JSON object. On failure it
// answers 400 (or 413 for a body over the limit) and returns false.
func readObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var obj map[string]json.RawMessage
	err := dec.Decode(&obj)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("unexpected data after the JSON object")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("request body is larger than %d bytes", maxBodyBytes)})
		return nil, false
	case errors.Is(err, io.EOF):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "request body is empty; send a JSON object"})
		return nil, false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "malformed JSON: " + err.Error()})
		return nil, false
	case obj == nil:
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "request body must be a JSON object"})
		return nil, false
	}
	return obj, true
}

// pathID reads the {id} path value. An id that is not a positive integer
// names no record: it answers 404 and returns false.
func pathID(w http.ResponseWriter, r *http.Request, what string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no " + what + " with id " + strconv.Quote(r.PathValue("id"))})
		return 0, false
	}
	return id, true
}

// listOptions reads ?limit=&offset=, the allowed reference filters
// (?customer_id=3). On a bad value it answers 400 and returns false.
func listOptions(w http.ResponseWriter, r *http.Request, filters ...string) (store.ListOptions, bool) {
	q := r.URL.Query()
	opts := store.ListOptions{Limit: store.DefaultLimit}
	bad := func(msg string) (store.ListOptions, bool) {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: msg})
		return store.ListOptions{}, false
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxLimit {
			return bad(fmt.Sprintf("limit must be an integer from 1 to %d", store.MaxLimit))
		}
		opts.Limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return bad("offset must be a non-negative integer")
		}
		opts.Offset = n
	}
	for _, f := range filters {
		v := q.Get(f)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return bad(f + " must be a positive integer")
		}
		if opts.Filter == nil {
			opts.Filter = map[string]int64{}
		}
		opts.Filter[f] = n
	}
	return opts, true
}
