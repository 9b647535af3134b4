// Package clienttest runs an in-memory stand-in of Kiln's v1 REST API for
// unit tests of the client and the CLI. It follows the REST contract
// (routes, JSON shapes, problem+json errors, bearer auth with rotating
// refresh tokens) closely enough to exercise every client method, and lets a
// test script how builds progress without sleeping. It is not the real
// server: end-to-end tests run that one.
package clienttest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-build/kiln"
)

// Stage is one step of a scripted build: each log poll reveals the next
// stage, appending its lines and moving the build to its status.
type Stage struct {
	Status kiln.BuildStatus
	Step   string
	Lines  []string
	Error  string // the build's error text, with a failed status
}

// DefaultScript is how a build progresses unless Server.Script says
// otherwise: a description containing "fail" ends failed, any other succeeds.
func DefaultScript(app *kiln.App) []Stage {
	s := []Stage{
		{Status: kiln.BuildPlanning, Step: "plan", Lines: []string{"planning " + app.Name}},
		{Status: kiln.BuildValidating, Step: "test", Lines: []string{"go vet ./...", "go test ./..."}},
	}
	if strings.Contains(app.Description, "fail") {
		return append(s, Stage{Status: kiln.BuildFailed, Step: "test", Lines: []string{"--- FAIL: TestCreate"}, Error: "go test failed"})
	}
	return append(s, Stage{Status: kiln.BuildSucceeded, Step: "package", Lines: []string{"packaged source.tar.gz"}})
}

// Server is the fake API. Its exported fields are knobs a test may set
// before making calls; they are read under the server's lock.
type Server struct {
	*httptest.Server

	// Script returns the stages of a new build; DefaultScript when nil.
	Script func(app *kiln.App) []Stage
	// Now is the server's clock; time.Now when nil.
	Now func() time.Time
	// AccessTTL is the lifetime of access tokens; 15 minutes when zero.
	AccessTTL time.Duration
	// LoginRetryAfter, when set, makes every login fail with 429 and this
	// Retry-After in seconds.
	LoginRetryAfter int
	// BadChecksum makes artifact downloads announce a wrong checksum.
	BadChecksum bool
	// RequireVerified refuses to create apps and builds for users whose
	// email is not verified, with 403.
	RequireVerified bool
	// ServerVersion is what /v1/version reports.
	ServerVersion string
	// StreamChunk, when set, makes every event stream send at most this
	// many events before it closes as going away, so clients must resume.
	StreamChunk int

	mu        sync.Mutex
	nextID    int64
	users     map[string]*userRec // by email
	access    map[string]accessRec
	refresh   map[string]int64 // live refresh token → user id
	rotated   map[string]bool  // refresh tokens already used
	apiTokens map[string]*tokenRec
	apps      []*kiln.App
	keys      []*kiln.SigningKey // newest first
	builds    []*buildRec
	artifacts map[int64]*artifactRec
	idem      map[string][]byte
	calls     []string
	analytics analyticsState
	mail      mailState
	userSeq   map[int64]int64 // last event UserSeq per owner
	tickets   map[string]int64
}

type userRec struct {
	user     kiln.User
	password string
	verify   string
}

type accessRec struct {
	userID  int64
	expires time.Time
}

type tokenRec struct {
	token  kiln.APIToken
	secret string
}

type buildRec struct {
	build  kiln.Build
	steps  []*kiln.Step
	logs   []*kiln.LogLine
	events []*kiln.BuildEvent // see events.go
	script []Stage
}

type artifactRec struct {
	artifact kiln.Artifact
	content  []byte
}

// NewServer starts a fake server, closed when the test ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		users:         map[string]*userRec{},
		access:        map[string]accessRec{},
		refresh:       map[string]int64{},
		rotated:       map[string]bool{},
		apiTokens:     map[string]*tokenRec{},
		artifacts:     map[int64]*artifactRec{},
		idem:          map[string][]byte{},
		ServerVersion: "9.9.9-test",
	}
	s.Server = httptest.NewServer(s.routes())
	tb.Cleanup(s.Close)
	return s
}

