package client

import (
	"crypto/rand"
	"encoding/hex"

	"golang.org/x/oauth2"

	kiln "github.com/kiln-build/kiln"
)

// OIDCRequest is one login attempt at the provider: the random state,
// nonce and PKCE verifier a client keeps until the provider redirects
// back, and the redirect URI it registered.
type OIDCRequest struct {
	State       string
	Nonce       string
	Verifier    string
	RedirectURI string
}

// NewOIDCRequest returns a login attempt with fresh state, nonce and PKCE
// verifier for redirectURI.
func NewOIDCRequest(redirectURI string) OIDCRequest {
	random := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		return hex.EncodeToString(b)
	}
	return OIDCRequest{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), RedirectURI: redirectURI}
}

// AuthURL returns the provider's authorization URL for the attempt: the
// authorization-code flow with the S256 PKCE challenge, state and nonce.
func (r OIDCRequest) AuthURL(p *kiln.OIDCProvider) string {
	c := &oauth2.Config{ClientID: p.ClientID, Endpoint: oauth2.Endpoint{AuthURL: p.AuthorizationEndpoint},
		RedirectURL: r.RedirectURI, Scopes: p.Scopes}
	return c.AuthCodeURL(r.State, oauth2.SetAuthURLParam("nonce", r.Nonce), oauth2.S256ChallengeOption(r.Verifier))
}

// Login returns what POST /v1/auth/oidc/code needs for the code the
// provider sent back.
func (r OIDCRequest) Login(code string) kiln.OIDCCodeLogin {
	return kiln.OIDCCodeLogin{Code: code, CodeVerifier: r.Verifier, RedirectURI: r.RedirectURI, Nonce: r.Nonce}
}
