// Package portal is Kiln's web portal: server-rendered pages (html/template,
// assets embedded in the binary, a little JavaScript and no build step) for
// signing up, describing an app, following its builds and downloading what
// they made.
//
// The portal holds no business logic and no database access of its own
// beyond its sessions: every page calls the REST API through package
// client, in-process (an http.RoundTripper that runs the API handler, no
// network hop), with the logged-in user's tokens. The browser only holds an
// HttpOnly cookie naming a server-side session (kiln.WebSessionStore) that
// keeps those tokens sealed and refreshes them when they expire.
package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// internalBase is the URL the in-process client pretends to call.
const internalBase = "http://kiln.internal"

// APIHandler is the REST API as the portal mounts it: a handler that also
// says which paths it serves (api.Server).
type APIHandler interface {
	http.Handler
	Routes(r *http.Request) bool
}

// Config configures the portal.
type Config struct {
	// API is the REST API the portal calls in-process.
	API APIHandler
	// Sessions keeps the browsers' logins.
	Sessions kiln.WebSessionStore
	// BaseURL is the public URL of the server; with https the cookies are
	// Secure (they are also when a request arrives over TLS).
	BaseURL string
	// Dev shows a link to the dev mailbox (/dev/mailbox), which reads the
	// API's /dev/mail outbox.
	Dev    bool
	Logger *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Portal serves the web pages.
type Portal struct {
	cfg          Config
	log          *slog.Logger
	now          func() time.Time
	secure       bool
	transport    http.RoundTripper
	pages        *pages
	mux          *http.ServeMux
	handler      http.Handler
	refreshLocks refreshLocks
	// streams is set when the API serves live build events, which the
	// build page then follows instead of polling.
	streams bool
}

// New returns the portal. It fails when the templates do not parse (a
// programming error caught by every test).
func New(cfg Config) (*Portal, error) {
	if cfg.API == nil || cfg.Sessions == nil {
		return nil, errors.New("portal: API and Sessions are required")
	}
	p := &Portal{cfg: cfg, log: cfg.Logger, now: cfg.Now, transport: inprocTransport{h: cfg.API}}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme == "https" {
		p.secure = true
	}
	probe, _ := http.NewRequest(http.MethodGet, "/v1/builds/1/events", nil)
	p.streams = cfg.API.Routes(probe)
	var err error
	if p.pages, err = parsePages(); err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

// Handler returns the server's whole handler: the API for the paths it
// serves and the portal for everything else, pages for browsers (a portal
// "not found" page for unknown paths).
func (p *Portal) Handler() http.Handler { return p.handler }

// ServeHTTP serves the portal's own routes.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

func (p *Portal) routes() {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, assetPath("favicon.svg"), http.StatusMovedPermanently)
	})

	// Public pages.
	mux.Handle("GET /login", p.public(p.loginPage))
	mux.Handle("POST /login", p.public(p.login))
	mux.Handle("GET /login/oidc", p.public(p.oidcStart))
	mux.Handle("GET "+oidcCallbackPath, p.public(p.oidcCallback))
	mux.Handle("GET /signup", p.public(p.signupPage))
	mux.Handle("POST /signup", p.public(p.signup))
	mux.Handle("GET /verify-email", p.public(p.verifyPage))
	mux.Handle("POST /verify-email", p.public(p.verify))
	mux.Handle("POST /logout", p.public(p.logout))
	mux.Handle("GET /forgot-password", p.public(p.forgotPage))
	mux.Handle("POST /forgot-password", p.public(p.forgot))
	mux.Handle("GET /reset-password", p.public(p.resetPage))
	mux.Handle("POST /reset-password", p.public(p.reset))
	if p.cfg.Dev {
		mux.Handle("GET /dev/mailbox", p.public(p.devMailbox))
	}

	// Pages for logged-in users.
	mux.Handle("GET /{$}", p.user(p.dashboard))
	mux.Handle("GET /apps/status.json", p.user(p.appsStatus))
	mux.Handle("GET /apps/new", p.user(p.newAppPage))
	mux.Handle("POST /apps/new", p.user(p.newApp))
	mux.Handle("GET /apps/{id}", p.user(p.appPage))
	mux.Handle("GET /apps/{id}/spec", p.user(p.specPage))
	mux.Handle("POST /apps/{id}/spec", p.user(p.saveSpec))
	mux.Handle("POST /apps/{id}/rebuild", p.user(p.rebuild))
	mux.Handle("POST /apps/{id}/delete", p.user(p.deleteApp))
	mux.Handle("GET /apps/{id}/diff", p.user(p.diffPage))
	mux.Handle("GET /apps/{id}/analytics", p.user(p.analyticsPage))
	mux.Handle("POST /apps/{id}/keys", p.user(p.createIngestKey))
	mux.Handle("POST /apps/{id}/keys/{key}/rotate", p.user(p.rotateIngestKey))
	mux.Handle("POST /apps/{id}/keys/{key}/revoke", p.user(p.revokeIngestKey))
	mux.Handle("GET /builds/{id}", p.user(p.buildPage))
	mux.Handle("GET /builds/{id}/log.json", p.user(p.buildLog))
	mux.Handle("GET /builds/{id}/log.txt", p.user(p.buildLogText))
	mux.Handle("POST /builds/{id}/cancel", p.user(p.cancelBuild))
	mux.Handle("POST /stream-ticket.json", p.user(p.streamTicket))
	mux.Handle("GET /artifacts/{id}/download", p.user(p.download))
	mux.Handle("GET /account", p.user(p.accountPage))
	mux.Handle("POST /account/tokens", p.user(p.createToken))
	mux.Handle("POST /account/tokens/{id}/revoke", p.user(p.revokeToken))
	mux.Handle("POST /account/resend-verification", p.user(p.resendVerification))
	mux.Handle("POST /account/notifications", p.user(p.saveNotifications))
	mux.Handle("POST /admin/mail/{id}/retry", p.user(p.retryMail))
	mux.Handle("POST /admin/users/{id}/revoke-sessions", p.user(p.revokeSessions))
	mux.Handle("GET /admin", p.user(p.adminPage))
	p.mux = mux

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, nil, kiln.Errorf(kiln.EForbidden, "this form was sent from another site; go back, reload the page and try again"))
	}))
	portal := cop.Handler(p.securityHeaders(mux))
	p.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			p.logged(portal).ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v1/") || p.cfg.API.Routes(r) {
			p.cfg.API.ServeHTTP(w, r)
			return
		}
		p.logged(p.securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.fail(w, r, p.loadSession(w, r), kiln.Errorf(kiln.ENotFound, "there is no page at %s", r.URL.Path))
		}))).ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows nothing but the portal's own files: no
