package portal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// Cookie names.
const (
	sessionCookie = "kiln_session"
	// csrfCookie holds the CSRF token of a browser that is not logged in
	// (login and signup forms): the form must echo it.
	csrfCookie = "kiln_csrf"
)

// refreshBefore renews the access token this long before it expires, so
// that it does not lapse while a page's API calls run.
const refreshBefore = time.Minute

// sessionData is what a session keeps, sealed in kiln.WebSession.Data.
type sessionData struct {
	AccessToken      string    `json:"access_token"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	CSRF             string    `json:"csrf"`
	// User is the user as the API last described them (at login, refresh
	// or verification), for the page header; the API decides access.
	User kiln.User `json:"user"`
}

// session is the logged-in state of one request.
type session struct {
	id     string // the store key: hex SHA-256 of the cookie secret
	secret []byte // the cookie's secret, the sealing key's source
	data   sessionData
	api    *client.Client
}

// newSecret returns n random bytes.
func newSecret(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// randomToken returns a URL-safe random string (CSRF tokens).
func randomToken() string { return base64.RawURLEncoding.EncodeToString(newSecret(24)) }

// sessionID is the store key of a cookie secret.
func sessionID(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// sealKey derives the AES-256 key that seals a session's data from its
// cookie secret. The store never sees the secret, only its SHA-256, which
// uses no domain prefix, so the two cannot be derived from each other.
func sealKey(secret []byte) []byte {
	h := sha256.New()
	h.Write([]byte("kiln portal session seal v1\x00"))
	h.Write(secret)
	return h.Sum(nil)
}

func aead(secret []byte) cipher.AEAD {
	block, err := aes.NewCipher(sealKey(secret))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

// seal encrypts d for the session id with a key from the cookie secret.
func seal(secret []byte, id string, d *sessionData) []byte {
	plain, _ := json.Marshal(d) // sessionData always encodes
	g := aead(secret)
	nonce := newSecret(g.NonceSize())
	return g.Seal(nonce, nonce, plain, []byte(id))
}

// open decrypts what seal produced.
func open(secret []byte, id string, sealed []byte) (*sessionData, error) {
	g := aead(secret)
	if len(sealed) < g.NonceSize() {
		return nil, errors.New("session data too short")
	}
	plain, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("open session data: %w", err)
	}
	var d sessionData
	if err := json.Unmarshal(plain, &d); err != nil {
		return nil, fmt.Errorf("decode session data: %w", err)
	}
	return &d, nil
}

// sameToken compares two secrets in constant time; empty never matches.
func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// refreshLocks serializes token refreshes per session within this process:
// refresh tokens rotate, and two requests presenting the same one would
// look like token theft to the API, which then revokes the session.
type refreshLocks [64]sync.Mutex

func (l *refreshLocks) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &l[h.Sum32()%uint32(len(l))]
	m.Lock()
	return m.Unlock
}

// startSession stores a new session for a login and sets its cookie.
func (p *Portal) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, s *kiln.Session) error {
	secret := newSecret(32)
	id := sessionID(secret)
	d := &sessionData{CSRF: randomToken()}
	d.setTokens(s)
	ws := &kiln.WebSession{ID: id, UserID: s.User.ID, Data: seal(secret, id, d), ExpiresAt: s.RefreshExpiresAt}
	if err := p.cfg.Sessions.CreateWebSession(ctx, ws); err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	http.SetCookie(w, p.cookie(r, sessionCookie, base64.RawURLEncoding.EncodeToString(secret), s.RefreshExpiresAt))
	return nil
}

func (d *sessionData) setTokens(s *kiln.Session) {
	d.AccessToken, d.AccessExpiresAt = s.AccessToken, s.AccessExpiresAt
	d.RefreshToken, d.RefreshExpiresAt = s.RefreshToken, s.RefreshExpiresAt
	if s.User != nil {
		d.User = *s.User
	}
}

// cookie returns an HttpOnly, SameSite=Lax cookie for the whole site,
// Secure when the portal is served over TLS. A zero expiry makes a
// browser-session cookie; a past one deletes it.
func (p *Portal) cookie(r *http.Request, name, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: p.secure || r.TLS != nil,
	}
	if !expires.IsZero() {
		c.Expires = expires
		c.MaxAge = max(int(time.Until(expires).Seconds()), 1)
	}
	return c
}

func (p *Portal) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	c := p.cookie(r, name, "", time.Time{})
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// loadSession returns the request's session, refreshing its access token
// when it is about to expire, or nil when the browser is not logged in
// (no cookie, unknown or expired session, refresh refused).
func (p *Portal) loadSession(w http.ResponseWriter, r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	secret, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(secret) != 32 {
		p.clearCookie(w, r, sessionCookie)
		return nil
	}
	ctx := r.Context()
	s := &session{id: sessionID(secret), secret: secret}
	d, err := p.readSession(ctx, s)
	if err != nil {
		if kiln.ErrorCode(err) != kiln.ENotFound {
			p.log.ErrorContext(ctx, "read web session", slog.Any("error", err))
		}
		p.clearCookie(w, r, sessionCookie)
		return nil
	}
	s.data = *d
	if p.now().Add(refreshBefore).After(s.data.AccessExpiresAt) {
		if err := p.refresh(ctx, s); err != nil {
			if kiln.ErrorCode(err) != kiln.EUnauthorized {
				p.log.ErrorContext(ctx, "refresh web session", slog.Any("error", err))
			}
			p.clearCookie(w, r, sessionCookie)
			return nil
		}
		// The refresh token's life starts again: so does the cookie's.
		http.SetCookie(w, p.cookie(r, sessionCookie, c.Value, s.data.RefreshExpiresAt))
	}
	s.api = p.client(client.WithToken(s.data.AccessToken))
	return s
}

func (p *Portal) readSession(ctx context.Context, s *session) (*sessionData, error) {
	ws, err := p.cfg.Sessions.FindWebSession(ctx, s.id, p.now())
	if err != nil {
		return nil, err
	}
	d, err := open(s.secret, s.id, ws.Data)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// refresh trades the session's refresh token for new tokens and stores
// them. Under the session's lock it first reads the session again: a
// concurrent request may have refreshed it already. EUnauthorized (and the
// session deleted) when the API refuses the refresh token.
func (p *Portal) refresh(ctx context.Context, s *session) error {
	unlock := p.refreshLocks.lock(s.id)
	defer unlock()
	d, err := p.readSession(ctx, s)
	if err != nil {
		return err
	}
	s.data = *d
	if !p.now().Add(refreshBefore).After(s.data.AccessExpiresAt) {
		return nil
	}
	ks, err := p.client().Refresh(ctx, s.data.RefreshToken)
	if err != nil {
		if kiln.ErrorCode(err) == kiln.EUnauthorized {
			_ = p.cfg.Sessions.DeleteWebSession(ctx, s.id)
		}
		return err
	}
	s.data.setTokens(ks)
	return p.cfg.Sessions.UpdateWebSession(ctx, s.id, seal(s.secret, s.id, &s.data), ks.RefreshExpiresAt)
}

// saveSession stores the session's data after a change (user details).
func (p *Portal) saveSession(ctx context.Context, s *session) error {
	return p.cfg.Sessions.UpdateWebSession(ctx, s.id, seal(s.secret, s.id, &s.data), s.data.RefreshExpiresAt)
}

// endSession revokes the refresh token, deletes the session and its cookie.
func (p *Portal) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request, s *session) {
	if err := p.client().Logout(ctx, s.data.RefreshToken); err != nil {
		p.log.WarnContext(ctx, "revoke refresh token at logout", slog.Any("error", err))
	}
	if err := p.cfg.Sessions.DeleteWebSession(ctx, s.id); err != nil {
		p.log.ErrorContext(ctx, "delete web session", slog.Any("error", err))
	}
	p.clearCookie(w, r, sessionCookie)
}

// anonCSRF returns the CSRF token of a browser that is not logged in,
// setting its cookie when it has none.
func (p *Portal) anonCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, p.cookie(r, csrfCookie, tok, time.Time{}))
	return tok
}
