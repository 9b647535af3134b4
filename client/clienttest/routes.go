package clienttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-build/kiln"
)

// Operations lists the v1 operations the fake serves, in the contract's
// notation. The CLI's coverage test checks its commands against it until
// api/openapi.json exists.
var Operations = []string{
	"POST /v1/auth/signup",
	"POST /v1/auth/login",
	"POST /v1/auth/refresh",
	"POST /v1/auth/logout",
	"POST /v1/auth/verify-email",
	"POST /v1/auth/resend-verification",
	"GET /v1/me",
	"GET /v1/usage",
	"GET /v1/tokens",
	"POST /v1/tokens",
	"DELETE /v1/tokens/{id}",
	"GET /v1/apps",
	"POST /v1/apps",
	"GET /v1/apps/{id}",
	"PATCH /v1/apps/{id}",
	"DELETE /v1/apps/{id}",
	"GET /v1/apps/{id}/spec",
	"PUT /v1/apps/{id}/spec",
	"GET /v1/apps/{id}/builds",
	"POST /v1/apps/{id}/builds",
	"GET /v1/builds",
	"GET /v1/builds/{id}",
	"POST /v1/builds/{id}/cancel",
	"GET /v1/builds/{id}/logs",
	"GET /v1/builds/{id}/artifacts",
	"GET /v1/builds/{id}/diff",
	"GET /v1/artifacts/{id}/content",
	"GET /v1/admin/users",
	"POST /v1/admin/users/{id}/revoke-sessions",
	"POST /v1/admin/grant",
	"GET /v1/admin/keys",
	"GET /v1/auth/oidc",
	"POST /v1/auth/oidc/code",
	"POST /v1/auth/oidc/device",
	"POST /v1/auth/oidc/device/token",
	"POST /v1/admin/keys/rotate",
	"GET /v1/version",
	"GET /v1/apps/{id}/ingest-keys",
	"POST /v1/apps/{id}/ingest-keys",
	"POST /v1/apps/{id}/ingest-keys/{key_id}/rotate",
	"DELETE /v1/apps/{id}/ingest-keys/{key_id}",
	"POST /v1/plan",
	"POST /v1/ingest",
	"GET /v1/apps/{id}/analytics/summary",
	"POST /v1/stream-tickets",
	"GET /v1/builds/{id}/events",
	"GET /v1/events",
	"POST /v1/auth/password-reset",
	"POST /v1/auth/password-reset/confirm",
	"PATCH /v1/me",
	"GET /v1/admin/mail",
	"POST /v1/admin/mail/{id}/retry",
}

type handler func(w http.ResponseWriter, r *http.Request, u *userRec)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Each handler runs under the server lock: the fake is simple, not fast.
	handle := func(pattern string, anon bool, h handler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.calls = append(s.calls, pattern)
			var u *userRec
			if !anon {
				if u = s.authenticate(r); u == nil {
					problem(w, http.StatusUnauthorized, kiln.EUnauthorized, "missing or invalid credentials")
					return
				}
			}
			h(w, r, u)
		})
	}
	for _, op := range Operations {
		h, anon := s.handlerFor(op)
		handle(op, anon, h)
	}
	return mux
}

func (s *Server) authenticate(r *http.Request) *userRec {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || bearer == "" {
		return nil
	}
	if t := s.apiTokens[bearer]; t != nil {
		return s.userByID(t.token.UserID)
	}
	a, ok := s.access[bearer]
	if !ok || !s.now().Before(a.expires) {
		return nil
	}
	return s.userByID(a.userID)
}

