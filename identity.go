package kiln

import (
	"context"
	"time"
)

// SigningKey describes one key that signs or verifies Kiln's access
// tokens (never the key material).
type SigningKey struct {
	ID        string     `json:"kid" doc:"Key id, the kid header of the tokens it signs."`
	Algorithm string     `json:"alg" doc:"JWS algorithm."`
	Current   bool       `json:"current" doc:"Whether this key signs new tokens."`
	CreatedAt time.Time  `json:"created_at"`
	RetiresAt *time.Time `json:"retires_at,omitempty" doc:"When the key stops verifying tokens; absent for the current key."`
}

// KeyService manages the signing keys of access tokens.
type KeyService interface {
	// SigningKeys lists the keys that verify tokens (admins only).
	SigningKeys(ctx context.Context) ([]*SigningKey, error)

	// RotateSigningKey starts a new signing key (admins only); the previous
	// one keeps verifying until its tokens expire, or retires at once with
	// immediate. It returns the keys that verify afterwards.
	RotateSigningKey(ctx context.Context, immediate bool) ([]*SigningKey, error)
}

// OIDCProvider is what a client needs to log in with the configured OpenID
// Connect provider. It holds nothing secret.
type OIDCProvider struct {
	Name                  string   `json:"name" doc:"Display name, as in \"Log in with NAME\"."`
	Issuer                string   `json:"issuer"`
	ClientID              string   `json:"client_id"`
	Scopes                []string `json:"scopes"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	DeviceFlow            bool     `json:"device_flow" doc:"Whether the provider supports the device authorization grant."`
}

// OIDCCodeLogin is an authorization code a client obtained with PKCE,
// for the server to exchange (it holds the client secret).
type OIDCCodeLogin struct {
	Code         string `json:"code" maxLength:"2048"`
	CodeVerifier string `json:"code_verifier" minLength:"43" maxLength:"128" doc:"The PKCE verifier whose S256 challenge went to the authorization endpoint."`
	RedirectURI  string `json:"redirect_uri" maxLength:"2048" doc:"The redirect_uri used at the authorization endpoint."`
	Nonce        string `json:"nonce" minLength:"16" maxLength:"256" doc:"The nonce sent to the authorization endpoint; the ID token must carry it."`
	// IP is the client's address, for the failed-login limit (set by the
	// server, never read from the body).
	IP string `json:"-"`
}

// OIDCDeviceAuth is a started device authorization (RFC 8628).
type OIDCDeviceAuth struct {
	DeviceCode              string `json:"device_code" doc:"Pass to the device token call."`
	UserCode                string `json:"user_code" doc:"What the user types at the verification URI."`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	ExpiresIn               int    `json:"expires_in" doc:"Seconds until the device code expires."`
	Interval                int    `json:"interval" doc:"Seconds to wait between polls."`
}

// OIDCService logs users in through an external OpenID Connect provider.
// Users are linked by the provider's subject and created on first login.
type OIDCService interface {
	// Provider describes the provider for clients.
	Provider(ctx context.Context) (*OIDCProvider, error)

	// LoginWithCode exchanges an authorization code, verifies the ID token
	// (issuer, audience, expiry, nonce) and opens a Kiln session.
	// EUnauthorized when the provider refuses the code or the token fails.
	LoginWithCode(ctx context.Context, in OIDCCodeLogin) (*Session, error)

	// StartDevice starts a device authorization. EInvalid when the
	// provider does not support it.
	StartDevice(ctx context.Context) (*OIDCDeviceAuth, error)

	// PollDevice asks the provider once whether the user approved the
	// device code. EConflict with "authorization_pending" or "slow_down"
	// while waiting; EUnauthorized when denied or expired.
	PollDevice(ctx context.Context, deviceCode string) (*Session, error)
}
