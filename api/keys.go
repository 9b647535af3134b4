package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

type keyListOutput struct {
	Body struct {
		Items []*kiln.SigningKey `json:"items"`
	}
}

type keyRotateInput struct {
	Body struct {
		Immediate bool `json:"immediate,omitempty" doc:"Retire the previous key at once instead of when its tokens expire (after a leak): every access token fails and clients refresh."`
	}
}

var errNoKeys = kiln.Errorf(kiln.EUnavailable, "signing keys are not managed by this server")

func (s *Server) registerKeys() {
	huma.Register(s.api, op("admin-list-keys", http.MethodGet, "/v1/admin/keys", "List access-token signing keys (admins)", "admin", true),
		func(ctx context.Context, _ *struct{}) (*keyListOutput, error) {
			if s.cfg.Keys == nil {
				return nil, s.err.problem(ctx, errNoKeys)
			}
			keys, err := s.cfg.Keys.SigningKeys(ctx)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &keyListOutput{}
			out.Body.Items = nonNil(keys)
			return out, nil
		})

	o := op("admin-rotate-keys", http.MethodPost, "/v1/admin/keys/rotate", "Rotate the access-token signing key (admins)", "admin", true)
	o.Description = "Starts a new signing key. The previous key keeps verifying the tokens it signed until they expire (unless immediate); older keys retire at once, so at most two keys verify. Answers the keys that verify afterwards."
	huma.Register(s.api, o, func(ctx context.Context, in *keyRotateInput) (*keyListOutput, error) {
		if s.cfg.Keys == nil {
			return nil, s.err.problem(ctx, errNoKeys)
		}
		keys, err := s.cfg.Keys.RotateSigningKey(ctx, in.Body.Immediate)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		out := &keyListOutput{}
		out.Body.Items = nonNil(keys)
		return out, nil
	})
}