func (s *Server) handlerFor(op string) (handler, bool) {
	switch op {
	case "POST /v1/auth/signup":
		return s.signup, true
	case "POST /v1/auth/login":
		return s.login, true
	case "POST /v1/auth/refresh":
		return s.refreshSession, true
	case "POST /v1/auth/logout":
		return s.logout, true
	case "POST /v1/auth/verify-email":
		return s.verifyEmail, true
	case "GET /v1/version":
		return func(w http.ResponseWriter, r *http.Request, _ *userRec) {
			writeJSON(w, 200, map[string]string{"version": s.ServerVersion, "commit": "abc123", "go": "go1.26"})
		}, true
	case "POST /v1/auth/resend-verification":
		return func(w http.ResponseWriter, r *http.Request, u *userRec) { w.WriteHeader(http.StatusNoContent) }, false
	case "GET /v1/usage":
		return func(w http.ResponseWriter, r *http.Request, u *userRec) {
			writeJSON(w, 200, kiln.MonthUsage{Month: "2026-11"})
		}, false
	case "GET /v1/me":
		return func(w http.ResponseWriter, r *http.Request, u *userRec) { writeJSON(w, 200, u.user) }, false
	case "GET /v1/tokens":
		return s.listTokens, false
	case "POST /v1/tokens":
		return s.createToken, false
	case "DELETE /v1/tokens/{id}":
		return s.revokeToken, false
	case "GET /v1/apps":
		return s.listApps, false
	case "POST /v1/apps":
		return s.createApp, false
	case "GET /v1/apps/{id}", "PATCH /v1/apps/{id}", "DELETE /v1/apps/{id}",
		"GET /v1/apps/{id}/spec", "PUT /v1/apps/{id}/spec", "GET /v1/apps/{id}/builds", "POST /v1/apps/{id}/builds":
		return s.withApp(op), false
	case "GET /v1/builds":
		return s.listBuilds, false
	case "GET /v1/builds/{id}", "POST /v1/builds/{id}/cancel", "GET /v1/builds/{id}/logs", "GET /v1/builds/{id}/artifacts":
		return s.withBuild(op), false
	case "GET /v1/artifacts/{id}/content":
		return s.artifactContent, false
	case "GET /v1/builds/{id}/diff":
		return s.diffBuilds, false
	case "GET /v1/admin/users":
		return s.adminUsers, false
	case "POST /v1/admin/users/{id}/revoke-sessions":
		return s.adminRevokeSessions, false
	case "POST /v1/admin/grant":
		return s.adminGrant, false
	case "GET /v1/auth/oidc", "POST /v1/auth/oidc/code", "POST /v1/auth/oidc/device", "POST /v1/auth/oidc/device/token":
		return func(w http.ResponseWriter, _ *http.Request, _ *userRec) {
			problem(w, http.StatusNotFound, kiln.ENotFound, "login through an identity provider is not configured on this server")
		}, true
	case "GET /v1/admin/keys":
		return s.adminKeys, false
	case "POST /v1/admin/keys/rotate":
		return s.adminRotateKeys, false
	case "POST /v1/plan":
		return s.plan, false
	case "POST /v1/stream-tickets":
		return s.createTicket, false
	case "GET /v1/builds/{id}/events", "GET /v1/events":
		return s.streamEvents, true // bearer or ticket, checked by the handler
	}
	if h, anon, ok := s.analyticsHandler(op); ok {
		return h, anon
	}
	if h, anon, ok := s.mailHandler(op); ok {
		return h, anon
	}
	panic("clienttest: no handler for " + op)
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request, _ *userRec) {
	var in credentials
	if !decode(w, r, &in) {
		return
	}
	var fields []kiln.FieldError
	if !strings.Contains(in.Email, "@") {
		fields = append(fields, kiln.FieldError{Path: "body.email", Message: "must be an email address"})
	}
	if len(in.Password) < 8 {
		fields = append(fields, kiln.FieldError{Path: "body.password", Message: "must be at least 8 characters"})
	}
	if len(fields) > 0 {
		problem(w, http.StatusUnprocessableEntity, kiln.EInvalid, "validation failed", fields...)
		return
	}
	if s.users[in.Email] != nil {
		problem(w, http.StatusConflict, kiln.EConflict, "email is taken")
		return
	}
	u := s.addUserLocked(in.Email, in.Password)
	writeJSON(w, http.StatusCreated, map[string]any{"user": u.user})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *userRec) {
	var in credentials
	if !decode(w, r, &in) {
		return
	}
	if s.LoginRetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s.LoginRetryAfter))
		problem(w, http.StatusTooManyRequests, kiln.ERateLimited, "too many login attempts")
		return
	}
	u := s.users[in.Email]
	if u == nil || u.password != in.Password {
		problem(w, http.StatusUnauthorized, kiln.EUnauthorized, "wrong email or password")
		return
	}
	writeJSON(w, 200, s.newSession(u))
}

