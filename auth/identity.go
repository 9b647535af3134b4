package auth

import (
	"context"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// IdentityStore links users to external identities (an OIDC provider's
// issuer and subject).
type IdentityStore interface {
	// FindUserByIdentity returns the linked user. ENotFound when the
	// subject is linked to nobody.
	FindUserByIdentity(ctx context.Context, issuer, subject string) (*kiln.User, error)

	// RecordIdentityLogin sets the identity's last login (an interactive
	// login, not every API call). Unknown identities are not an error.
	RecordIdentityLogin(ctx context.Context, issuer, subject string, now time.Time) error

	// CreateUserWithIdentity creates u (as CreateUser does) and links it,
	// atomically. EConflict when the email is taken or the subject linked.
	CreateUserWithIdentity(ctx context.Context, u *kiln.User, issuer, subject string) error

	// LinkIdentity links an existing user. EConflict when the subject is
	// linked already.
	LinkIdentity(ctx context.Context, userID int64, issuer, subject string) error

	// SetAdminFromOIDC gives the user the admin role from the provider's
	// admin group (admin true) when the user is no admin yet, marking it
	// as the provider's; or (admin false) takes back an admin role so
	// marked. Admins made otherwise are never changed. It reports whether
	// the user changed. ENotFound without the user.
	SetAdminFromOIDC(ctx context.Context, userID int64, admin bool) (changed bool, err error)
}
