package sqlstore

import (
	"database/sql"
	"strings"

	kiln "github.com/kiln-build/kiln"
)

// Column lists and row scanners, one per domain type, so every query
// reads a type the same way.

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface {
	Scan(dest ...any) error
}

// extraScanner scans the columns a query selects after a type's own.
type extraScanner struct {
	r     rowScanner
	extra []any
}

func (s extraScanner) Scan(dest ...any) error { return s.r.Scan(append(dest, s.extra...)...) }

// cols prefixes each column with a table alias.
func cols(alias string, names ...string) string {
	if alias == "" {
		return strings.Join(names, ", ")
	}
	return alias + "." + strings.Join(names, ", "+alias+".")
}

var appColumns = []string{"id", "owner_id", "name", "description", "spec", "created_at", "updated_at"}

func scanApp(r rowScanner) (*kiln.App, error) {
	a := new(kiln.App)
	err := r.Scan(&a.ID, &a.OwnerID, &a.Name, &a.Description, specScan{&a.Spec},
		timeScan{&a.CreatedAt}, timeScan{&a.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return a, nil
}

var buildColumns = []string{
	"id", "app_id", "owner_id", "number", "status", "step", "error", "spec", "no_cache",
	"cancel_requested", "attempt", "created_at", "started_at", "finished_at", "cache_key", "cached_from",
}

func scanBuild(r rowScanner) (*kiln.Build, error) {
	b := new(kiln.Build)
	var cachedFrom sql.NullInt64
	err := r.Scan(&b.ID, &b.AppID, &b.OwnerID, &b.Number, &b.Status, &b.Step, &b.Error,
		specScan{&b.Spec}, boolScan{&b.NoCache}, boolScan{&b.CancelRequested}, &b.Attempt,
		timeScan{&b.CreatedAt}, nullTimeScan{&b.StartedAt}, nullTimeScan{&b.FinishedAt}, &b.CacheKey, &cachedFrom)
	if err != nil {
		return nil, err
	}
	if cachedFrom.Valid {
		b.CachedFrom = &cachedFrom.Int64
	}
	return b, nil
}

var stepColumns = []string{"id", "build_id", "name", "outcome", "error", "started_at", "finished_at"}

func scanStep(r rowScanner) (*kiln.Step, error) {
	s := new(kiln.Step)
	err := r.Scan(&s.ID, &s.BuildID, &s.Name, &s.Outcome, &s.Error,
		timeScan{&s.StartedAt}, nullTimeScan{&s.FinishedAt})
	if err != nil {
		return nil, err
	}
	return s, nil
}

var artifactColumns = []string{"id", "build_id", "kind", "name", "size", "sha256", "location", "created_at"}

func scanArtifact(r rowScanner) (*kiln.Artifact, error) {
	a := new(kiln.Artifact)
	err := r.Scan(&a.ID, &a.BuildID, &a.Kind, &a.Name, &a.Size, &a.SHA256, &a.Location, timeScan{&a.CreatedAt})
	if err != nil {
		return nil, err
	}
	return a, nil
}

var userColumns = []string{"id", "email", "password_hash", "email_verified", "role", "admin_from_oidc", "notify_build_finished", "created_at", "updated_at"}

func scanUser(r rowScanner) (*kiln.User, error) {
	u := new(kiln.User)
	err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, boolScan{&u.EmailVerified}, &u.Role,
		boolScan{&u.AdminFromOIDC}, boolScan{&u.Notifications.BuildFinished}, timeScan{&u.CreatedAt}, timeScan{&u.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return u, nil
}

var apiTokenColumns = []string{"id", "user_id", "name", "prefix", "created_at", "last_used_at", "expires_at"}

func scanAPIToken(r rowScanner) (*kiln.APIToken, error) {
	t := new(kiln.APIToken)
	err := r.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, timeScan{&t.CreatedAt},
		nullTimeScan{&t.LastUsedAt}, nullTimeScan{&t.ExpiresAt})
	if err != nil {
		return nil, err
	}
	return t, nil
}
