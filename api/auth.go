package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

type credentialsBody struct {
	Email    string `json:"email" maxLength:"254" doc:"Email address." example:"ada@example.com"`
	Password string `json:"password" maxLength:"256" doc:"Password (at least 8 characters)."`
}

type signupInput struct{ Body credentialsBody }
type loginInput struct{ Body credentialsBody }

type userBody struct {
	User *kiln.User `json:"user"`
}
type userOutput struct{ Body userBody }
type meOutput struct{ Body *kiln.User }
type sessionOutput struct{ Body *kiln.Session }

type refreshInput struct {
	Body struct {
		RefreshToken string `json:"refresh_token" maxLength:"512" doc:"The refresh token from login or the last refresh."`
	}
}

type verifyInput struct {
	Body struct {
		Token string `json:"token" maxLength:"512" doc:"The token from the verification link."`
	}
}

type tokenCreateInput struct {
	Body struct {
		Name      string     `json:"name" minLength:"1" maxLength:"64" doc:"What the token is for."`
		ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the token stops working; never when absent."`
	}
}

type tokenCreateBody struct {
	Token  *kiln.APIToken `json:"token"`
	Secret string         `json:"secret" doc:"The token itself; shown only now."`
}
type tokenCreateOutput struct{ Body tokenCreateBody }

type tokenListOutput struct {
	Body struct {
		Items []*kiln.APIToken `json:"items"`
	}
}

// IDPath is the {id} path parameter.
type IDPath struct {
	ID int64 `path:"id" minimum:"1" doc:"Identifier."`
}

func (s *Server) registerAuth() {
	o := op("signup", http.MethodPost, "/v1/auth/signup", "Create an account", "auth", false)
	o.DefaultStatus = http.StatusCreated
	o.Description = "Creates a user and sends the verification mail. The first user becomes an admin."
	huma.Register(s.api, o, func(ctx context.Context, in *signupInput) (*userOutput, error) {
		u, err := s.cfg.Auth.Signup(ctx, in.Body.Email, in.Body.Password)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &userOutput{Body: userBody{User: u}}, nil
	})

	o = op("login", http.MethodPost, "/v1/auth/login", "Log in", "auth", false)
	o.Description = "Returns a short-lived access token and a rotating refresh token. Too many failures answer 429 with Retry-After."
	huma.Register(s.api, o, func(ctx context.Context, in *loginInput) (*sessionOutput, error) {
		sess, err := s.cfg.Auth.Login(ctx, kiln.LoginInput{Email: in.Body.Email, Password: in.Body.Password, IP: clientIP(ctx)})
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &sessionOutput{Body: sess}, nil
	})

	o = op("refresh", http.MethodPost, "/v1/auth/refresh", "Refresh a session", "auth", false)
	o.Description = "Trades a refresh token for a new access and refresh token. The old refresh token stops working."
	huma.Register(s.api, o, func(ctx context.Context, in *refreshInput) (*sessionOutput, error) {
		sess, err := s.cfg.Auth.Refresh(ctx, in.Body.RefreshToken)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &sessionOutput{Body: sess}, nil
	})

	o = op("logout", http.MethodPost, "/v1/auth/logout", "Log out", "auth", false)
	o.DefaultStatus = http.StatusNoContent
	huma.Register(s.api, o, func(ctx context.Context, in *refreshInput) (*struct{}, error) {
		if err := s.cfg.Auth.Logout(ctx, in.Body.RefreshToken); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return nil, nil
	})

	o = op("verify-email", http.MethodPost, "/v1/auth/verify-email", "Verify an email address", "auth", false)
	huma.Register(s.api, o, func(ctx context.Context, in *verifyInput) (*userOutput, error) {
		u, err := s.cfg.Auth.VerifyEmail(ctx, in.Body.Token)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &userOutput{Body: userBody{User: u}}, nil
	})

	o = op("resend-verification", http.MethodPost, "/v1/auth/resend-verification", "Send the verification mail again", "auth", true)
	o.DefaultStatus = http.StatusNoContent
	huma.Register(s.api, o, func(ctx context.Context, _ *struct{}) (*struct{}, error) {
		if _, err := requireUser(ctx); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		if err := s.cfg.Auth.ResendVerification(ctx); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return nil, nil
	})

	huma.Register(s.api, op("get-me", http.MethodGet, "/v1/me", "The current user", "auth", true),
		func(ctx context.Context, _ *struct{}) (*meOutput, error) {
			u, err := requireUser(ctx)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			return &meOutput{Body: u}, nil
		})

	huma.Register(s.api, op("list-tokens", http.MethodGet, "/v1/tokens", "List API tokens", "tokens", true),
		func(ctx context.Context, _ *struct{}) (*tokenListOutput, error) {
			toks, err := s.cfg.Auth.FindAPITokens(ctx)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &tokenListOutput{}
			out.Body.Items = nonNil(toks)
			return out, nil
		})

	o = op("create-token", http.MethodPost, "/v1/tokens", "Create an API token", "tokens", true)
	o.DefaultStatus = http.StatusCreated
	o.Description = "The secret is in this answer only; Kiln keeps just its hash."
	huma.Register(s.api, o, func(ctx context.Context, in *tokenCreateInput) (*tokenCreateOutput, error) {
		tok, secret, err := s.cfg.Auth.CreateAPIToken(ctx, in.Body.Name, in.Body.ExpiresAt)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &tokenCreateOutput{Body: tokenCreateBody{Token: tok, Secret: secret}}, nil
	})

	o = op("revoke-token", http.MethodDelete, "/v1/tokens/{id}", "Revoke an API token", "tokens", true)
	o.DefaultStatus = http.StatusNoContent
	huma.Register(s.api, o, func(ctx context.Context, in *IDPath) (*struct{}, error) {
		if err := s.cfg.Auth.RevokeAPIToken(ctx, in.ID); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return nil, nil
	})
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
