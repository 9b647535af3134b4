package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota + 1
	routeKey
	clientIPKey
)

// RequestIDFromContext returns the request id the server gave the request.
func RequestIDFromContext(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

func clientIP(ctx context.Context) string {
	s, _ := ctx.Value(clientIPKey).(string)
	return s
}

// route is filled by a Huma middleware with the operation's path pattern,
// so the outer logging and metrics middleware can label by route.
type route struct{ pattern string }

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// statusRecorder remembers the status and size a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	size   int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.size += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flush,
// hijack for WebSockets, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe gives every request an id, recovers panics, and logs and
// measures it.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if len(rid) == 0 || len(rid) > 64 || strings.ContainsFunc(rid, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-Id", rid)
		rt := &route{}
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		ctx := context.WithValue(r.Context(), requestIDKey, rid)
		ctx = context.WithValue(ctx, routeKey, rt)
		ctx = context.WithValue(ctx, clientIPKey, ip)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "panic in handler", slog.String("request_id", rid), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				if rec.status == 0 {
					writeProblem(rec, r.WithContext(ctx), http.StatusInternalServerError, kiln.EInternal, "internal error")
				}
			}
			pattern := rt.pattern
			if pattern == "" {
				pattern = "other"
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			took := time.Since(start)
			if s.metrics != nil {
				s.metrics.ObserveHTTP(r.Method, pattern, status, took)
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			} else if pattern == "/healthz" || pattern == "/metrics" || pattern == "/readyz" {
				level = slog.LevelDebug
			}
			s.log.LogAttrs(ctx, level, "http request",
				slog.String("request_id", rid), slog.String("method", r.Method), slog.String("route", pattern),
				slog.String("path", r.URL.Path), slog.Int("status", status), slog.Int64("bytes", rec.size),
				slog.Duration("duration", took), slog.String("ip", ip))
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// setRoute is the Huma middleware that records the operation's pattern.
func setRoute(hctx huma.Context, next func(huma.Context)) {
	if rt, ok := hctx.Context().Value(routeKey).(*route); ok {
		rt.pattern = hctx.Operation().Path
	}
	next(hctx)
}

// authenticate resolves a bearer credential into the user in the request's
// context. A request without one goes on anonymous (operations that need a
// user refuse it); a bad one is refused here.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kiln"`)
			writeProblem(w, r, http.StatusUnauthorized, kiln.EUnauthorized, "Authorization must be \"Bearer <token>\"")
			return
		}
		token = strings.TrimSpace(token)
		if strings.HasPrefix(token, kiln.IngestKeyPrefix) {
			// An app's ingest key is no user credential: POST /v1/ingest
			// checks it, and every other operation sees no user.
			next.ServeHTTP(w, r)
			return
		}
		cacheable := s.authCache.cacheable(r)
		if cacheable {
			if u, ok := s.authCache.get(token); ok {
				next.ServeHTTP(w, r.WithContext(kiln.NewContextWithUser(r.Context(), u)))
				return
			}
		}
		u, err := s.cfg.Auth.Authenticate(r.Context(), token)
		if err != nil {
			if kiln.ErrorCode(err) == kiln.EUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kiln", error="invalid_token"`)
				writeProblem(w, r, http.StatusUnauthorized, kiln.EUnauthorized, kiln.ErrorMessage(err))
				return
			}
			s.log.ErrorContext(r.Context(), "authenticate", slog.String("request_id", RequestIDFromContext(r.Context())), slog.Any("error", err))
			writeProblem(w, r, http.StatusInternalServerError, kiln.EInternal, "internal error")
			return
		}
		if cacheable {
			s.authCache.put(token, u)
		}
		next.ServeHTTP(w, r.WithContext(kiln.NewContextWithUser(r.Context(), u)))
		if !cacheable {
			// A write may have changed the user (PATCH /v1/me): the
			// next read resolves the credential afresh.
			s.authCache.forget(token)
		}
	})
}

// requireUser returns EUnauthorized when no user is in ctx.
func requireUser(ctx context.Context) (*kiln.User, error) {
	if u := kiln.UserFromContext(ctx); u != nil {
		return u, nil
	}
	return nil, kiln.Errorf(kiln.EUnauthorized, "authentication required: send Authorization: Bearer <token>")
}