// Calls returns the operations served so far, as "METHOD /pattern" in the
// contract's notation ("GET /v1/builds/{id}"), in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// ResetCalls forgets the recorded operations.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// AddUser creates a verified user directly and returns it; the first user
// is an admin, as on the real server.
func (s *Server) AddUser(email, password string) *kiln.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.addUserLocked(email, password)
	u.user.EmailVerified = true
	cp := u.user
	return &cp
}

// VerificationToken returns the email verification token of a user.
func (s *Server) VerificationToken(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[email]; u != nil {
		return u.verify
	}
	return ""
}

// ExpireAccessTokens invalidates every access token, as if they had all
// expired, so the next call with one is answered 401.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = map[string]accessRec{}
}

// LiveRefreshTokens counts refresh tokens that are still usable.
func (s *Server) LiveRefreshTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.refresh)
}

// Build returns a copy of a build.
func (s *Server) Build(id int64) (kiln.Build, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buildByID(id); b != nil {
		return b.build, true
	}
	return kiln.Build{}, false
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) addUserLocked(email, password string) *userRec {
	now := s.now()
	u := &userRec{password: password}
	u.user = kiln.User{ID: s.id(), Email: email, Role: kiln.RoleUser, CreatedAt: now, UpdatedAt: now}
	if len(s.users) == 0 {
		u.user.Role = kiln.RoleAdmin
	}
	u.verify = fmt.Sprintf("verify-%d", u.user.ID)
	s.users[email] = u
	return u
}

func (s *Server) userByID(id int64) *userRec {
	for _, u := range s.users {
		if u.user.ID == id {
			return u
		}
	}
	return nil
}

func (s *Server) buildByID(id int64) *buildRec {
	for _, b := range s.builds {
		if b.build.ID == id {
			return b
		}
	}
	return nil
}

func (s *Server) appByID(id int64) *kiln.App {
	for _, a := range s.apps {
		if a.ID == id {
			return a
		}
	}
	return nil
}

func (s *Server) newSession(u *userRec) *kiln.Session {
	now := s.now()
	ttl := s.AccessTTL
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	sess := &kiln.Session{
		User:             &u.user,
		AccessToken:      fmt.Sprintf("access-%d", s.id()),
		AccessExpiresAt:  now.Add(ttl),
		RefreshToken:     fmt.Sprintf("refresh-%d", s.id()),
		RefreshExpiresAt: now.Add(30 * 24 * time.Hour),
	}
	s.access[sess.AccessToken] = accessRec{userID: u.user.ID, expires: sess.AccessExpiresAt}
	s.refresh[sess.RefreshToken] = u.user.ID
	return sess
}

// newBuild queues a build of app and returns it; the lock is held.
func (s *Server) newBuild(app *kiln.App, noCache bool) *buildRec {
	n := 1
	for _, b := range s.builds {
		if b.build.AppID == app.ID && b.build.Number >= n {
			n = b.build.Number + 1
		}
	}
	script := DefaultScript
	if s.Script != nil {
		script = s.Script
	}
	b := &buildRec{
		build: kiln.Build{ID: s.id(), AppID: app.ID, OwnerID: app.OwnerID, Number: n,
			Status: kiln.BuildQueued, NoCache: noCache, CreatedAt: s.now()},
		script: script(app),
	}
	s.builds = append(s.builds, b)
	s.emit(b, &kiln.BuildEvent{Kind: kiln.EventStatus, Status: &kiln.StatusEvent{Status: kiln.BuildQueued}})
	return b
}

