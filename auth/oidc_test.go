package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/auth/oidcmock"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/mail"
	"github.com/kiln-build/kiln/queue/queuetest"
	"github.com/kiln-build/kiln/sqlstore"
)

const testClientID = "kiln-web"

// oidcHarness is the auth service over the real SQLite store with OIDC
// login against a real oauth2-mock-server.
type oidcHarness struct {
	*harness
	oidc *auth.OIDC
	idp  *oidcmock.Server
	log  *syncBuffer // the service's log, as JSON lines
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newOIDCHarness(t *testing.T, configure func(*auth.OIDCConfig)) *oidcHarness {
	t.Helper()
	idp := oidcmock.Start(t)
	log := &syncBuffer{}
	svc, mailer := newRealClockService(t, slog.New(slog.NewJSONHandler(log, nil)))
	cfg := auth.OIDCConfig{Issuer: idp.Issuer, ClientID: testClientID, ClientSecret: "s3cret", AdminGroup: "kiln-admins"}
	if configure != nil {
		configure(&cfg)
	}
	o, err := auth.NewOIDC(svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &oidcHarness{harness: &harness{svc: svc, mailer: mailer}, oidc: o, idp: idp, log: log}
}

// newRealClockService returns a Service over the real SQLite store on the
// real clock (the provider's tokens carry real times), logging to logger
// (discarded when nil).
func newRealClockService(t *testing.T, logger *slog.Logger) (*auth.Service, *mail.DevMailer) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "kiln.db"), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	mailer := mail.NewDevMailer(nil)
	queuetest.StartMail(t, db, mailer)
	svc, err := auth.New(sqlstore.NewAuthStore(db),
		auth.Config{Secret: testSecret, BaseURL: testBaseURL, Argon2: fastArgon2}, logger)
	if err != nil {
		t.Fatal(err)
	}
	return svc, mailer
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// authorize plays the browser: it opens the authorization URL (the mock
// server approves at once) and returns the code sent to the redirect URI,
// after checking the state came back.
func (h *oidcHarness) authorize(t *testing.T, redirectURI, nonce, verifier string) string {
	t.Helper()
	prov, err := h.oidc.Provider(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req := client.NewOIDCRequest(redirectURI)
	req.Nonce, req.Verifier = nonce, verifier
	state := req.State
	u := req.AuthURL(prov)
	for _, want := range []string{"code_challenge_method=S256", "nonce=" + nonce, "state=" + state, "client_id=" + testClientID} {
		if !strings.Contains(u, want) {
			t.Fatalf("authorization URL %s lacks %s", u, want)
		}
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("state came back as %q, want %q", got, state)
	}
	return loc.Query().Get("code")
}

// login runs the whole code flow with PKCE for the mock's current user.
func (h *oidcHarness) login(t *testing.T) (*kiln.Session, error) {
	t.Helper()
	const redirect = "http://127.0.0.1:9/callback"
	nonce, verifier := randomHex(16), oauth2.GenerateVerifier()
	code := h.authorize(t, redirect, nonce, verifier)
	return h.oidc.LoginWithCode(context.Background(), kiln.OIDCCodeLogin{Code: code, CodeVerifier: verifier, RedirectURI: redirect, Nonce: nonce})
}

func TestOIDCLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("FirstLoginCreatesTheUser", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		h.MustSignup(t, "root@example.com") // the first user is the admin; Ada is not
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-ada", Email: "Ada@Example.com", EmailVerified: true})
		s, err := h.login(t)
		if err != nil {
			t.Fatal(err)
		}
		if s.User.Email != "ada@example.com" || !s.User.EmailVerified || s.User.Role != kiln.RoleUser || s.User.PasswordHash != "" {
			t.Fatalf("user = %+v", s.User)
		}
		// The session is Kiln's own: its access token is Kiln's JWT and it
		// refreshes like a password login's.
		if got, err := h.svc.Authenticate(ctx, s.AccessToken); err != nil || got.ID != s.User.ID {
			t.Fatalf("Authenticate = %+v, %v", got, err)
		}
		if _, err := h.svc.Refresh(ctx, s.RefreshToken); err != nil {
			t.Fatal(err)
		}
		// The next login finds the same user by subject, even with another email.
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-ada", Email: "ada.lovelace@example.com", EmailVerified: true})
		again, err := h.login(t)
		if err != nil || again.User.ID != s.User.ID {
			t.Fatalf("second login = %+v, %v", again, err)
		}
		// A password cannot open the account.
		_, err = login(h.harness, "ada@example.com", "", "192.0.2.1")
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("GroupGrantsAdmin", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		h.MustSignup(t, "root@example.com")
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-bob", Email: "bob@example.com", EmailVerified: true, Groups: []string{"staff"}})
		s, err := h.login(t)
		if err != nil || s.User.Role != kiln.RoleUser {
			t.Fatalf("login outside the admin group = %+v, %v", s, err)
		}
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-bob", Email: "bob@example.com", EmailVerified: true, Groups: []string{"staff", "kiln-admins"}})
		s, err = h.login(t)
		if err != nil || s.User.Role != kiln.RoleAdmin {
			t.Fatalf("login in the admin group = %+v, %v", s, err)
		}
		if u, err := h.svc.Authenticate(ctx, s.AccessToken); err != nil || !u.IsAdmin() {
			t.Fatalf("stored role = %+v, %v", u, err)
		}
	})

	t.Run("LeavingTheGroupDemotes", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		h.MustSignup(t, "root@example.com")
		bob := oidcmock.User{Sub: "sub-bob", Email: "bob@example.com", EmailVerified: true, Groups: []string{"staff", "kiln-admins"}}
		h.idp.SetUser(t, bob)
		s, err := h.login(t)
		if err != nil || !s.User.IsAdmin() || !s.User.AdminFromOIDC {
			t.Fatalf("login in the admin group = %+v, %v", s, err)
		}
		old := s.AccessToken
		bob.Groups = []string{"staff"}
		h.idp.SetUser(t, bob)
		s, err = h.login(t)
		if err != nil || s.User.Role != kiln.RoleUser || s.User.AdminFromOIDC {
			t.Fatalf("login after leaving the admin group = %+v, %v", s, err)
		}
		// Stored: every session of the user, the old one too, is no admin.
		if u, err := h.svc.Authenticate(ctx, old); err != nil || u.IsAdmin() {
			t.Fatalf("the earlier session's user = %+v, %v", u, err)
		}
		if !strings.Contains(h.log.String(), `"msg":"oidc group left, user is no longer admin"`) {
			t.Fatalf("the demotion is not logged:\n%s", h.log.String())
		}
		// Joining again makes the user admin again; a token without the
		// group claim at all counts as no group.
		bob.Groups = []string{"kiln-admins"}
		h.idp.SetUser(t, bob)
		if s, err = h.login(t); err != nil || !s.User.IsAdmin() {
			t.Fatalf("login back in the admin group = %+v, %v", s, err)
		}
		bob.Groups = nil
		h.idp.SetUser(t, bob)
		if s, err = h.login(t); err != nil || s.User.IsAdmin() {
			t.Fatalf("login with no groups = %+v, %v", s, err)
		}
	})

	t.Run("AdminsMadeByHandStay", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		root := h.MustSignup(t, "root@example.com") // the first user: admin by hand
		if !root.IsAdmin() {
			t.Fatalf("first user = %+v", root)
		}
		// root links the provider identity, in the group and out of it.
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-root", Email: "root@example.com", EmailVerified: true, Groups: []string{"kiln-admins"}})
		s, err := h.login(t)
		if err != nil || s.User.ID != root.ID || !s.User.IsAdmin() || s.User.AdminFromOIDC {
			t.Fatalf("login in the group = %+v, %v", s, err)
		}
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-root", Email: "root@example.com", EmailVerified: true})
		s, err = h.login(t)
		if err != nil || !s.User.IsAdmin() {
			t.Fatalf("an admin made by hand lost admin at a login outside the group: %+v, %v", s, err)
		}
	})

	t.Run("NoAdminGroupChangesNothing", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, func(c *auth.OIDCConfig) { c.AdminGroup = "" })
		h.MustSignup(t, "root@example.com")
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-eve", Email: "eve@example.com", EmailVerified: true, Groups: []string{"kiln-admins"}})
		if s, err := h.login(t); err != nil || s.User.IsAdmin() {
			t.Fatalf("login without auth.oidc.admin_group = %+v, %v", s, err)
		}
	})

	t.Run("ExistingAccountLinkedOnlyWhenVerified", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		u := h.MustSignup(t, "carol@example.com")
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-carol", Email: "carol@example.com", EmailVerified: false})
		_, err := h.login(t)
		assertCode(t, err, kiln.EConflict)
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-carol", Email: "carol@example.com", EmailVerified: true})
		s, err := h.login(t)
		if err != nil || s.User.ID != u.ID {
			t.Fatalf("verified login = %+v, %v; want the existing user %d", s, err, u.ID)
		}
	})

	t.Run("ErrNoEmail", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		h.idp.SetUser(t, oidcmock.User{Sub: "sub-anon"})
		_, err := h.login(t)
		assertCode(t, err, kiln.EForbidden)
	})

	t.Run("ErrWrongNonce", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		const redirect = "http://127.0.0.1:9/callback"
		verifier := oauth2.GenerateVerifier()
		code := h.authorize(t, redirect, randomHex(16), verifier)
		_, err := h.oidc.LoginWithCode(ctx, kiln.OIDCCodeLogin{Code: code, CodeVerifier: verifier, RedirectURI: redirect, Nonce: randomHex(16)})
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("ErrWrongVerifier", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		const redirect = "http://127.0.0.1:9/callback"
		nonce := randomHex(16)
		code := h.authorize(t, redirect, nonce, oauth2.GenerateVerifier())
		_, err := h.oidc.LoginWithCode(ctx, kiln.OIDCCodeLogin{Code: code, CodeVerifier: oauth2.GenerateVerifier(), RedirectURI: redirect, Nonce: nonce})
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("ErrCodeReused", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		const redirect = "http://127.0.0.1:9/callback"
		nonce, verifier := randomHex(16), oauth2.GenerateVerifier()
		in := kiln.OIDCCodeLogin{Code: h.authorize(t, redirect, nonce, verifier), CodeVerifier: verifier, RedirectURI: redirect, Nonce: nonce}
		if _, err := h.oidc.LoginWithCode(ctx, in); err != nil {
			t.Fatal(err)
		}
		_, err := h.oidc.LoginWithCode(ctx, in)
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("ErrRateLimited", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		bogus := kiln.OIDCCodeLogin{Code: "guessed", CodeVerifier: oauth2.GenerateVerifier(), RedirectURI: "http://127.0.0.1:9/cb",
			Nonce: randomHex(16), IP: "192.0.2.7"}
		for range auth.DefaultLoginIPMax {
			_, err := h.oidc.LoginWithCode(ctx, bogus)
			assertCode(t, err, kiln.EUnauthorized)
		}
		_, err := h.oidc.LoginWithCode(ctx, bogus)
		if e := assertCode(t, err, kiln.ERateLimited); e.RetryAfter <= 0 {
			t.Fatalf("RetryAfter = %v", e.RetryAfter)
		}
		// Another address is not affected.
		bogus.IP = "198.51.100.1"
		_, err = h.oidc.LoginWithCode(ctx, bogus)
		assertCode(t, err, kiln.EUnauthorized)
	})

	t.Run("ErrProviderDown", func(t *testing.T) {
		t.Parallel()
		svc, _ := newRealClockService(t, nil)
		o, err := auth.NewOIDC(svc, auth.OIDCConfig{Issuer: "http://127.0.0.1:1", ClientID: testClientID})
		if err != nil {
			t.Fatal(err)
		}
		_, err = o.Provider(ctx)
		assertCode(t, err, kiln.EUnavailable)
	})

	t.Run("ErrDeviceFlowUnsupported", func(t *testing.T) {
		t.Parallel()
		h := newOIDCHarness(t, nil)
		p, err := h.oidc.Provider(ctx)
		if err != nil || p.DeviceFlow {
			t.Fatalf("provider = %+v, %v; the mock has no device endpoint", p, err)
		}
		_, err = h.oidc.StartDevice(ctx)
		assertCode(t, err, kiln.EInvalid)
	})
}

// TestOIDCAccessTokens checks the API side: the provider's access tokens
// are credentials, verified against its JWKS, and each attack fails.
func TestOIDCAccessTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	jwks := &countingTransport{path: "/jwks"}
	h := newOIDCHarness(t, func(c *auth.OIDCConfig) { c.HTTPClient = &http.Client{Transport: jwks} })
	h.MustSignup(t, "root@example.com")
	h.idp.SetUser(t, oidcmock.User{Sub: "sub-dave", Email: "dave@example.com", EmailVerified: true, Groups: []string{"kiln-admins"}})
	token := func(claims, header map[string]any) string { return h.idp.AccessToken(t, testClientID, claims, header) }

	// First use creates the user from userinfo (Cognito access tokens carry
	// no email) and the group claim makes them an admin.
	u, err := h.svc.Authenticate(ctx, token(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "dave@example.com" || !u.IsAdmin() {
		t.Fatalf("user from a provider access token = %+v", u)
	}
	again, err := h.svc.Authenticate(ctx, token(nil, nil))
	if err != nil || again.ID != u.ID {
		t.Fatalf("second token = %+v, %v", again, err)
	}
	// The provider's keys are fetched once, not per request.
	for range 20 {
		if _, err := h.svc.Authenticate(ctx, token(nil, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := jwks.count(); n != 1 {
		t.Fatalf("22 verified tokens fetched the JWKS %d times, want once", n)
	}
	// aud instead of Cognito's client_id works too, and so does a small skew.
	now := time.Now()
	if _, err := h.svc.Authenticate(ctx, token(map[string]any{"client_id": nil, "aud": testClientID}, nil)); err != nil {
		t.Fatalf("token with aud: %v", err)
	}
	if _, err := h.svc.Authenticate(ctx, token(map[string]any{"exp": now.Add(-10 * time.Second).Unix()}, nil)); err != nil {
		t.Fatalf("token 10 s past exp (within the skew): %v", err)
	}

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := token(nil, nil)
	kid := tokenHeader(t, good)["kid"].(string)
	forged := func(method jwt.SigningMethod, key any, kid string) string {
		c := jwt.MapClaims{"iss": h.idp.Issuer, "sub": "sub-dave", "client_id": testClientID, "token_use": "access",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
		return forge(t, method, key, kid, c)
	}
	for _, tc := range []struct {
		name  string
		token func() string
	}{
		{"WrongClientID", func() string { return h.idp.AccessToken(t, "another-app", nil, nil) }},
		{"WrongAudience", func() string { return token(map[string]any{"client_id": nil, "aud": "another-app"}, nil) }},
		{"NoAudience", func() string { return token(map[string]any{"client_id": nil}, nil) }},
		{"WrongIssuer", func() string { return token(map[string]any{"iss": "http://127.0.0.1:1"}, nil) }},
		{"Expired", func() string { return token(map[string]any{"exp": now.Add(-time.Minute).Unix()}, nil) }},
		{"NotYetValid", func() string { return token(map[string]any{"nbf": now.Add(time.Hour).Unix()}, nil) }},
		{"IDToken", func() string { return token(map[string]any{"token_use": "id"}, nil) }},
		{"UnknownKid", func() string { return token(nil, map[string]any{"kid": "not-in-the-jwks"}) }},
		{"OtherKeySameKid", func() string { return forged(jwt.SigningMethodRS256, otherKey, kid) }},
		{"AlgNone", func() string { return forged(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid) }},
		{"HS256WithClientSecret", func() string { return forged(jwt.SigningMethodHS256, []byte("s3cret"), kid) }},
		{"TamperedSubject", func() string {
			parts := strings.Split(good, ".")
			other := strings.Split(forged(jwt.SigningMethodRS256, otherKey, kid), ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svc.Authenticate(ctx, tc.token())
			assertCode(t, err, kiln.EUnauthorized)
		})
	}
	// A token without the admin group demotes the admin the group made,
	// as a login would; one with it makes them admin again.
	h.idp.SetUser(t, oidcmock.User{Sub: "sub-dave", Email: "dave@example.com", EmailVerified: true, Groups: []string{"staff"}})
	if u, err := h.svc.Authenticate(ctx, token(nil, nil)); err != nil || u.IsAdmin() {
		t.Fatalf("provider token without the admin group = %+v, %v", u, err)
	}
	h.idp.SetUser(t, oidcmock.User{Sub: "sub-dave", Email: "dave@example.com", EmailVerified: true, Groups: []string{"kiln-admins"}})
	if u, err := h.svc.Authenticate(ctx, token(nil, nil)); err != nil || !u.IsAdmin() || !u.AdminFromOIDC {
		t.Fatalf("provider token with the admin group = %+v, %v", u, err)
	}

	// Unknown kids refetch the JWKS (the provider may have rotated), but
	// not on every request.
	before := jwks.count()
	for range 20 {
		_, err := h.svc.Authenticate(ctx, token(nil, map[string]any{"kid": "rotated-" + randomHex(4)}))
		assertCode(t, err, kiln.EUnauthorized)
	}
	if n := jwks.count() - before; n > 1 {
		t.Fatalf("20 tokens with unknown kids fetched the JWKS %d times, want at most once", n)
	}
}

// countingTransport counts requests to one path.
type countingTransport struct {
	path string
	mu   sync.Mutex
	n    int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == c.path {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
