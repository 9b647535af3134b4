package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/blob"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/eventbus"
	"github.com/kiln-build/kiln/mail"
	"github.com/kiln-build/kiln/queue"
	"github.com/kiln-build/kiln/sqlstore"
	"github.com/kiln-build/kiln/telemetry"
	"github.com/kiln-build/kiln/worker"
)

// Main is one running Kiln process: the API, the worker, or both, over one
// database. The end-to-end tests run it in-process the way `kiln serve`
// does.
type Main struct {
	Config config.Config
	Logger *slog.Logger

	// Pipeline runs builds; nil means the standard generation pipeline.
	Pipeline kiln.Pipeline
	// WorkerTuning adjusts the worker's timings (tests shorten them).
	WorkerTuning func(*worker.Config)

	DB     *sqlstore.DB
	Queue  *queue.Queue
	Worker *worker.Worker
	Server *api.Server
	// Mailer is the log sender's dev outbox (mail.sender log); nil with
	// the smtp and ses senders.
	Mailer *mail.DevMailer
	// MailSender delivers the outbox's messages: the configured sender
	// unless a test set one before Run.
	MailSender kiln.Mailer
	Mail       *sqlstore.MailStore
	templates  *mail.Templates
	linkBase   atomic.Pointer[string] // see publicURL
	Metrics    *telemetry.Metrics
	Events     *eventbus.Bus // API nodes: fans build events out to live streams

	eventStore *sqlstore.BuildEventService

	listener net.Listener
	http     *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   bool
}

// NewMain returns a Main for cfg logging to w.
func NewMain(cfg config.Config, logOut io.Writer) *Main {
	return &Main{Config: cfg, Logger: telemetry.NewLogger(logOut, cfg.Log.Level, cfg.Log.Format)}
}

// HasAPI reports whether this process serves the API.
func (m *Main) HasAPI() bool { return m.Config.HasRole(config.RoleAPI) }

// URL returns the base URL the API listens on.
func (m *Main) URL() string {
	if m.listener == nil {
		return ""
	}
	return "http://" + m.listener.Addr().String()
}

// StorageSummary says where the data is, for the start banner.
func (m *Main) StorageSummary() string {
	if m.Config.IsPostgres() {
		return "PostgreSQL"
	}
	return "SQLite in " + m.Config.DataDir
}

// Run opens the database, applies migrations, and starts the roles. It
// returns once everything is started; Close stops it.
func (m *Main) Run(ctx context.Context) (err error) {
	// Build folders are handed to the sandbox, which needs absolute paths.
	abs, err := filepath.Abs(m.Config.DataDir)
	if err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	m.Config.DataDir = abs
	cfg := m.Config
	log := m.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := m.openDB(ctx); err != nil {
		return err
	}

	blobDir := cfg.Blob.Dir
	if blobDir == "" {
		blobDir = filepath.Join(cfg.DataDir, "artifacts")
	}
	blobs, err := blob.NewLocal(blobDir)
	if err != nil {
		return fmt.Errorf("open artifact store: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel

	m.Metrics = telemetry.NewMetrics(m.DB.CountBuildsByStatus, log)
	var runner queue.Runner
	if cfg.HasRole(config.RoleWorker) {
		pipeline := m.Pipeline
		if pipeline == nil {
			if pipeline, err = newPipeline(cfg, log, sqlstore.NewUsageStore(m.DB)); err != nil {
				return err
			}
		}
		if w, ok := pipeline.(interface {
			StartWarm(context.Context, func(error))
		}); ok && cfg.Build.WarmCache {
			m.wg.Add(1)
			w.StartWarm(runCtx, func(err error) {
				defer m.wg.Done()
				if err != nil && runCtx.Err() == nil {
					log.Warn("build cache warm-up failed; a new user's first build compiles everything", slog.Any("error", err))
				}
			})
		}
		wc := worker.Config{
			Work: sqlstore.NewBuildWork(m.DB), Pipeline: pipeline, Blobs: blobs, Logger: log,
			BuildTimeout: cfg.Build.Timeout, MaxAttempts: cfg.Build.MaxAttempts, Metrics: m.Metrics,
		}
		if m.WorkerTuning != nil {
			m.WorkerTuning(&wc)
		}
		m.Worker = worker.New(wc)
		runner = m.Worker
	}
	mailCfg, err := m.setupMail(ctx)
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	m.Queue, err = queue.New(queue.Config{
		Dialect: m.DB.Dialect(), DB: m.DB.Writer(), Pool: m.DB.PgxPool(), Runner: runner,
		Concurrency: cfg.Build.Concurrency, JobTimeout: cfg.Build.Timeout + 2*time.Minute,
		MaxAttempts: cfg.Build.MaxAttempts + 2, ID: fmt.Sprintf("%s-%d", hostname, os.Getpid()), Logger: log,
		Mail: mailCfg, MailMaxAttempts: cfg.Mail.MaxAttempts,
	})
	if err != nil {
		return err
	}
	m.DB.SetEnqueue(m.Queue.Enqueue)
	m.DB.SetMailEnqueue(m.Queue.EnqueueMail)

	if m.Queue.Working() {
		if err := m.Queue.Start(runCtx); err != nil {
			return fmt.Errorf("start queue: %w", err)
		}
	}
	if m.Worker != nil {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.Worker.Rescue(runCtx)
		}()
	}

	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		sweepBlobs(runCtx, blobs, m.DB, log)
	}()

	if m.HasAPI() {
		if err := m.startAPI(runCtx, blobs); err != nil {
			return err
		}
	}
	releaseStartupMemory()
	return nil
}

