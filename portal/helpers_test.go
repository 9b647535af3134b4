package portal_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/blob"
	"github.com/kiln-build/kiln/codegen/plan"
	"github.com/kiln-build/kiln/mail"
	"github.com/kiln-build/kiln/pack"
	"github.com/kiln-build/kiln/portal"
	"github.com/kiln-build/kiln/queue/queuetest"
	"github.com/kiln-build/kiln/sqlstore"
	"github.com/kiln-build/kiln/worker"
)

// clock is a settable clock shared by the auth service and the portal.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// env is a real API over SQLite with the portal mounted, served over HTTP.
type env struct {
	srv    *httptest.Server
	db     *sqlstore.DB
	mailer *mail.DevMailer
	work   kiln.BuildWork
	blobs  *blob.Local
	clock  *clock
	// bounce makes mail to bounce@… fail for good, as a mail server
	// refusing the address would.
	bounce atomic.Bool
	// logs collects the server's log for failing tests.
	logs *bytes.Buffer
}

// MustEnv starts the stack: SQLite, auth, API (with the rules planner),
// portal. Builds are created but never run; tests drive them through
// env.work the way a worker would.
func MustEnv(tb testing.TB, opts ...func(*portal.Config)) *env {
	tb.Helper()
	return MustEnvAPI(tb, nil, opts...)
}

