package client

import (
	"context"
	"fmt"
	"net/url"

	kiln "github.com/kiln-build/kiln"
)

// RequestPasswordReset asks for a reset link for the account with email
// (POST /v1/auth/password-reset) and returns the server's message, which
// is the same whether or not the account exists. ERateLimited when the
// address asked too often.
func (c *Client) RequestPasswordReset(ctx context.Context, email string) (string, error) {
	var out struct {
		Message string `json:"message"`
	}
	err := c.do(ctx, request{method: "POST", path: "/v1/auth/password-reset", anon: true,
		body: struct {
			Email string `json:"email"`
		}{email}}, &out)
	return out.Message, err
}

// ResetPassword sets a new password with the token from a reset link
// (POST /v1/auth/password-reset/confirm). EInvalid for an unknown, used or
// expired token or a weak password.
func (c *Client) ResetPassword(ctx context.Context, token, password string) error {
	return c.do(ctx, request{method: "POST", path: "/v1/auth/password-reset/confirm", anon: true,
		body: struct {
			Token    string `json:"token"`
			Password string `json:"password"`
		}{token, password}}, nil)
}

// SetNotifications changes the caller's mail settings (PATCH /v1/me) and
// returns the user.
func (c *Client) SetNotifications(ctx context.Context, n kiln.Notifications) (*kiln.User, error) {
	var out kiln.User
	body := map[string]any{"notifications": map[string]any{"build_finished": n.BuildFinished}}
	if err := c.do(ctx, request{method: "PATCH", path: "/v1/me", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AdminListMail lists outbox messages newest first, optionally with one
// status (GET /v1/admin/mail), and returns the next cursor. EForbidden for
// non-admins.
func (c *Client) AdminListMail(ctx context.Context, status kiln.MailStatus, p kiln.Page) ([]*kiln.MailMessage, string, error) {
	var out struct {
		Items      []*kiln.MailMessage `json:"items"`
		NextCursor string              `json:"next_cursor"`
	}
	q := url.Values{}
	if status != "" {
		q.Set("status", string(status))
	}
	if err := c.do(ctx, request{method: "GET", path: "/v1/admin/mail", query: pageQuery(q, p)}, &out); err != nil {
		return nil, "", err
	}
	return out.Items, out.NextCursor, nil
}

// AdminRetryMail queues a failed message again (POST
// /v1/admin/mail/{id}/retry). EConflict when it is not failed.
func (c *Client) AdminRetryMail(ctx context.Context, id int64) (*kiln.MailMessage, error) {
	var out kiln.MailMessage
	if err := c.do(ctx, request{method: "POST", path: fmt.Sprintf("/v1/admin/mail/%d/retry", id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