// releaseStartupMemory hands back to the OS the memory starting took and
// no longer needs: goose's migration parser keeps 4 MB buffers in a
// sync.Pool, and the auth service hashes a dummy password with argon2id
// (19 MiB) to time unknown-user logins like real ones. An idle server
// collects garbage only every two minutes, so without this it would sit on
// that memory. Two collections empty the pool (its victim cache survives
// one); FreeOSMemory returns the freed pages.
func releaseStartupMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// openDB opens and migrates the database into m.DB; on failure nothing
// stays open.
func (m *Main) openDB(ctx context.Context) error {
	cfg := m.Config
	url := cfg.Database.URL
	if url == "" {
		url = filepath.Join(cfg.DataDir, "kiln.db")
	}
	db, err := sqlstore.Open(ctx, url, sqlstore.Options{Logger: m.Logger, RequireVerifiedEmail: cfg.Auth.RequireVerifiedEmail})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	if err := migrate(ctx, db, m.Logger); err != nil {
		_ = db.Close()
		return err
	}
	m.DB = db
	return nil
}

// migrate applies Kiln's and River's migrations.
func migrate(ctx context.Context, db *sqlstore.DB, log *slog.Logger) error {
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := queue.Migrate(ctx, db.Dialect(), db.Writer(), log); err != nil {
		return fmt.Errorf("migrate queue: %w", err)
	}
	return nil
}

