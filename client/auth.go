package client

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/kiln-build/kiln"
)

type credentialsBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type userBody struct {
	User *kiln.User `json:"user"`
}

type refreshBody struct {
	RefreshToken string `json:"refresh_token"`
}

// Signup creates an account (POST /v1/auth/signup). EInvalid for a bad email
// or weak password, EConflict when the email is taken.
func (c *Client) Signup(ctx context.Context, email, password string) (*kiln.User, error) {
	var out userBody
	err := c.do(ctx, request{method: "POST", path: "/v1/auth/signup", anon: true,
		body: credentialsBody{Email: email, Password: password}}, &out)
	if err != nil {
		return nil, err
	}
	return out.User, nil
}

// Login opens a session (POST /v1/auth/login). It does not change the
// client's own credentials: build a new client WithSession to use it.
// EUnauthorized for a wrong email or password; ERateLimited with RetryAfter.
func (c *Client) Login(ctx context.Context, email, password string) (*kiln.Session, error) {
	var out kiln.Session
	err := c.do(ctx, request{method: "POST", path: "/v1/auth/login", anon: true,
		body: credentialsBody{Email: email, Password: password}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Refresh rotates a refresh token into a new session (POST /v1/auth/refresh).
// EUnauthorized when the token is unknown, expired or revoked.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*kiln.Session, error) {
	var out kiln.Session
	err := c.do(ctx, request{method: "POST", path: "/v1/auth/refresh", anon: true,
		body: refreshBody{RefreshToken: refreshToken}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Logout revokes a refresh token (POST /v1/auth/logout).
func (c *Client) Logout(ctx context.Context, refreshToken string) error {
	return c.do(ctx, request{method: "POST", path: "/v1/auth/logout", anon: true,
		body: refreshBody{RefreshToken: refreshToken}}, nil)
}

// VerifyEmail consumes an email verification token (POST
// /v1/auth/verify-email). EInvalid when it is unknown, used or expired.
func (c *Client) VerifyEmail(ctx context.Context, token string) (*kiln.User, error) {
	var out userBody
	err := c.do(ctx, request{method: "POST", path: "/v1/auth/verify-email", anon: true,
		body: struct {
			Token string `json:"token"`
		}{token}}, &out)
	if err != nil {
		return nil, err
	}
	return out.User, nil
}

// ResendVerification mails the caller a new verification link (POST
// /v1/auth/resend-verification).
func (c *Client) ResendVerification(ctx context.Context) error {
	return c.do(ctx, request{method: "POST", path: "/v1/auth/resend-verification"}, nil)
}

// Me returns the authenticated user (GET /v1/me). EUnauthorized without
// valid credentials.
func (c *Client) Me(ctx context.Context) (*kiln.User, error) {
	var out kiln.User
	if err := c.do(ctx, request{method: "GET", path: "/v1/me"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateToken creates an API token (POST /v1/tokens) and returns it with its
// secret, which the server never shows again. expiresAt may be nil.
func (c *Client) CreateToken(ctx context.Context, name string, expiresAt *time.Time, opts ...CallOption) (*kiln.APIToken, string, error) {
	var out struct {
		Token  *kiln.APIToken `json:"token"`
		Secret string         `json:"secret"`
	}
	err := c.do(ctx, request{method: "POST", path: "/v1/tokens", opts: opts,
		body: struct {
			Name      string     `json:"name"`
			ExpiresAt *time.Time `json:"expires_at,omitempty"`
		}{name, expiresAt}}, &out)
	if err != nil {
		return nil, "", err
	}
	return out.Token, out.Secret, nil
}

// ListTokens lists the caller's API tokens (GET /v1/tokens).
func (c *Client) ListTokens(ctx context.Context) ([]*kiln.APIToken, error) {
	var out struct {
		Items []*kiln.APIToken `json:"items"`
	}
	if err := c.do(ctx, request{method: "GET", path: "/v1/tokens"}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// RevokeToken deletes one of the caller's API tokens (DELETE
// /v1/tokens/{id}). ENotFound when it is not theirs.
func (c *Client) RevokeToken(ctx context.Context, id int64) error {
	return c.do(ctx, request{method: "DELETE", path: fmt.Sprintf("/v1/tokens/%d", id)}, nil)
}

// AdminListUsers lists all users, newest first (GET /v1/admin/users), and
// returns the next cursor ("" at the end). EForbidden for non-admins.
func (c *Client) AdminListUsers(ctx context.Context, p kiln.Page) ([]*kiln.User, string, error) {
	var out struct {
		Items      []*kiln.User `json:"items"`
		NextCursor string       `json:"next_cursor"`
	}
	err := c.do(ctx, request{method: "GET", path: "/v1/admin/users", query: pageQuery(nil, p)}, &out)
	if err != nil {
		return nil, "", err
	}
	return out.Items, out.NextCursor, nil
}

// AdminFindUser returns the user with the email, compared
// case-insensitively (GET /v1/admin/users?email=). EForbidden for
// non-admins, ENotFound when no user has it.
func (c *Client) AdminFindUser(ctx context.Context, email string) (*kiln.User, error) {
	var out struct {
		Items []*kiln.User `json:"items"`
	}
	q := url.Values{"email": {email}, "limit": {"1"}}
	if err := c.do(ctx, request{method: "GET", path: "/v1/admin/users", query: q}, &out); err != nil {
		return nil, err
	}
	if len(out.Items) == 0 {
		return nil, kiln.Errorf(kiln.ENotFound, "no user has the email %q", email)
	}
	return out.Items[0], nil
}

// AdminRevokeUserSessions ends every session of the user with the id by
// revoking the user's refresh tokens (POST
// /v1/admin/users/{id}/revoke-sessions), and returns the user and how many
// sessions ended. Access tokens already issued work until they expire.
// EForbidden for non-admins, ENotFound for an unknown user.
func (c *Client) AdminRevokeUserSessions(ctx context.Context, id int64) (*kiln.User, int, error) {
	var out struct {
		User          *kiln.User `json:"user"`
		SessionsEnded int        `json:"sessions_ended"`
	}
	if err := c.do(ctx, request{method: "POST", path: fmt.Sprintf("/v1/admin/users/%d/revoke-sessions", id)}, &out); err != nil {
		return nil, 0, err
	}
	return out.User, out.SessionsEnded, nil
}

// AdminGrant sets a user's role by email (POST /v1/admin/grant).
// EForbidden for non-admins, ENotFound for an unknown email.
func (c *Client) AdminGrant(ctx context.Context, email string, role kiln.Role) (*kiln.User, error) {
	var out kiln.User
	err := c.do(ctx, request{method: "POST", path: "/v1/admin/grant",
		body: struct {
			Email string    `json:"email"`
			Role  kiln.Role `json:"role"`
		}{email, role}}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ServerVersion is what GET /v1/version reports.
type ServerVersion struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

// Version returns the server's version (GET /v1/version); it needs no
// credentials.
func (c *Client) Version(ctx context.Context) (*ServerVersion, error) {
	var out ServerVersion
	if err := c.do(ctx, request{method: "GET", path: "/v1/version", anon: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// pageQuery adds a page's cursor and limit to q (allocated when nil).
func pageQuery(q url.Values, p kiln.Page) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	return q
}

// AdminSigningKeys lists the keys that verify access tokens
// (GET /v1/admin/keys). EForbidden for non-admins.
func (c *Client) AdminSigningKeys(ctx context.Context) ([]*kiln.SigningKey, error) {
	var out struct {
		Items []*kiln.SigningKey `json:"items"`
	}
	if err := c.do(ctx, request{method: "GET", path: "/v1/admin/keys"}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// AdminRotateSigningKey starts a new signing key (POST
// /v1/admin/keys/rotate) and returns the keys that verify afterwards; with
// immediate the previous key retires at once. EForbidden for non-admins.
func (c *Client) AdminRotateSigningKey(ctx context.Context, immediate bool) ([]*kiln.SigningKey, error) {
	var out struct {
		Items []*kiln.SigningKey `json:"items"`
	}
	body := struct {
		Immediate bool `json:"immediate,omitempty"`
	}{immediate}
	if err := c.do(ctx, request{method: "POST", path: "/v1/admin/keys/rotate", body: body}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Usage returns the caller's language-model usage this month (GET /v1/usage).
func (c *Client) Usage(ctx context.Context) (*kiln.MonthUsage, error) {
	var out kiln.MonthUsage
	if err := c.do(ctx, request{method: "GET", path: "/v1/usage"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OIDCProvider describes the server's external identity provider
// (GET /v1/auth/oidc). ENotFound when none is configured.
func (c *Client) OIDCProvider(ctx context.Context) (*kiln.OIDCProvider, error) {
	var out kiln.OIDCProvider
	if err := c.do(ctx, request{method: "GET", path: "/v1/auth/oidc"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OIDCLogin trades an authorization code obtained with PKCE for a session
// (POST /v1/auth/oidc/code). EUnauthorized when the provider refuses it.
func (c *Client) OIDCLogin(ctx context.Context, in kiln.OIDCCodeLogin) (*kiln.Session, error) {
	var out kiln.Session
	if err := c.do(ctx, request{method: "POST", path: "/v1/auth/oidc/code", body: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OIDCStartDevice starts a device login (POST /v1/auth/oidc/device).
// EInvalid when the provider has no device flow.
func (c *Client) OIDCStartDevice(ctx context.Context) (*kiln.OIDCDeviceAuth, error) {
	var out kiln.OIDCDeviceAuth
	if err := c.do(ctx, request{method: "POST", path: "/v1/auth/oidc/device"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OIDCPollDevice waits (up to 20 s on the server) for the user to approve
// a device login (POST /v1/auth/oidc/device/token). EConflict while it is
// pending.
func (c *Client) OIDCPollDevice(ctx context.Context, deviceCode string) (*kiln.Session, error) {
	var out kiln.Session
	body := struct {
		DeviceCode string `json:"device_code"`
	}{deviceCode}
	if err := c.do(ctx, request{method: "POST", path: "/v1/auth/oidc/device/token", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
