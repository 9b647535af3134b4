package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	kiln "github.com/kiln-build/kiln"
)

type resetRequestInput struct {
	Body struct {
		Email string `json:"email" maxLength:"254" doc:"The account's email address." example:"ada@example.com"`
	}
}

type resetRequestOutput struct {
	Body struct {
		Message string `json:"message"`
	}
}

// resetAnswer is the one answer to every well-formed reset request, so it
// never tells whether an account exists.
const resetAnswer = "If an account has this address, a password reset link is on its way. It works once, for 1 hour."

type resetConfirmInput struct {
	Body struct {
		Token    string `json:"token" maxLength:"512" doc:"The token from the reset link."`
		Password string `json:"password" maxLength:"1024" doc:"The new password (at least 8 characters)."`
	}
}

type notificationsPatch struct {
	BuildFinished *bool `json:"build_finished,omitempty" doc:"Mail when one of your builds succeeds or fails."`
}

type mePatchInput struct {
	Body struct {
		Notifications *notificationsPatch `json:"notifications,omitempty" doc:"Mail settings; absent fields stay as they are."`
	}
}

type mailListInput struct {
	PageParams
	Status string `query:"status" enum:"pending,sent,failed" doc:"Only messages with this status."`
}

type mailListOutput struct {
	Body struct {
		Items      []*kiln.MailMessage `json:"items"`
		NextCursor string              `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

type mailOutput struct{ Body *kiln.MailMessage }

func (s *Server) registerMail() {
	o := op("password-reset", http.MethodPost, "/v1/auth/password-reset", "Ask for a password reset link", "auth", false)
	o.DefaultStatus = http.StatusAccepted
	o.Description = "Mails a single-use link, valid for 1 hour, to the account with this email. " +
		"The answer is the same, and takes as long, whether or not the account exists. " +
		"Too many requests for one address answer 429."
	huma.Register(s.api, o, func(ctx context.Context, in *resetRequestInput) (*resetRequestOutput, error) {
		if err := s.cfg.Auth.RequestPasswordReset(ctx, in.Body.Email); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		out := &resetRequestOutput{}
		out.Body.Message = resetAnswer
		return out, nil
	})

	o = op("password-reset-confirm", http.MethodPost, "/v1/auth/password-reset/confirm", "Set a new password with a reset token", "auth", false)
	o.DefaultStatus = http.StatusNoContent
	o.Description = "Consumes the token from the reset link and sets the new password. Every session of the account ends " +
		"(its refresh tokens are revoked); API tokens keep working."
	huma.Register(s.api, o, func(ctx context.Context, in *resetConfirmInput) (*struct{}, error) {
		if err := s.cfg.Auth.ResetPassword(ctx, in.Body.Token, in.Body.Password); err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return nil, nil
	})

	o = op("update-me", http.MethodPatch, "/v1/me", "Change your settings", "auth", true)
	o.Description = "Changes the current user's notification settings and returns the user."
	huma.Register(s.api, o, func(ctx context.Context, in *mePatchInput) (*meOutput, error) {
		u, err := requireUser(ctx)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		if n := in.Body.Notifications; n != nil && n.BuildFinished != nil {
			settings := u.Notifications
			settings.BuildFinished = *n.BuildFinished
			if u, err = s.cfg.Users.SetNotifications(ctx, settings); err != nil {
				return nil, s.err.problem(ctx, err)
			}
		}
		return &meOutput{Body: u}, nil
	})

	huma.Register(s.api, op("admin-list-mail", http.MethodGet, "/v1/admin/mail", "List outbox mail (admins)", "admin", true),
		func(ctx context.Context, in *mailListInput) (*mailListOutput, error) {
			if s.cfg.Mail == nil {
				return nil, s.err.problem(ctx, kiln.Errorf(kiln.EUnavailable, "this server has no mail outbox"))
			}
			f := kiln.MailFilter{Page: in.page()}
			if in.Status != "" {
				st := kiln.MailStatus(in.Status)
				f.Status = &st
			}
			list, next, err := s.cfg.Mail.FindMail(ctx, f)
			if err != nil {
				return nil, s.err.problem(ctx, err)
			}
			out := &mailListOutput{}
			out.Body.Items, out.Body.NextCursor = nonNil(list), next
			return out, nil
		})

	o = op("admin-retry-mail", http.MethodPost, "/v1/admin/mail/{id}/retry", "Send a failed message again (admins)", "admin", true)
	o.Description = "Puts a failed message back in the outbox with a fresh set of attempts. 409 when it is not failed."
	huma.Register(s.api, o, func(ctx context.Context, in *IDPath) (*mailOutput, error) {
		if s.cfg.Mail == nil {
			return nil, s.err.problem(ctx, kiln.Errorf(kiln.EUnavailable, "this server has no mail outbox"))
		}
		m, err := s.cfg.Mail.RetryMail(ctx, in.ID)
		if err != nil {
			return nil, s.err.problem(ctx, err)
		}
		return &mailOutput{Body: m}, nil
	})
}