func (m *Main) startAPI(ctx context.Context, blobs *blob.Local) error {
	cfg := m.Config
	if err := m.startEvents(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (addr): %w", cfg.Addr, err)
	}
	m.listener = ln
	baseURL := cfg.BaseURL
	if baseURL == "" {
		baseURL = m.URL()
	}
	linkBase := strings.TrimRight(baseURL, "/")
	m.linkBase.Store(&linkBase)
	authSvc, err := m.newAuthService(baseURL)
	if err != nil {
		return err
	}
	if err := authSvc.CheckSigningKeys(ctx); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	idem := sqlstore.NewIdempotencyStore(m.DB)
	apiCfg := api.Config{
		Auth: authSvc, Keys: authSvc, Users: sqlstore.NewUserService(m.DB), Apps: sqlstore.NewAppService(m.DB), Mail: m.Mail,
		Builds: sqlstore.NewBuildService(m.DB), Idempotency: idem,
		Usage: sqlstore.NewUsageService(m.DB), LLMLimits: api.LLMLimits{Model: strings.TrimSpace(cfg.LLM.Model), Build: cfg.LLM.MaxTokensPerBuild, Month: cfg.LLM.MaxTokensPerUserMonth},
		Blobs: blobs, Ready: m.DB.Ping, Metrics: m.Metrics, Logger: m.Logger,
	}
	if o := cfg.Auth.OIDC; o.Enabled() {
		oidcSvc, err := auth.NewOIDC(authSvc, auth.OIDCConfig{
			Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes,
			GroupClaim: o.GroupClaim, AdminGroup: o.AdminGroup, Audience: o.Audience, Name: o.Name,
		})
		if err != nil {
			return fmt.Errorf("auth: %w", err)
		}
		apiCfg.OIDC = oidcSvc
	}
	if err := m.wireAnalytics(ctx, &apiCfg); err != nil {
		return err
	}
	apiCfg.AppNamer = planName
	if apiCfg.Planner, err = m.previewPlanner(); err != nil {
		return err
	}
	if cfg.Dev && m.Mailer != nil {
		apiCfg.DevOutbox = m.Mailer
	}
	m.streamAPI(&apiCfg)
	m.Server = api.New(apiCfg)
	handler, err := m.startPortal(ctx, baseURL)
	if err != nil {
		return err
	}
	m.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.http.RegisterOnShutdown(m.Server.Shutdown) // event streams end before Shutdown waits for them
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http server", slog.Any("error", err))
		}
	}()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		pruneIdempotency(ctx, idem, m.Logger)
	}()
	m.Logger.Info("api listening", slog.String("url", m.URL()))
	return nil
}

// newAuthService returns the auth service over the database, with links
// in its mail under baseURL, rendered with m.templates.
func (m *Main) newAuthService(baseURL string) (*auth.Service, error) {
	cfg := m.Config
	secret, err := authSecret(cfg)
	if err != nil {
		return nil, err
	}
	svc, err := auth.New(sqlstore.NewAuthStore(m.DB), auth.Config{
		Secret: secret, AccessTTL: cfg.Auth.AccessTTL, RefreshTTL: cfg.Auth.RefreshTTL, BaseURL: baseURL, // auth trims a trailing slash
		Templates: m.templates,
	}, m.Logger)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return svc, nil
}

// sweepBlobs deletes the artifacts of deleted apps' builds shortly after
// start and then hourly, until ctx ends.
func sweepBlobs(ctx context.Context, blobs *blob.Local, db *sqlstore.DB, log *slog.Logger) {
	cfg := worker.SweepConfig{Blobs: blobs, InUse: db.BuildBlobsInUse, Grace: time.Hour, Logger: log}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := worker.SweepBuildBlobs(ctx, cfg); err != nil && ctx.Err() == nil {
			log.Warn("blob sweep", slog.Any("error", err))
		}
		t.Reset(time.Hour)
	}
}

// pruneIdempotency forgets idempotency records after a day.
func pruneIdempotency(ctx context.Context, store kiln.IdempotencyStore, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := store.DeleteIdempotencyRecordsBefore(ctx, time.Now().Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
			log.Warn("prune idempotency records", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// authSecret returns the configured token key, or one generated once and
// kept in the data folder (every node sharing that folder shares it).
func authSecret(cfg config.Config) ([]byte, error) {
	if cfg.Auth.Secret != "" {
		return []byte(cfg.Auth.Secret), nil
	}
	path := filepath.Join(cfg.DataDir, "auth.secret")
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return []byte(strings.TrimSpace(string(b))), nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails
	secret := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return authSecret(cfg) // another process won the race: use its key
	} else if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(secret + "\n"); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return []byte(secret), f.Sync()
}

// Close stops the API, lets running builds hand back their jobs, and closes
// the database.
func (m *Main) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Shutdown(ctx))
	}
	if m.Queue != nil && m.Queue.Working() {
		// Running builds are handed back to the queue, not waited for;
		// a message being sent is retried after the restart.
		if err := m.Queue.StopAndCancel(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			errs = append(errs, err)
		}
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.Events != nil {
		m.Events.Close()
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}
