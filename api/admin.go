package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

type userListOutput struct {
	Body struct {
		Items      []*kiln.User `json:"items"`
		NextCursor string       `json:"next_cursor,omitempty"`
	}
}

type grantInput struct {
	Body struct {
		Email string    `json:"email" maxLength:"254" doc:"The user's email."`
		Role  kiln.Role `json:"role" enum:"admin,user" doc:"The role to give."`
	}
}

func (s *Server) registerAdmin() {
	huma.Register(s.api, op("admin-list-users", http.MethodGet, "/v1/admin/users", "List users (admins)", "admin", true),
		func(ctx context.Context, in *PageParams) (*userListOutput, error) {
			users, next, err := s.cfg.Users.FindUsers(ctx, kiln.UserFilter{Page: in.page()})
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &userListOutput{}
			out.Body.Items, out.Body.NextCursor = nonNil(users), next
			return out, nil
		})

	huma.Register(s.api, op("admin-grant", http.MethodPost, "/v1/admin/grant", "Give a user a role (admins)", "admin", true),
		func(ctx context.Context, in *grantInput) (*meOutput, error) {
			u, err := requireUser(ctx)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			if !u.IsAdmin() {
				return nil, s.err.problem(ctx, kiln.Errorf(kiln.EForbidden, "only admins may change roles"))
			}
			changed, err := s.cfg.Users.SetUserRole(ctx, in.Body.Email, in.Body.Role)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			return &meOutput{Body: changed}, nil
		})
}
