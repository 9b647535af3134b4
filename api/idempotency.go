package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sync"

	kiln "github.com/kiln-build/kiln"
)

// idempotentPaths are the creating POSTs that honor Idempotency-Key.
var idempotentPaths = regexp.MustCompile(`^/v1/(apps|tokens|apps/[0-9]+/builds)$`)

// maxIdempotencyKey bounds the header's length.
const maxIdempotencyKey = 255

// idempotency replays the stored answer of a create request sent again with
// the same Idempotency-Key and body, and refuses the key with another body.
type idempotency struct {
	store kiln.IdempotencyStore
	log   *slog.Logger

	mu       sync.Mutex
	inFlight map[string]bool
}

func newIdempotency(store kiln.IdempotencyStore, log *slog.Logger) *idempotency {
	return &idempotency{store: store, log: log, inFlight: map[string]bool{}}
}

func (i *idempotency) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		u := kiln.UserFromContext(r.Context())
		if key == "" || i.store == nil || r.Method != http.MethodPost || u == nil || !idempotentPaths.MatchString(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > maxIdempotencyKey {
			writeProblem(w, r, http.StatusBadRequest, CodeMalformed, fmt.Sprintf("Idempotency-Key is longer than %d characters", maxIdempotencyKey))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			writeProblem(w, r, http.StatusBadRequest, CodeMalformed, "could not read the request body")
			return
		}
		if len(body) > maxBody {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, kiln.ETooLarge, "request body is larger than 1 MiB")
			return
		}
		sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...))
		hash := hex.EncodeToString(sum[:])
		ctx := r.Context()

		slot := fmt.Sprintf("%d\x00%s", u.ID, key)
		i.mu.Lock()
		if i.inFlight[slot] {
			i.mu.Unlock()
			writeProblem(w, r, http.StatusConflict, kiln.EConflict, "a request with this Idempotency-Key is still in progress")
			return
		}
		i.inFlight[slot] = true
		i.mu.Unlock()
		defer func() {
			i.mu.Lock()
			delete(i.inFlight, slot)
			i.mu.Unlock()
		}()

		rec, err := i.store.FindIdempotencyRecord(ctx, u.ID, key)
		switch {
		case err == nil && rec.RequestHash != hash:
			writeProblem(w, r, http.StatusUnprocessableEntity, kiln.EInvalid, "this Idempotency-Key was used with a different request; use a new key")
			return
		case err == nil:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(rec.Status)
			_, _ = w.Write(rec.Body)
			return
		case kiln.ErrorCode(err) != kiln.ENotFound:
			i.log.ErrorContext(ctx, "find idempotency record", slog.Any("error", err), slog.String("request_id", RequestIDFromContext(ctx)))
			writeProblem(w, r, http.StatusInternalServerError, kiln.EInternal, "internal error")
			return
		}

		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := &captureWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if cw.status == 0 || cw.status >= 500 || cw.status == http.StatusTooManyRequests {
			return // not a final answer: a retry may do better
		}
		err = i.store.CreateIdempotencyRecord(ctx, &kiln.IdempotencyRecord{
			UserID: u.ID, Key: key, RequestHash: hash, Status: cw.status, Body: cw.body.Bytes(),
		})
		if err != nil {
			i.log.ErrorContext(ctx, "store idempotency record", slog.Any("error", err), slog.String("request_id", RequestIDFromContext(ctx)))
		}
	})
}

// captureWriter passes a response through and keeps a copy.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}