// inline script or style, no framing, forms only to the portal.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (p *Portal) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			// Pages show private data: never keep them in shared caches.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// logged logs each portal request like the API logs its own.
func (p *Portal) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		} else if strings.HasPrefix(r.URL.Path, "/static/") || strings.HasSuffix(r.URL.Path, ".json") {
			level = slog.LevelDebug
		}
		p.log.LogAttrs(r.Context(), level, "portal request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", cmpStatus(rec.status)), slog.Duration("duration", time.Since(start)))
	})
}

func cmpStatus(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// client returns an in-process API client with the given options (a
// token for a user's calls, none for login and signup).
func (p *Portal) client(opts ...client.Option) *client.Client {
	opts = append([]client.Option{
		client.WithHTTPClient(&http.Client{Transport: p.transport}),
		client.WithUserAgent("kiln-portal/" + kiln.Version),
	}, opts...)
	return client.New(internalBase, opts...)
}

// handlerFunc is a page handler; s is nil on public pages when nobody is
// logged in. A returned error becomes an error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// public serves a page anyone may see.
func (p *Portal) public(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(withRemoteAddr(r.Context(), r.RemoteAddr))
		s := p.loadSession(w, r)
		if r.Method == http.MethodPost && !p.checkCSRF(w, r, s) {
			return
		}
		if err := h(w, r, s); err != nil {
			p.fail(w, r, s, err)
		}
	})
}