type refreshIn struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) refreshSession(w http.ResponseWriter, r *http.Request, _ *userRec) {
	var in refreshIn
	if !decode(w, r, &in) {
		return
	}
	uid, ok := s.refresh[in.RefreshToken]
	if !ok {
		if s.rotated[in.RefreshToken] {
			// Reuse of a rotated token: revoke every session, as the real
			// server does, so a test sees the damage a double refresh does.
			s.refresh = map[string]int64{}
		}
		problem(w, http.StatusUnauthorized, kiln.EUnauthorized, "invalid refresh token")
		return
	}
	delete(s.refresh, in.RefreshToken)
	s.rotated[in.RefreshToken] = true
	writeJSON(w, 200, s.newSession(s.userByID(uid)))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *userRec) {
	var in refreshIn
	if !decode(w, r, &in) {
		return
	}
	delete(s.refresh, in.RefreshToken)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) verifyEmail(w http.ResponseWriter, r *http.Request, _ *userRec) {
	var in struct {
		Token string `json:"token"`
	}
	if !decode(w, r, &in) {
		return
	}
	for _, u := range s.users {
		if u.verify != "" && u.verify == in.Token {
			u.verify = ""
			u.user.EmailVerified = true
			writeJSON(w, 200, map[string]any{"user": u.user})
			return
		}
	}
	problem(w, http.StatusUnprocessableEntity, kiln.EInvalid, "unknown or expired verification token")
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, u *userRec) {
	items := []kiln.APIToken{}
	for _, t := range s.apiTokens {
		if t.token.UserID == u.user.ID {
			items = append(items, t.token)
		}
	}
	slices.SortFunc(items, func(a, b kiln.APIToken) int { return int(b.ID - a.ID) })
	writeJSON(w, 200, map[string]any{"items": items})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, u *userRec) {
	var in struct {
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Name == "" {
		problem(w, 422, kiln.EInvalid, "validation failed", kiln.FieldError{Path: "body.name", Message: "is required"})
		return
	}
	id := s.id()
	secret := fmt.Sprintf("kiln_secret%d", id)
	t := &tokenRec{secret: secret, token: kiln.APIToken{ID: id, UserID: u.user.ID, Name: in.Name,
		Prefix: secret[:9], CreatedAt: s.now(), ExpiresAt: in.ExpiresAt}}
	s.apiTokens[secret] = t
	writeJSON(w, http.StatusCreated, map[string]any{"token": t.token, "secret": secret})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, u *userRec) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	for secret, t := range s.apiTokens {
		if t.token.ID == id && t.token.UserID == u.user.ID {
			delete(s.apiTokens, secret)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	problem(w, http.StatusNotFound, kiln.ENotFound, "token not found")
}

// visible reports whether u may see a thing owned by owner.
func visible(u *userRec, owner int64, all bool) bool {
	return owner == u.user.ID || (all && u.user.IsAdmin())
}

func (s *Server) appView(a *kiln.App) kiln.App {
	cp := *a
	for i := len(s.builds) - 1; i >= 0; i-- {
		if s.builds[i].build.AppID == a.ID {
			b := s.builds[i].build
			cp.LatestBuild = &b
			break
		}
	}
	return cp
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, u *userRec) {
	all := r.URL.Query().Get("all") == "true"
	items := []kiln.App{}
	for i := len(s.apps) - 1; i >= 0; i-- {
		if visible(u, s.apps[i].OwnerID, all) {
			items = append(items, s.appView(s.apps[i]))
		}
	}
	items, next := page(r, items)
	writeJSON(w, 200, map[string]any{"items": items, "next_cursor": next})
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, u *userRec) {
	if s.RequireVerified && !u.user.EmailVerified {
		problem(w, http.StatusForbidden, kiln.EForbidden, "verify your email address first")
		return
	}
	var buf bytes.Buffer
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if _, err := buf.ReadFrom(r.Body); err != nil {
		problem(w, http.StatusRequestEntityTooLarge, kiln.ETooLarge, "body too large")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key != "" {
		if prev, ok := s.idem[key]; ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(prev)
			return
		}
	}
	var in struct {
		Description string        `json:"description"`
		Name        string        `json:"name"`
		NoCache     bool          `json:"no_cache"`
		Spec        *kiln.AppSpec `json:"spec"`
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, kiln.EInvalid, "malformed JSON: "+err.Error())
		return
	}
	if strings.TrimSpace(in.Description) == "" || len(in.Description) > kiln.MaxDescriptionLen {
		problem(w, 422, kiln.EInvalid, "validation failed", kiln.FieldError{Path: "body.description",
			Message: fmt.Sprintf("must be 1 to %d characters", kiln.MaxDescriptionLen)})
		return
	}
	if in.Name == "" {
		in.Name = strings.ToLower(strings.Join(strings.Fields(in.Description)[:1], "-"))
	}
	now := s.now()
	if in.Spec != nil {
		if err := in.Spec.Validate(); err != nil {
			problem(w, 422, kiln.EInvalid, kiln.ErrorMessage(err))
			return
		}
	}
	app := &kiln.App{ID: s.id(), OwnerID: u.user.ID, Name: in.Name, Description: in.Description, Spec: in.Spec, CreatedAt: now, UpdatedAt: now}
	s.apps = append(s.apps, app)
	b := s.newBuild(app, in.NoCache)
	out, _ := json.Marshal(map[string]any{"app": s.appView(app), "build": b.build})
	if key != "" {
		s.idem[key] = out
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(out)
}

func (s *Server) withApp(op string) handler {
	return func(w http.ResponseWriter, r *http.Request, u *userRec) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		app := s.appByID(id)
		if app == nil || !visible(u, app.OwnerID, true) {
			problem(w, http.StatusNotFound, kiln.ENotFound, "app not found")
			return
		}
		switch op {
		case "GET /v1/apps/{id}":
			writeJSON(w, 200, s.appView(app))
		case "PATCH /v1/apps/{id}":
			var in struct {
				Name        *string `json:"name"`
				Description *string `json:"description"`
			}
			if !decode(w, r, &in) {
				return
			}
			if in.Name != nil {
				app.Name = *in.Name
			}
			if in.Description != nil {
				app.Description = *in.Description
			}
			writeJSON(w, 200, s.appView(app))
		case "DELETE /v1/apps/{id}":
			s.apps = slices.DeleteFunc(s.apps, func(a *kiln.App) bool { return a.ID == id })
			w.WriteHeader(http.StatusNoContent)
		case "GET /v1/apps/{id}/spec":
			if app.Spec == nil {
				problem(w, http.StatusNotFound, kiln.ENotFound, "app has no spec yet")
				return
			}
			writeJSON(w, 200, app.Spec)
		case "PUT /v1/apps/{id}/spec":
			var spec kiln.AppSpec
			if !decode(w, r, &spec) {
				return
			}
			if err := spec.Validate(); err != nil {
				var fields []kiln.FieldError
				for _, f := range kilnFields(err) {
					fields = append(fields, kiln.FieldError{Path: "body." + f.Path, Message: f.Message})
				}
				problem(w, 422, kiln.EInvalid, "invalid spec", fields...)
				return
			}
			app.Spec = &spec
			writeJSON(w, 200, s.appView(app))
		case "GET /v1/apps/{id}/builds":
			s.writeBuilds(w, r, func(b *kiln.Build) bool { return b.AppID == id })
		case "POST /v1/apps/{id}/builds":
			var in struct {
				NoCache bool `json:"no_cache"`
			}
			if !decode(w, r, &in) {
				return
			}
			writeJSON(w, http.StatusCreated, s.newBuild(app, in.NoCache).build)
		}
	}
}

func kilnFields(err error) []kiln.FieldError {
	if ke, ok := err.(*kiln.Error); ok {
		if len(ke.Fields) > 0 {
			return ke.Fields
		}
		return []kiln.FieldError{{Message: ke.Message}}
	}
	return []kiln.FieldError{{Message: err.Error()}}
}

func (s *Server) writeBuilds(w http.ResponseWriter, r *http.Request, keep func(*kiln.Build) bool) {
	status := kiln.BuildStatus(r.URL.Query().Get("status"))
	if status != "" && !status.Valid() {
		problem(w, 422, kiln.EInvalid, "validation failed", kiln.FieldError{Path: "query.status", Message: "unknown status"})
		return
	}
	items := []kiln.Build{}
	for i := len(s.builds) - 1; i >= 0; i-- {
		b := s.builds[i].build
		if keep(&b) && (status == "" || b.Status == status) {
			items = append(items, b)
		}
	}
	items, next := page(r, items)
	writeJSON(w, 200, map[string]any{"items": items, "next_cursor": next})
}

func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request, u *userRec) {
	q := r.URL.Query()
	all := q.Get("all") == "true"
	appID, _ := strconv.ParseInt(q.Get("app_id"), 10, 64)
	s.writeBuilds(w, r, func(b *kiln.Build) bool {
		return visible(u, b.OwnerID, all) && (appID == 0 || b.AppID == appID)
	})
}

