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
	if configure != nil {
		configure(&h.cfg)
	}
	svc, err := auth.New(h.store, h.mailer, h.cfg, nil)
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
// mailed to email.
func (h *harness) MustVerifyToken(tb testing.TB, email string) string {
	tb.Helper()
	m, ok := h.mailer.Last(email)
	if !ok {
		tb.Fatalf("no mail to %s", email)
	}
	if m.Kind != "verify_email" {
		tb.Fatalf("last mail to %s is %q, want verify_email", email, m.Kind)
	}
	u, err := url.Parse(m.Link)
	if err != nil {
		tb.Fatalf("parse link %q: %v", m.Link, err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != testBaseURL+"/verify-email" {
		tb.Fatalf("link %q does not point to %s/verify-email", m.Link, testBaseURL)
	}
	tok := u.Query().Get("token")
	if tok == "" {
		tb.Fatalf("link %q has no token", m.Link)
	}
	return tok
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
