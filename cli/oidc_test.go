package cli_test

import (
	"encoding/json"
	"net/http"
	"testing"

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