func (s *Server) withBuild(op string) handler {
	return func(w http.ResponseWriter, r *http.Request, u *userRec) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		b := s.buildByID(id)
		if b == nil || !visible(u, b.build.OwnerID, true) {
			problem(w, http.StatusNotFound, kiln.ENotFound, "build not found")
			return
		}
		switch op {
		case "GET /v1/builds/{id}":
			steps := b.steps
			if steps == nil {
				steps = []*kiln.Step{}
			}
			writeJSON(w, 200, map[string]any{"build": b.build, "steps": steps})
		case "POST /v1/builds/{id}/cancel":
			if b.build.Status.Terminal() {
				problem(w, http.StatusConflict, kiln.EConflict, "build has already ended")
				return
			}
			b.build.CancelRequested = true
			s.finish(b, kiln.BuildCanceled)
			writeJSON(w, 200, b.build)
		case "GET /v1/builds/{id}/logs":
			s.logs(w, r, b)
		case "GET /v1/builds/{id}/artifacts":
			items := []kiln.Artifact{}
			for _, a := range s.artifacts {
				if a.artifact.BuildID == id {
					items = append(items, a.artifact)
				}
			}
			writeJSON(w, 200, map[string]any{"items": items})
		}
	}
}

// logs reveals the build's next scripted stage, then serves lines after
// the requested sequence number.
func (s *Server) logs(w http.ResponseWriter, r *http.Request, b *buildRec) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	status := b.build.Status // read before the lines, as a careful server does
	s.advance(b)
	items := []*kiln.LogLine{}
	for _, l := range b.logs {
		if l.Seq > after && len(items) < limit {
			items = append(items, l)
		}
	}
	next := after
	if len(items) > 0 {
		next = items[len(items)-1].Seq
	}
	writeJSON(w, 200, map[string]any{"items": items, "next_after": next, "build_status": status})
}

