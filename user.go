package kiln

import (
	"context"
	"errors"
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
	ID            int64  `json:"id"`
	Email         string `json:"email"`
	PasswordHash  string `json:"-"`
	EmailVerified bool   `json:"email_verified"`
	Role          Role   `json:"role"`
	// AdminFromOIDC says the admin role came from the OIDC provider's
	// admin group: a login outside the group takes it away again. Admins
	// made by hand (the first user, kiln admin grant) never have it.
	AdminFromOIDC bool `json:"admin_from_oidc,omitempty" doc:"The admin role came from the identity provider's admin group and ends when a login no longer lists the group."`
	// Notifications says which mails the user wants besides the ones
	// every account gets (verification, password reset).
	Notifications Notifications `json:"notifications"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
}

// Notifications are a user's mail settings.
type Notifications struct {
	// BuildFinished sends a mail when one of the user's builds succeeds
	// or fails. On for new accounts.
	BuildFinished bool `json:"build_finished"`
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

	// RequestPasswordReset mails a single-use reset link to the account
	// with the email, if there is one. The answer (nil) and its timing are
	// the same whether or not the account exists; EInvalid only for input
	// that cannot be an email, ERateLimited when the address asked too
	// often.
	RequestPasswordReset(ctx context.Context, email string) error

	// ResetPassword consumes a reset token, sets the new password and
	// revokes every refresh token of the user. EInvalid when the token is
	// unknown, used or expired, or the password is weak.
	ResetPassword(ctx context.Context, token, newPassword string) error

	// RevokeUserSessions ends every session of the user with the id
	// (admins only) by revoking the user's refresh tokens, and returns the
	// user and how many sessions ended. Access tokens already issued keep
	// working until they expire (15 minutes by default); API tokens are
	// not touched. EForbidden for non-admins, ENotFound for an unknown
	// user.
	RevokeUserSessions(ctx context.Context, userID int64) (*User, int, error)

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
	// (the CLI's `kiln admin grant`) and needs no user in ctx. The role is
	// then the operator's: the OIDC admin group no longer takes it away.
	SetUserRole(ctx context.Context, email string, role Role) (*User, error)

	// SetNotifications changes the mail settings of the user in ctx and
	// returns the user. EUnauthorized without a user.
	SetNotifications(ctx context.Context, n Notifications) (*User, error)
}

// Mail is one message to send.
type Mail struct {
	// ID is the message's stable id, given by the outbox: senders use it
	// as the Message-ID (and idempotency key where the provider has one),
	// so a retried message is recognizably the same message.
	ID      string
	To      string
	Subject string
	Text    string
	HTML    string
	// Kind names the template ("verify_email", "password_reset", …) and
	// Link the action link in it, for logs and the dev outbox.
	Kind string
	Link string
}

// Mailer delivers one message now: the senders (log, SMTP, SES) implement
// it, and the outbox's queue job calls it. An error wrapping
// ErrPermanentMail is not retried (a refused address); any other error
// is retried with backoff.
type Mailer interface {
	Send(ctx context.Context, m *Mail) error
}

// ErrPermanentMail marks a sender error that retrying cannot fix, such as
// a recipient the server refuses.
var ErrPermanentMail = errors.New("permanent mail failure")

// MailStatus is where a message in the outbox is.
type MailStatus string

// Mail statuses.
const (
	MailPending MailStatus = "pending" // waiting for its (next) attempt
	MailSent    MailStatus = "sent"    // accepted by the sender
	MailFailed  MailStatus = "failed"  // attempts exhausted or refused for good
)

// MailMessage is a message in the outbox as admins see it. The bodies
// are not shown (they hold single-use links) and are cleared once sent.
type MailMessage struct {
	ID        int64      `json:"id"`
	MessageID string     `json:"message_id"` // the stable id senders use as Message-ID
	Kind      string     `json:"kind"`
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	Status    MailStatus `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

// MailFilter selects outbox messages.
type MailFilter struct {
	Status *MailStatus
	Page
}

// MailService is the outbox for admins.
type MailService interface {
	// FindMail lists messages newest first with the next cursor.
	// EForbidden for anyone but an admin.
	FindMail(ctx context.Context, f MailFilter) ([]*MailMessage, string, error)

	// RetryMail queues a failed message for delivery again with a fresh
	// set of attempts. EForbidden for non-admins, ENotFound for an unknown
	// id, EConflict when the message is not failed.
	RetryMail(ctx context.Context, id int64) (*MailMessage, error)
}
