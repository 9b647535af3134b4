package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

type oidcProviderOutput struct{ Body *kiln.OIDCProvider }

type oidcCodeInput struct{ Body kiln.OIDCCodeLogin }

type oidcDeviceOutput struct{ Body *kiln.OIDCDeviceAuth }

type oidcDeviceTokenInput struct {
	Body struct {
		DeviceCode string `json:"device_code" minLength:"1" maxLength:"2048" doc:"The device_code from POST /v1/auth/oidc/device."`
	}
}

var errNoOIDC = kiln.Errorf(kiln.ENotFound, "login through an identity provider is not configured on this server (auth.oidc.issuer)")

func (s *Server) registerOIDC() {
	o := op("oidc-provider", http.MethodGet, "/v1/auth/oidc", "The external identity provider", "auth", false)
	o.Description = "Describes the OpenID Connect provider configured for login (auth.oidc.*): what a client needs to send the user to its authorization endpoint with PKCE. 404 when none is configured."
	huma.Register(s.api, o, func(ctx context.Context, _ *struct{}) (*oidcProviderOutput, error) {
		if s.cfg.OIDC == nil {
			return nil, s.err.problem(ctx, errNoOIDC)
		}
		p, err := s.cfg.OIDC.Provider(ctx)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &oidcProviderOutput{Body: p}, nil
	})

	o = op("oidc-login", http.MethodPost, "/v1/auth/oidc/code", "Log in with an authorization code", "auth", false)
	o.Description = "Exchanges an authorization code obtained with PKCE at the provider (the server holds the client secret), verifies the ID token and its nonce, and opens a session. The user is linked by the provider's subject and created on first login."
	huma.Register(s.api, o, func(ctx context.Context, in *oidcCodeInput) (*sessionOutput, error) {
		if s.cfg.OIDC == nil {
			return nil, s.err.problem(ctx, errNoOIDC)
		}
		in.Body.IP = clientIP(ctx)
		sess, err := s.cfg.OIDC.LoginWithCode(ctx, in.Body)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &sessionOutput{Body: sess}, nil
	})

	o = op("oidc-device-start", http.MethodPost, "/v1/auth/oidc/device", "Start a device login", "auth", false)
	o.Description = "Starts the device authorization grant at the provider: show the user the code and URI, then poll POST /v1/auth/oidc/device/token. 422 when the provider has no device flow."
	huma.Register(s.api, o, func(ctx context.Context, _ *struct{}) (*oidcDeviceOutput, error) {
		if s.cfg.OIDC == nil {
			return nil, s.err.problem(ctx, errNoOIDC)
		}
		da, err := s.cfg.OIDC.StartDevice(ctx)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &oidcDeviceOutput{Body: da}, nil
	})

	o = op("oidc-device-token", http.MethodPost, "/v1/auth/oidc/device/token", "Finish a device login", "auth", false)
	o.Description = "Waits up to 20 seconds for the user to approve the device code and opens a session. 409 while the approval is pending: call again."
	huma.Register(s.api, o, func(ctx context.Context, in *oidcDeviceTokenInput) (*sessionOutput, error) {
		if s.cfg.OIDC == nil {
			return nil, s.err.problem(ctx, errNoOIDC)
		}
		sess, err := s.cfg.OIDC.PollDevice(ctx, in.Body.DeviceCode)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &sessionOutput{Body: sess}, nil
	})
}
