package kiln

import (
	"context"
	"time"
)

// Role is what a user may do beyond their own things.
type Role string

// Roles.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// User is an account. The first user to sign up becomes an admin.
type User struct {
	ID            int64     `json:"id"`
	Email         string    `json:"email"`
	PasswordHash  string    `json:"-"`
	EmailVerified bool      `json:"email_verified"`
	Role          Role      `json:"role"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// IsAdmin reports whether u may see everything.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin }

// Session is what a successful login or refresh returns: a short-lived
// access token (a JWT) and a rotating refresh token.
type Session struct {
	User             *User     `json:"user"`
	AccessToken      string    `json:"access_token"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

// APIToken is a long-lived credential for the CLI and scripts. Its secret
// is shown once at creation; only its hash is stored.
type APIToken struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"` // the first characters of the secret, to recognize it
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

// LoginInput is what a user logs in with. IP is the client's address, used
// for rate limiting.
type LoginInput struct {
	Email    string
	Password string
	IP       string
}

// AuthService manages accounts and credentials.
type AuthService interface {
	// Signup creates a user and sends the verification mail. EInvalid for a
	// bad email or weak password, EConflict when the email is taken.
	Signup(ctx context.Context, email, password string) (*User, error)

	// Login checks the password and opens a session. EUnauthorized for a
	// wrong email or password, ERateLimited (with RetryAfter) when the
	// account or IP has failed too often.
	Login(ctx context.Context, in LoginInput) (*Session, error)

	// Refresh rotates a refresh token: the old one is revoked and a new
	// session returned. EUnauthorized for an unknown, expired or revoked
	// token; reuse of a rotated token revokes the whole chain.
	Refresh(ctx context.Context, refreshToken string) (*Session, error)

	// Logout revokes the refresh token. Unknown tokens are not an error.
	Logout(ctx context.Context, refreshToken string) error

	// VerifyEmail consumes a verification token. EInvalid when the token
	// is unknown, used or expired.
	VerifyEmail(ctx context.Context, token string) (*User, error)

	// ResendVerification sends a new verification mail to the user in ctx.
	ResendVerification(ctx context.Context) error

	// Authenticate resolves a bearer credential (access JWT or API token)
	// to its user. EUnauthorized when it is invalid or expired.
	Authenticate(ctx context.Context, bearer string) (*User, error)

	// CreateAPIToken creates a token for the user in ctx and returns it
	// with its secret, which is never retrievable again. EInvalid for a
	// bad name.
	CreateAPIToken(ctx context.Context, name string, expiresAt *time.Time) (*APIToken, string, error)

	// FindAPITokens lists the user's tokens.
	FindAPITokens(ctx context.Context) ([]*APIToken, error)

	// RevokeAPIToken deletes one of the user's tokens. ENotFound when it is
	// not theirs.
	RevokeAPIToken(ctx context.Context, id int64) error
}

// UserFilter selects users for admins.
type UserFilter struct {
	Email *string
	Page
}

// UserService reads and changes accounts.
type UserService interface {
	// FindUserByID returns the user. ENotFound when absent; only admins
	// may read users other than themselves.
	FindUserByID(ctx context.Context, id int64) (*User, error)

	// FindUsers lists users (admins only, else EForbidden).
	FindUsers(ctx context.Context, f UserFilter) ([]*User, string, error)

	// SetUserRole changes a user's role by email. It is an operator action
	// (the CLI's `kiln admin grant`) and needs no user in ctx.
	SetUserRole(ctx context.Context, email string, role Role) (*User, error)
}

// Mail is one message to send.
type Mail struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// Kind names the template ("verify_email", "password_reset", …) and
	// Link the action link in it, for logs and the dev outbox.
	Kind string
	Link string
}

// Mailer delivers mail. The embedded default writes to the server log and
// a dev outbox; real delivery (SMTP, SES) plugs in here.
type Mailer interface {
	Send(ctx context.Context, m *Mail) error
}
