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

type userListInput struct {
	PageParams
	Email string `query:"email" maxLength:"254" doc:"Only the user with this email (compared case-insensitively)."`
}

type revokeSessionsOutput struct {
	Body struct {
		User          *kiln.User `json:"user"`
		SessionsEnded int        `json:"sessions_ended" doc:"How many open sessions (live refresh tokens) were revoked."`
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
		func(ctx context.Context, in *userListInput) (*userListOutput, error) {
			f := kiln.UserFilter{Page: in.page()}
			if in.Email != "" {
				f.Email = &in.Email
			}
			users, next, err := s.cfg.Users.FindUsers(ctx, f)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &userListOutput{}
			out.Body.Items, out.Body.NextCursor = nonNil(users), next
			return out, nil
		})

	o := op("admin-revoke-user-sessions", http.MethodPost, "/v1/admin/users/{id}/revoke-sessions", "End a user's sessions (admins)", "admin", true)
	o.Description = "Revokes every refresh token of the user and deletes the user's portal sessions: the portal logs the user " +
		"out at once, and every other login session ends when its access token next needs refreshing. Access tokens already issued stay valid until they expire " +
		"(auth.access_ttl, 15 minutes by default); API tokens are not touched (revoke them with DELETE /v1/tokens/{id}). " +
		"403 for non-admins, 404 for an unknown user."
	huma.Register(s.api, o, func(ctx context.Context, in *IDPath) (*revokeSessionsOutput, error) {
		u, n, err := s.cfg.Auth.RevokeUserSessions(ctx, in.ID)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		out := &revokeSessionsOutput{}
		out.Body.User, out.Body.SessionsEnded = u, n
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
