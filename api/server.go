// Package api is Kiln's REST API: Huma operations on net/http's ServeMux,
// generated from the kiln service interfaces and published as OpenAPI 3.1.
// It is the one place where error codes become HTTP statuses.
package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/eventbus"
	"github.com/kiln-build/kiln/telemetry"
)

// Blobs reads artifact content back; blob.Store satisfies it.
type Blobs interface {
	Open(ctx context.Context, key string, wantSHA256 string) (io.ReadCloser, error)
}

// MailOutbox lists the mail the dev mailer kept (dev mode only).
type MailOutbox interface {
	Messages() []kiln.Mail
}

// Config holds what the server serves.
type Config struct {
	Auth  kiln.AuthService
	Users kiln.UserService
	// Keys, when set, serves the signing-key admin operations.
	Keys kiln.KeyService
	// OIDC, when set, serves login through an external identity provider.
	OIDC   kiln.OIDCService
	Apps   kiln.AppService
	Builds kiln.BuildService
	// Mail, when set, serves the admin outbox operations.
	Mail kiln.MailService
	// Usage, when set, adds language-model token usage to build details.
	Usage kiln.UsageService
	// LLMLimits are the model and token budgets GET /v1/usage reports.
	LLMLimits   LLMLimits
	Idempotency kiln.IdempotencyStore
	Blobs       Blobs
	// Events and Bus serve the live event streams; without Events there
	// are none.
	Events BuildEventStore
	Bus    *eventbus.Bus
	Stream StreamConfig
	// Ready reports whether the server can serve (database reachable,
	// migrations current); /readyz calls it.
	Ready func(ctx context.Context) error
	// Metrics, when set, are served at /metrics and fed by the middleware.
	Metrics *telemetry.Metrics
	// DevOutbox, when set (dev mode), is served at /dev/mail.
	DevOutbox MailOutbox
	// AuthCacheTTL is how long GET and HEAD requests reuse the user a
	// bearer credential resolved to (default DefaultAuthCacheTTL; negative
	// turns the cache off). Writes always resolve afresh.
	AuthCacheTTL time.Duration
	Logger       *slog.Logger

	// Planner, when set, serves POST /v1/plan.
	Planner Planner
	// AppNamer, when set, names an app created without a name (and without
	// a spec, whose name is used) from its description, so the app is
	// called what its build will call it; "" falls back to the store's
	// name from the description's first words. It must be fast and free:
	// the offline rules planner, never a model.
	AppNamer func(description string) string

	// IngestKeys, Ingester and Analytics serve the analytics API; without
	// them its operations answer 503.
	IngestKeys kiln.IngestKeyService
	Ingester   Ingester
	Analytics  kiln.AnalyticsService
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *telemetry.Metrics
	api     huma.API
	mux     *http.ServeMux
	handler http.Handler
	err     errorer
	idem    *idempotency
	// authCache is nil when turned off.
	authCache *authCache
	streams   *streams
}

// New builds the API and its routes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	installProblemErrors()
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: cfg.Metrics, err: errorer{log: cfg.Logger}, authCache: newAuthCache(cfg.AuthCacheTTL)}
	mux := http.NewServeMux()
	hc := huma.DefaultConfig("Kiln API", kiln.Version)
	hc.Info.Description = "Kiln turns a plain-language app description into a generated, checked, packaged app. " +
		"Authenticate with `Authorization: Bearer <token>` (an access token from /v1/auth/login or an API token). " +
		"Errors are RFC 9457 problem documents with a stable `code`."
	hc.CreateHooks = nil // no $schema links in bodies
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "Access token (JWT) or API token (kiln_…)."},
	}
	s.api = humago.New(mux, hc)
	s.api.UseMiddleware(setRoute)
	s.idem = newIdempotency(cfg.Idempotency, s.log)
	s.registerAuth()
	s.registerApps()
	s.registerBuilds()
	s.registerDiff()
	s.registerAdmin()
	s.registerKeys()
	s.registerMail()
	s.registerOIDC()
	s.registerIngestKeys()
	s.registerPlan()
	s.registerUsage()
	s.registerAnalytics()
	s.registerStreams()
	s.registerOps(mux)
	s.mux = mux
	s.handler = s.observe(s.authenticate(s.idem.middleware(mux)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the API description as indented JSON.
func (s *Server) OpenAPI() ([]byte, error) {
	b, err := json.MarshalIndent(s.api.OpenAPI(), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

var bearer = []map[string][]string{{"bearer": {}}}

// op describes an operation; auth says whether it needs a user.
func op(id, method, path, summary, tag string, auth bool) huma.Operation {
	o := huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tag}}
	if auth {
		o.Security = bearer
	}
	return o
}

// VersionInfo is what GET /v1/version returns.
type VersionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
}

type versionOutput struct{ Body VersionInfo }

func (s *Server) registerOps(mux *http.ServeMux) {
	huma.Register(s.api, op("get-version", http.MethodGet, "/v1/version", "Server version", "meta", false),
		func(ctx context.Context, _ *struct{}) (*versionOutput, error) {
			return &versionOutput{Body: VersionInfo{Version: kiln.Version, Commit: kiln.Commit, Go: runtime.Version()}}, nil
		})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if s.cfg.Ready != nil {
			if err := s.cfg.Ready(r.Context()); err != nil {
				s.log.WarnContext(r.Context(), "not ready", slog.Any("error", err))
				w.WriteHeader(http.StatusServiceUnavailable)
				_ = json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "reason": err.Error()})
				return
			}
		}
		_, _ = io.WriteString(w, `{"status":"ready"}`+"\n")
	})
	if s.metrics != nil {
		mux.Handle("GET /metrics", s.metrics.Handler())
	}
	if s.cfg.DevOutbox != nil {
		mux.HandleFunc("GET /dev/mail", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(s.cfg.DevOutbox.Messages())
		})
	}
}