func (s *Server) artifactContent(w http.ResponseWriter, r *http.Request, u *userRec) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	a := s.artifacts[id]
	if a == nil {
		problem(w, http.StatusNotFound, kiln.ENotFound, "artifact not found")
		return
	}
	if b := s.buildByID(a.artifact.BuildID); b == nil || !visible(u, b.build.OwnerID, true) {
		problem(w, http.StatusNotFound, kiln.ENotFound, "artifact not found")
		return
	}
	sum := a.artifact.SHA256
	if s.BadChecksum {
		sum = strings.Repeat("0", 64)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", a.artifact.Name))
	w.Header().Set("Content-Length", strconv.Itoa(len(a.content)))
	w.Header().Set("X-Checksum-Sha256", sum)
	_, _ = w.Write(a.content)
}

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request, u *userRec) {
	if !u.user.IsAdmin() {
		problem(w, http.StatusForbidden, kiln.EForbidden, "admins only")
		return
	}
	items := []kiln.User{}
	email := strings.ToLower(r.URL.Query().Get("email"))
	for _, x := range s.users {
		if email == "" || strings.ToLower(x.user.Email) == email {
			items = append(items, x.user)
		}
	}
	slices.SortFunc(items, func(a, b kiln.User) int { return int(b.ID - a.ID) })
	items, next := page(r, items)
	writeJSON(w, 200, map[string]any{"items": items, "next_cursor": next})
}