// MustEnvAPI is MustEnv with the API's configuration changed by apiOpt
// (when not nil) before it starts.
func MustEnvAPI(tb testing.TB, apiOpt func(*api.Config), opts ...func(*portal.Config)) *env {
	tb.Helper()
	ctx := context.Background()
	e := &env{clock: &clock{}, logs: &bytes.Buffer{}}
	db, err := sqlstore.Open(ctx, filepath.Join(tb.TempDir(), "kiln.db"), sqlstore.Options{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	db.SetEnqueue(func(context.Context, *sql.Tx, int64) error { return nil })
	e.db, e.work = db, sqlstore.NewBuildWork(db)
	if e.blobs, err = blob.NewLocal(filepath.Join(tb.TempDir(), "blobs")); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e.mailer = mail.NewDevMailer(log)
	queuetest.StartMail(tb, db, &bounceSender{next: e.mailer, bounce: &e.bounce})
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	authSvc, err := auth.New(sqlstore.NewAuthStore(db), auth.Config{
		Secret: bytes.Repeat([]byte("k"), 32), BaseURL: base, Now: e.clock.Now,
		Argon2: auth.Argon2Params{Iterations: 1, Memory: 8 * 1024, Parallelism: 1, KeyLen: 32, SaltLen: 16},
	}, log)
	if err != nil {
		tb.Fatal(err)
	}
	apiCfg := api.Config{
		Auth: authSvc, Users: sqlstore.NewUserService(db), Apps: sqlstore.NewAppService(db),
		Builds: sqlstore.NewBuildService(db), Idempotency: sqlstore.NewIdempotencyStore(db), Mail: sqlstore.NewMailStore(db),
		Blobs: e.blobs, Planner: plan.Rules{}, DevOutbox: e.mailer, Logger: log,
		Events: sqlstore.NewBuildEventService(db), Usage: sqlstore.NewUsageService(db),
		IngestKeys: sqlstore.NewIngestKeyService(db), Analytics: sqlstore.NewEventStore(db),
	}
	if apiOpt != nil {
		apiOpt(&apiCfg)
	}
	apiSrv := api.New(apiCfg)
	cfg := portal.Config{API: apiSrv, Sessions: sqlstore.NewWebSessionStore(db), BaseURL: base, Dev: true, Logger: log, Now: e.clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := portal.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e.srv.Config.Handler = p.Handler()
	e.srv.Start()
	tb.Cleanup(e.srv.Close)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// browser is an HTTP client with cookies that does not follow redirects,
// so tests see each answer.
type browser struct {
	tb   testing.TB
	e    *env
	c    *http.Client
	last string // the body of the last page, for its CSRF token
}

func (e *env) Browser(tb testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.tb.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := page{status: res.StatusCode, header: res.Header, body: string(body)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") && (res.StatusCode < 300 || res.StatusCode >= 400) {
		b.last = p.body
	}
	return p
}

// Get fetches a path.
func (b *browser) Get(path string) page {
	b.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF returns the form token of the last page.
func (b *browser) CSRF() string {
	m := csrfRE.FindStringSubmatch(b.last)
	if m == nil {
		b.tb.Fatalf("no csrf token on the last page:\n%s", b.last)
	}
	return m[1]
}

// Post sends a form with the last page's CSRF token (unless the form sets
// one). kv are alternating names and values.
func (b *browser) Post(path string, kv ...string) page {
	b.tb.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.CSRF())
	}
	return b.PostForm(path, form)
}

// PostForm sends a form as is.
func (b *browser) PostForm(path string, form url.Values, hdr ...string) page {
	b.tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

// MustSignup signs up, verifies the email with the mailed link and logs in.
func (b *browser) MustSignup(email string) {
	b.tb.Helper()
	b.Get("/signup")
	if p := b.Post("/signup", "email", email, "password", "correct horse battery", "password_confirm", "correct horse battery"); p.status != http.StatusOK || !strings.Contains(p.body, "Check your email") {
		b.tb.Fatalf("signup: %d\n%s", p.status, p.body)
	}
	msg := b.e.MustMail(b.tb, email, "verify_email", "")
	link, err := url.Parse(msg.Link)
	if err != nil {
		b.tb.Fatal(err)
	}
	b.Get(link.RequestURI())
	if p := b.Post("/verify-email", "token", link.Query().Get("token")); p.status != http.StatusSeeOther {
		b.tb.Fatalf("verify: %d\n%s", p.status, p.body)
	}
	b.MustLogin(email)
}

// MustLogin logs in and checks the redirect.
func (b *browser) MustLogin(email string) {
	b.tb.Helper()
	b.Get("/login")
	if p := b.Post("/login", "email", email, "password", "correct horse battery"); p.status != http.StatusSeeOther {
		b.tb.Fatalf("login: %d\n%s", p.status, p.body)
	}
}

// MustStatus fails unless the page has the status.
func (p page) MustStatus(tb testing.TB, want int) page {
	tb.Helper()
	if p.status != want {
		tb.Fatalf("status %d, want %d; page:\n%s", p.status, want, p.body)
	}
	return p
}

// MustContain fails unless the page contains every string.
func (p page) MustContain(tb testing.TB, want ...string) page {
	tb.Helper()
	for _, w := range want {
		if !strings.Contains(p.body, w) {
			tb.Fatalf("page does not contain %q:\n%s", w, p.body)
		}
	}
	return p
}

// location returns the redirect target.
func (p page) location() string { return p.header.Get("Location") }

// fakePipeline plans the app's spec (or a fixed one), writes a log with
// colors, markup and the unsandboxed warning, and packages a real source
// archive and a validation report. For descriptions that mention "model"
// it records a language-model call and reports a repair.
type fakePipeline struct {
	usage kiln.UsageStore
}

// hostileLine is a log line that must show as text.
const hostileLine = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"

func (fp fakePipeline) Run(ctx context.Context, b *kiln.Build, app *kiln.App, rec kiln.Recorder) error {
	model := strings.Contains(app.Description, "model")
	if model {
		if err := fp.usage.RecordLLMCall(ctx, &kiln.LLMCall{BuildID: b.ID, OwnerID: b.OwnerID, Step: "repair 1", Model: "tiny-model",
			PromptTokens: 1200, CompletionTokens: 300, CostUSD: 0.0123}); err != nil {
			return err
		}
	}
	spec := b.Spec
	err := rec.Step(ctx, "plan", kiln.BuildPlanning, func(ctx context.Context) error {
		if spec == nil {
			spec = &kiln.AppSpec{KilnSpec: 1, Name: "demo", Entities: []kiln.Entity{{Name: "task", Plural: "tasks", Fields: []kiln.Field{{Name: "title", Type: kiln.FieldString}}}}}
		}
		rec.Logf("WARNING: bubblewrap is not available: the generated code runs UNSANDBOXED (set sandbox: required to refuse)")
		return rec.SetSpec(ctx, spec)
	})
	if err != nil {
		return err
	}
	err = rec.Step(ctx, "test", kiln.BuildValidating, func(ctx context.Context) error {
		w := rec.Writer(kiln.StreamStdout)
		defer w.Close()
		fmt.Fprintf(w, "\x1b[32mok\x1b[0m  \tdemo/store\t0.01s\n")
		fmt.Fprintf(w, "%s\n", hostileLine)
		fmt.Fprintf(w, "\x1b[1;31mFAIL\x1b[0m never really\n")
		return nil
	})
	if err != nil {
		return err
	}
	return rec.Step(ctx, "package", kiln.BuildPackaging, func(ctx context.Context) error {
		var tgz bytes.Buffer
		files := map[string][]byte{"kiln.json": mustJSON(spec), "main.go": []byte("package main\n\nfunc main() {}\n")}
		if err := pack.WriteTarGz(&tgz, pack.MapFS(files), spec.Name); err != nil {
			return err
		}
		if _, err := rec.AddArtifact(ctx, kiln.ArtifactSourceTarGz, spec.Name+"-source.tar.gz", &tgz); err != nil {
			return err
		}
		llm := ""
		if model {
			llm = `,"llm":{"model":"tiny-model","stopped":"the checks passed","usage":{"calls":1,"total_tokens":1500},"attempts":[` +
				`{"step":"repair 1","check":"vet","error":"store.go:3: <undefined> x","summary":"declare x","answers":1,"tokens":1500,"outcome":"applied; checks passed",` +
				`"changes":[{"path":"store.go","action":"edited","lines_added":2,"lines_removed":1}]}]}`
		}
		report := `{"spec_sha256":"x","template_set":"go-api","template_version":"1","go":"go1.26","sandboxed":false,` +
			`"checks":[{"name":"vet","command":"go vet ./...","exit_code":0,"duration_ms":1200,"passed":true}],"passed":true` + llm + `}`
		_, err := rec.AddArtifact(ctx, kiln.ArtifactReport, "validation-report.json", strings.NewReader(report))
		return err
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// RunBuild runs a build to its end with the fake pipeline, as a worker
// would.
func (e *env) RunBuild(tb testing.TB, id int64) {
	tb.Helper()
	w := worker.New(worker.Config{Work: e.work, Pipeline: fakePipeline{usage: sqlstore.NewUsageStore(e.db)}, Blobs: e.blobs, Logger: slog.New(slog.DiscardHandler)})
	if err := w.RunBuild(context.Background(), id); err != nil {
		tb.Fatalf("run build %d: %v", id, err)
	}
}

var buildPathRE = regexp.MustCompile(`^/builds/(\d+)`)

// buildID reads the build id from a /builds/{id} redirect.
func buildID(tb testing.TB, location string) int64 {
	tb.Helper()
	m := buildPathRE.FindStringSubmatch(location)
	if m == nil {
		tb.Fatalf("not a build page: %q", location)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	return id
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func fmtSscanf(s, format string, args ...any) (int, error) { return fmt.Sscanf(s, format, args...) }

// MustMail waits for the newest mail of kind to email whose link is not
// notLink (the link of an earlier one, to wait for the next).
func (e *env) MustMail(tb testing.TB, email, kind, notLink string) kiln.Mail {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	m, err := e.mailer.Wait(ctx, func(m kiln.Mail) bool {
		return strings.EqualFold(m.To, email) && m.Kind == kind && m.Link != notLink
	})
	if err != nil {
		tb.Fatalf("no %s mail to %s: %v", kind, email, err)
	}
	return m
}

// bounceSender refuses mail to bounce@… for good while bounce is set and
// hands everything else to next.
type bounceSender struct {
	next   kiln.Mailer
	bounce *atomic.Bool
}

func (b *bounceSender) Send(ctx context.Context, m *kiln.Mail) error {
	if b.bounce.Load() && strings.HasPrefix(m.To, "bounce@") {
		return fmt.Errorf("550 5.1.1 no such user: %w", kiln.ErrPermanentMail)
	}
	return b.next.Send(ctx, m)
}
