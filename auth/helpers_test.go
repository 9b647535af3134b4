package auth_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/mail"
)

const (
	testBaseURL  = "http://127.0.0.1:8080"
	testPassword = "correct horse battery"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// fastArgon2 keeps unit tests quick; BenchmarkHashPassword measures the
// real defaults.
var fastArgon2 = auth.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a Service over a fake store, a dev mailer and a fake clock.
type harness struct {
	svc    *auth.Service
	store  *fakeStore
	mailer *mail.DevMailer
	clock  *fakeClock
	cfg    auth.Config
}

// newHarness returns a harness; configure, when not nil, adjusts the
// config before New.
func newHarness(tb testing.TB, configure func(*auth.Config)) *harness {
	tb.Helper()
	clock := newFakeClock()
	h := &harness{
		store:  newFakeStore(clock.Now),
		mailer: mail.NewDevMailer(nil),
		clock:  clock,
		cfg: auth.Config{
			Secret:  testSecret,
			BaseURL: testBaseURL,
			Now:     clock.Now,
			Argon2:  fastArgon2,
		},
	}
	h.store.Outbox = h.mailer
	if configure != nil {
		configure(&h.cfg)
	}
	svc, err := auth.New(h.store, h.cfg, nil)
	if err != nil {
		tb.Fatalf("auth.New: %v", err)
	}
	h.svc = svc
	return h
}

// MustSignup signs up email with testPassword.
func (h *harness) MustSignup(tb testing.TB, email string) *kiln.User {
	tb.Helper()
	u, err := h.svc.Signup(context.Background(), email, testPassword)
	if err != nil {
		tb.Fatalf("Signup(%q): %v", email, err)
	}
	return u
}

// MustLogin logs email in with testPassword from ip.
func (h *harness) MustLogin(tb testing.TB, email string) *kiln.Session {
	tb.Helper()
	s, err := h.svc.Login(context.Background(), kiln.LoginInput{Email: email, Password: testPassword, IP: "192.0.2.1"})
	if err != nil {
		tb.Fatalf("Login(%q): %v", email, err)
	}
	return s
}

// MustVerifyToken returns the token of the newest verification link
// mailed to email, waiting for the mail when the outbox delivers it later.
func (h *harness) MustVerifyToken(tb testing.TB, email string) string {
	tb.Helper()
	return h.mustMailToken(tb, email, "verify_email", "/verify-email")
}

// MustResetToken returns the token of the newest password reset link
// mailed to email.
func (h *harness) MustResetToken(tb testing.TB, email string) string {
	tb.Helper()
	return h.mustMailToken(tb, email, "password_reset", "/reset-password")
}

func (h *harness) mustMailToken(tb testing.TB, email, kind, path string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := h.mailer.Wait(ctx, func(m kiln.Mail) bool { return strings.EqualFold(m.To, email) && m.Kind == kind })
	if err != nil {
		tb.Fatalf("no %s mail to %s: %v", kind, email, err)
	}
	u, err := url.Parse(m.Link)
	if err != nil {
		tb.Fatalf("parse link %q: %v", m.Link, err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != testBaseURL+path {
		tb.Fatalf("link %q does not point to %s%s", m.Link, testBaseURL, path)
	}
	tok := u.Query().Get("token")
	if tok == "" {
		tb.Fatalf("link %q has no token", m.Link)
	}
	if !strings.Contains(m.Text, m.Link) || !strings.Contains(m.HTML, "href=\""+strings.ReplaceAll(m.Link, "&", "&amp;")+"\"") {
		tb.Fatalf("the %s mail's parts do not carry its link %q:\n%s\n%s", kind, m.Link, m.Text, m.HTML)
	}
	return tok
}

// isKilnCode reports whether err carries the kiln error code.
func isKilnCode(err error, code string) bool {
	var e *kiln.Error
	return errors.As(err, &e) && e.Code == code
}

// userCtx returns a context carrying u.
func userCtx(u *kiln.User) context.Context {
	return kiln.NewContextWithUser(context.Background(), u)
}

// assertCode fails unless err carries the kiln error code.
func assertCode(tb testing.TB, err error, code string) *kiln.Error {
	tb.Helper()
	if got := kiln.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	var e *kiln.Error
	errors.As(err, &e)
	return e
}

// assertFields fails unless e lists exactly the paths.
func assertFields(tb testing.TB, e *kiln.Error, paths ...string) {
	tb.Helper()
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Path)
	}
	if strings.Join(got, ",") != strings.Join(paths, ",") {
		tb.Fatalf("field paths = %v, want %v (%v)", got, paths, e)
	}
}