func (s *Server) adminRevokeSessions(w http.ResponseWriter, r *http.Request, u *userRec) {
	if !u.user.IsAdmin() {
		problem(w, http.StatusForbidden, kiln.EForbidden, "admins only")
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	x := s.userByID(id)
	if err != nil || x == nil {
		problem(w, http.StatusNotFound, kiln.ENotFound, "user not found")
		return
	}
	n := 0
	for tok, uid := range s.refresh {
		if uid == id {
			delete(s.refresh, tok)
			n++
		}
	}
	writeJSON(w, 200, map[string]any{"user": x.user, "sessions_ended": n})
}

func (s *Server) adminGrant(w http.ResponseWriter, r *http.Request, u *userRec) {
	if !u.user.IsAdmin() {
		problem(w, http.StatusForbidden, kiln.EForbidden, "admins only")
		return
	}
	var in struct {
		Email string    `json:"email"`
		Role  kiln.Role `json:"role"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Role != kiln.RoleAdmin && in.Role != kiln.RoleUser {
		problem(w, 422, kiln.EInvalid, "validation failed", kiln.FieldError{Path: "body.role", Message: "must be admin or user"})
		return
	}
	x := s.users[in.Email]
	if x == nil {
		problem(w, http.StatusNotFound, kiln.ENotFound, "user not found")
		return
	}
	x.user.Role = in.Role
	writeJSON(w, 200, x.user)
}

// plan answers POST /v1/plan with a one-entity spec named after the
// description's first word ("notes: title, body" plans a note).
func (s *Server) plan(w http.ResponseWriter, r *http.Request, u *userRec) {
	var in struct {
		Description string `json:"description"`
	}
	if !decode(w, r, &in) {
		return
	}
	words := strings.Fields(strings.ToLower(in.Description))
	if len(words) == 0 {
		problem(w, 422, kiln.EInvalid, "validation failed", kiln.FieldError{Path: "body.description", Message: "is empty"})
		return
	}
	name := strings.Trim(words[0], ",.:;")
	writeJSON(w, http.StatusOK, &kiln.AppSpec{KilnSpec: kiln.SpecVersion, Name: name, Entities: []kiln.Entity{
		{Name: "item", Plural: "items", Fields: []kiln.Field{{Name: "title", Type: kiln.FieldString, Required: true}}},
	}})
}