// user serves a page for logged-in users; others are sent to the login
// page, which brings them back.
func (p *Portal) user(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(withRemoteAddr(r.Context(), r.RemoteAddr))
		s := p.loadSession(w, r)
		if s == nil {
			if r.Method != http.MethodGet || strings.HasSuffix(r.URL.Path, ".json") {
				p.fail(w, r, nil, kiln.Errorf(kiln.EUnauthorized, "your session has ended; log in again"))
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !p.checkCSRF(w, r, s) {
			return
		}
		if err := h(w, r, s); err != nil {
			p.fail(w, r, s, err)
		}
	})
}

// maxFormBytes bounds a form post (a spec of many entities fits easily).
const maxFormBytes = 1 << 20

// checkCSRF parses the form and checks its csrf field against the
// session's token, or the anonymous cookie's when nobody is logged in.
func (p *Portal) checkCSRF(w http.ResponseWriter, r *http.Request, s *session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, s, kiln.Errorf(kiln.ETooLarge, "the form is too large or malformed"))
		return false
	}
	want := ""
	if s != nil {
		want = s.data.CSRF
	} else if c, err := r.Cookie(csrfCookie); err == nil {
		want = c.Value
	}
	if !sameToken(r.PostForm.Get("csrf"), want) {
		p.fail(w, r, s, kiln.Errorf(kiln.EForbidden, "this form has expired (its security token does not match); go back, reload the page and send it again"))
		return false
	}
	return true
}

// safeNext returns a local path to go to after logging in, or "/".
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

// fail renders an error page that says what went wrong and what to do.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := kiln.ErrorCode(err)
	if errors.Is(err, context.Canceled) {
		return // the browser went away
	}
	status := http.StatusInternalServerError
	msg := kiln.ErrorMessage(err)
	var hint string
	switch code {
	case kiln.ENotFound:
		status, hint = http.StatusNotFound, "It may have been deleted, or it belongs to another account."
	case kiln.EUnauthorized:
		status, hint = http.StatusUnauthorized, "Log in again to continue."
	case kiln.EForbidden:
		status = http.StatusForbidden
	case kiln.EInvalid:
		status = http.StatusUnprocessableEntity
	case kiln.EConflict:
		status = http.StatusConflict
	case kiln.ERateLimited:
		status, hint = http.StatusTooManyRequests, "Wait a little and try again."
	case kiln.ETooLarge:
		status = http.StatusRequestEntityTooLarge
	case kiln.EUnavailable:
		status, hint = http.StatusServiceUnavailable, "Something Kiln needs is down; try again in a minute."
	default:
		var ce *client.Error
		rid := ""
		if errors.As(err, &ce) {
			rid = ce.RequestID
		}
		p.log.ErrorContext(r.Context(), "portal page failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		msg = "Something went wrong on our side."
		hint = "Try again; if it keeps happening, tell your Kiln administrator"
		if rid != "" {
			hint += fmt.Sprintf(" (request id %s)", rid)
		}
		hint += "."
	}
	if strings.HasSuffix(r.URL.Path, ".json") {
		writeJSON(w, status, map[string]string{"error": msg, "code": code})
		return
	}
	p.render(w, r, s, status, "error", &errorPage{Status: status, StatusText: http.StatusText(status), Message: msg, Hint: hint, LoggedOut: s == nil && code == kiln.EUnauthorized})
}

type errorPage struct {
	base
	Status     int
	StatusText string
	Message    string
	Hint       string
	LoggedOut  bool
}