// advance moves a build one stage along its script.
func (s *Server) advance(b *buildRec) {
	if b.build.Status.Terminal() || len(b.script) == 0 {
		return
	}
	st := b.script[0]
	b.script = b.script[1:]
	now := s.now()
	if b.build.StartedAt == nil {
		b.build.StartedAt = &now
	}
	b.build.Status, b.build.Step, b.build.Error = st.Status, st.Step, st.Error
	if !st.Status.Terminal() {
		s.emit(b, &kiln.BuildEvent{Kind: kiln.EventStatus, Status: &kiln.StatusEvent{Status: st.Status, Step: st.Step}})
	}
	if st.Step != "" && (len(b.steps) == 0 || b.steps[len(b.steps)-1].Name != st.Step) {
		step := &kiln.Step{ID: s.id(), BuildID: b.build.ID, Name: st.Step, Outcome: kiln.StepRunning, StartedAt: now}
		b.steps = append(b.steps, step)
		s.emit(b, &kiln.BuildEvent{Kind: kiln.EventStep, Step: &kiln.StepEvent{ID: step.ID, Name: step.Name, Phase: kiln.StepStarted, Outcome: kiln.StepRunning}})
	}
	for _, text := range st.Lines {
		e := s.emit(b, &kiln.BuildEvent{Kind: kiln.EventLog, Log: &kiln.LogEvent{Stream: kiln.StreamStdout, Text: text}})
		b.logs = append(b.logs, e.LogLine())
	}
	if st.Status.Terminal() {
		s.finish(b, st.Status)
	}
}

func (s *Server) finish(b *buildRec, status kiln.BuildStatus) {
	now := s.now()
	b.build.Status = status
	b.build.FinishedAt = &now
	outcome := map[kiln.BuildStatus]kiln.StepOutcome{kiln.BuildSucceeded: kiln.StepSucceeded,
		kiln.BuildFailed: kiln.StepFailed, kiln.BuildCanceled: kiln.StepCanceled}[status]
	for _, st := range b.steps {
		if st.FinishedAt == nil {
			st.FinishedAt, st.Outcome = &now, outcome
			s.emit(b, &kiln.BuildEvent{Kind: kiln.EventStep, Step: &kiln.StepEvent{ID: st.ID, Name: st.Name, Phase: kiln.StepFinished,
				Outcome: outcome, DurationMS: now.Sub(st.StartedAt).Milliseconds()}})
		}
	}
	defer s.emit(b, &kiln.BuildEvent{Kind: kiln.EventEnd, End: &kiln.EndEvent{Status: status, Error: b.build.Error}})
	if status == kiln.BuildSucceeded {
		content := []byte(fmt.Sprintf("source of build %d\n", b.build.ID))
		sum := sha256.Sum256(content)
		a := &artifactRec{content: content, artifact: kiln.Artifact{ID: s.id(), BuildID: b.build.ID,
			Kind: kiln.ArtifactSourceTarGz, Name: fmt.Sprintf("app-%d.tar.gz", b.build.Number),
			Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]), CreatedAt: now}}
		s.artifacts[a.artifact.ID] = a
		art := a.artifact
		s.emit(b, &kiln.BuildEvent{Kind: kiln.EventArtifact, Artifact: &art})
	}
}

// problem writes an RFC 9457 error.
func problem(w http.ResponseWriter, status int, code, detail string, fields ...kiln.FieldError) {
	type loc struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	}
	body := struct {
		Type      string `json:"type"`
		Title     string `json:"title"`
		Status    int    `json:"status"`
		Detail    string `json:"detail"`
		Code      string `json:"code"`
		Errors    []loc  `json:"errors,omitempty"`
		RequestID string `json:"request_id"`
	}{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code, RequestID: "req-test"}
	for _, f := range fields {
		body.Errors = append(body.Errors, loc{f.Path, f.Message})
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly, answering 400 on failure.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem(w, http.StatusBadRequest, kiln.EInvalid, "malformed JSON: "+err.Error())
		return false
	}
	return true
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		problem(w, http.StatusUnprocessableEntity, kiln.EInvalid, "id must be a positive integer",
			kiln.FieldError{Path: "path.id", Message: "must be a positive integer"})
		return 0, false
	}
	return id, true
}

// page cuts items by an offset cursor and a limit and returns the next cursor.
func page[T any](r *http.Request, items []T) ([]T, string) {
	off, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	limit = kiln.Page{Limit: limit}.NormLimit()
	if off < 0 || off > len(items) {
		off = len(items)
	}
	end := min(off+limit, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[off:end], next
}
