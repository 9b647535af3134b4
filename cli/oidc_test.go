package cli_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/api"
	"github.com/kiln-build/kiln/auth"
	"github.com/kiln-build/kiln/auth/oidcmock"
)

// TestLoginOIDCAgainstRealServer logs in with 'kiln login --oidc' through
// a real OIDC server (oauth2-mock-server has no device flow, so the
// browser flow with PKCE and the 127.0.0.1 callback runs), then uses a
// provider access token as the CLI's credential.
func TestLoginOIDCAgainstRealServer(t *testing.T) {
	t.Parallel()
	idp := oidcmock.Start(t)
	ts, _ := realServerWith(t, func(cfg *api.Config, svc *auth.Service) {
		o, err := auth.NewOIDC(svc, auth.OIDCConfig{Issuer: idp.Issuer, ClientID: "kiln-cli", ClientSecret: "s3cret", Name: "Cognito"})
		require.NoError(t, err)
		cfg.OIDC = o
	})
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL
	// The "browser" follows the authorization URL; the mock provider
	// approves at once and redirects to the CLI's callback.
	opened := make(chan string, 1)
	h.browser = func(u string) {
		opened <- u
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
		}
	}
	idp.SetUser(t, oidcmock.User{Sub: "sub-eve", Email: "eve@example.com", EmailVerified: true})

	res := h.MustRun("", "login", "--oidc")
	assert.Contains(t, res.stdout, "as eve@example.com")
	assert.Contains(t, res.stderr, "log in with Cognito")
	authURL := <-opened
	assert.Contains(t, res.stderr, authURL, "the URL is printed")
	assert.Contains(t, authURL, "code_challenge_method=S256")
	assert.Contains(t, authURL, "redirect_uri=http%3A%2F%2F127.0.0.1%3A")

	var me kiln.User
	require.NoError(t, json.Unmarshal([]byte(h.MustRun("", "whoami", "-o", "json").stdout), &me))
	assert.Equal(t, "eve@example.com", me.Email)
	assert.Equal(t, kiln.RoleAdmin, me.Role, "the first user, created by this login")
	h.MustRun("", "auth", "refresh")

	// The provider's own access token works as a credential too.
	h.MustRun("", "logout")
	h.env["KILN_TOKEN"] = idp.AccessToken(t, "kiln-cli", nil, nil)
	assert.Contains(t, h.MustRun("", "whoami").stdout, "eve@example.com")
	h.env["KILN_TOKEN"] = idp.AccessToken(t, "another-client", nil, nil)
	res = h.Run("", "whoami")
	assert.Equal(t, 1, res.code)
	delete(h.env, "KILN_TOKEN")

	res = h.Run("", "login", "--oidc", "--callback", "http://example.com/cb")
	assert.Equal(t, 2, res.code, "a callback off this machine is a usage error: %s", res.stderr)
}

// TestLoginOIDCNotConfigured: without auth.oidc the server says so.
func TestLoginOIDCNotConfigured(t *testing.T) {
	t.Parallel()
	ts, _ := realServer(t)
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL
	res := h.Run("", "login", "--oidc")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "not configured")
}

// deviceProvider is a minimal OpenID provider with the device
// authorization grant (RFC 8628), which oauth2-mock-server lacks: it
// answers authorization_pending until approve is called, then tokens
// signed with its RSA key.
type deviceProvider struct {
	*httptest.Server
	key      *rsa.PrivateKey
	approved atomic.Bool
	denied   atomic.Bool
	polls    atomic.Int32
}

func newDeviceProvider(t *testing.T, clientID string) *deviceProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &deviceProvider{key: key}
	mux := http.NewServeMux()
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{
			"issuer": p.URL, "authorization_endpoint": p.URL + "/authorize", "token_endpoint": p.URL + "/token",
			"device_authorization_endpoint": p.URL + "/device", "jwks_uri": p.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		enc := base64.RawURLEncoding.EncodeToString
		writeJSON(w, 200, map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": enc(key.N.Bytes()), "e": enc(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	mux.HandleFunc("POST /device", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"device_code": "dev-code-1", "user_code": "WDJB-MJHT",
			"verification_uri": p.URL + "/activate", "verification_uri_complete": p.URL + "/activate?user_code=WDJB-MJHT",
			"expires_in": 600, "interval": 1})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" || r.PostForm.Get("device_code") != "dev-code-1" {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant"})
			return
		}
		p.polls.Add(1)
		switch {
		case p.denied.Load():
			writeJSON(w, 400, map[string]any{"error": "access_denied"})
			return
		case !p.approved.Load():
			writeJSON(w, 400, map[string]any{"error": "authorization_pending"})
			return
		}
		now := time.Now()
		id := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": p.URL, "sub": "sub-dora", "aud": clientID,
			"email": "dora@example.com", "email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
		id.Header["kid"] = "k1"
		signed, err := id.SignedString(key)
		if err != nil {
			writeJSON(w, 500, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": "opaque", "token_type": "Bearer", "expires_in": 3600, "id_token": signed})
	})
	return p
}

// TestLoginOIDCDeviceFlow: when the provider advertises the device flow,
// 'kiln login --oidc' shows the user code and polls through the server
// until the user approves.
func TestLoginOIDCDeviceFlow(t *testing.T) {
	t.Parallel()
	idp := newDeviceProvider(t, "kiln-cli")
	ts, _ := realServerWith(t, func(cfg *api.Config, svc *auth.Service) {
		o, err := auth.NewOIDC(svc, auth.OIDCConfig{Issuer: idp.URL, ClientID: "kiln-cli", Name: "Dex"})
		require.NoError(t, err)
		cfg.OIDC = o
	})
	h := newHarness(t)
	h.env["KILN_SERVER"] = ts.URL
	h.browser = func(u string) {
		assert.Equal(t, idp.URL+"/activate?user_code=WDJB-MJHT", u)
		// The user approves in the browser a moment later.
		time.AfterFunc(1500*time.Millisecond, func() { idp.approved.Store(true) })
	}
	res := h.MustRun("", "login", "--oidc")
	assert.GreaterOrEqual(t, idp.polls.Load(), int32(2), "polled while authorization_pending")
	assert.Contains(t, res.stderr, "enter the code WDJB-MJHT")
	assert.Contains(t, res.stdout, "as dora@example.com")
	assert.Contains(t, h.MustRun("", "whoami").stdout, "dora@example.com")

	idp.approved.Store(false)
	idp.denied.Store(true)
	h.browser = func(string) {}
	res = h.Run("", "login", "--oidc")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "access_denied")
}
