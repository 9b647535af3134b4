package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	kiln "github.com/kiln-build/kiln"
)

// ingestSecretLen is the length of an ingest key secret: the prefix and 32
// random bytes in unpadded base64url.
const ingestSecretLen = len(kiln.IngestKeyPrefix) + 43

// ingestPrefixLen is how much of the secret is kept in clear to tell keys
// apart in listings.
const ingestPrefixLen = len(kiln.IngestKeyPrefix) + 4

// IngestKeyService implements kiln.IngestKeyService.
type IngestKeyService struct {
	db *DB
}

var _ kiln.IngestKeyService = (*IngestKeyService)(nil)

// NewIngestKeyService returns the ingest key service over db.
func NewIngestKeyService(db *DB) *IngestKeyService { return &IngestKeyService{db: db} }

var ingestKeyColumns = []string{"id", "app_id", "name", "prefix", "rate_limit", "created_at", "rotated_at", "last_used_at"}

func scanIngestKey(r rowScanner) (*kiln.IngestKey, error) {
	k := new(kiln.IngestKey)
	err := r.Scan(&k.ID, &k.AppID, &k.Name, &k.Prefix, &k.RateLimit,
		timeScan{&k.CreatedAt}, nullTimeScan{&k.RotatedAt}, nullTimeScan{&k.LastUsedAt})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// hashIngestSecret returns the hex SHA-256 of a secret. Secrets carry 256
// random bits, so a fast unsalted hash makes a leaked table useless.
func hashIngestSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newIngestSecret returns a fresh secret.
func newIngestSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return kiln.IngestKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// wellFormedIngestSecret reports whether s has the shape of a secret, so
// that garbage is refused without a query.
func wellFormedIngestSecret(s string) bool {
	if len(s) != ingestSecretLen || !strings.HasPrefix(s, kiln.IngestKeyPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s[len(kiln.IngestKeyPrefix):])
	return err == nil
}

// ownApp checks that the app exists and belongs to u: ingest keys and
// analytics are the owner's alone, so admins get ENotFound too.
func (db *DB) ownApp(ctx context.Context, c conn, u *kiln.User, appID int64) error {
	var id int64
	err := c.row(ctx, "SELECT id FROM apps WHERE id = ? AND owner_id = ?", appID, u.ID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return errAppNotFound(appID)
	} else if err != nil {
		return fmt.Errorf("find app: %w", err)
	}
	return nil
}

func checkIngestKeyInput(in *kiln.IngestKeyCreate) error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		in.Name = "default"
	}
	if err := checkInputText("name", in.Name, kiln.MaxIngestKeyNameLen, false); err != nil {
		return err
	}
	if in.RateLimit < 0 || in.RateLimit > kiln.MaxIngestRateLimit {
		return kiln.FieldErrorf("rate_limit", "must be between 0 (the server's default) and %d events per second", kiln.MaxIngestRateLimit)
	}
	return nil
}

// CreateIngestKey creates a key for one of the caller's apps and returns
// it with its secret. EUnauthorized without a user, ENotFound for an app
// that is not the caller's, EInvalid (Fields "name", "rate_limit"),
// EConflict at MaxIngestKeysPerApp keys.
func (s *IngestKeyService) CreateIngestKey(ctx context.Context, appID int64, in kiln.IngestKeyCreate) (*kiln.IngestKey, string, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := checkIngestKeyInput(&in); err != nil {
		return nil, "", err
	}
	db := s.db
	secret := newIngestSecret()
	var k *kiln.IngestKey
	err = db.inTx(ctx, func(c conn) error {
		if err := db.ownApp(ctx, c, u, appID); err != nil {
			return err
		}
		var n int
		if err := c.row(ctx, "SELECT count(*) FROM ingest_keys WHERE app_id = ?", appID).Scan(&n); err != nil {
			return fmt.Errorf("count ingest keys: %w", err)
		}
		if n >= kiln.MaxIngestKeysPerApp {
			return kiln.Errorf(kiln.EConflict, "app %d already has %d ingest keys: revoke one first", appID, n)
		}
		now := db.nowUTC()
		k = &kiln.IngestKey{AppID: appID, Name: in.Name, Prefix: secret[:ingestPrefixLen], RateLimit: in.RateLimit, CreatedAt: now}
		err := c.row(ctx, `INSERT INTO ingest_keys (app_id, name, prefix, hash, rate_limit, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			appID, k.Name, k.Prefix, hashIngestSecret(secret), k.RateLimit, db.ts(now)).Scan(&k.ID)
		if err != nil {
			return fmt.Errorf("insert ingest key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// FindIngestKeys lists the keys of one of the caller's apps, oldest first.
// EUnauthorized, ENotFound.
func (s *IngestKeyService) FindIngestKeys(ctx context.Context, appID int64) ([]*kiln.IngestKey, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	c := s.db.read()
	if err := s.db.ownApp(ctx, c, u, appID); err != nil {
		return nil, err
	}
	rows, err := c.query(ctx, "SELECT "+cols("", ingestKeyColumns...)+" FROM ingest_keys WHERE app_id = ? ORDER BY id", appID)
	if err != nil {
		return nil, fmt.Errorf("find ingest keys: %w", err)
	}
	defer rows.Close()
	keys := []*kiln.IngestKey{}
	for rows.Next() {
		k, err := scanIngestKey(rows)
		if err != nil {
			return nil, fmt.Errorf("scan ingest key: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find ingest keys: %w", err)
	}
	return keys, nil
}

func errIngestKeyNotFound(appID, keyID int64) error {
	return kiln.Errorf(kiln.ENotFound, "app %d has no ingest key %d", appID, keyID)
}

// RotateIngestKey replaces a key's secret and returns the new one; the old
// secret stops working when this returns. EUnauthorized, ENotFound.
func (s *IngestKeyService) RotateIngestKey(ctx context.Context, appID, keyID int64) (*kiln.IngestKey, string, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, "", err
	}
	db := s.db
	secret := newIngestSecret()
	var k *kiln.IngestKey
	err = db.inTx(ctx, func(c conn) error {
		if err := db.ownApp(ctx, c, u, appID); err != nil {
			return err
		}
		now := db.nowUTC()
		k, err = scanIngestKey(c.row(ctx, `UPDATE ingest_keys SET hash = ?, prefix = ?, rotated_at = ?
			WHERE id = ? AND app_id = ? RETURNING `+cols("", ingestKeyColumns...),
			hashIngestSecret(secret), secret[:ingestPrefixLen], db.ts(now), keyID, appID))
		if errors.Is(err, sql.ErrNoRows) {
			return errIngestKeyNotFound(appID, keyID)
		} else if err != nil {
			return fmt.Errorf("rotate ingest key: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// RevokeIngestKey deletes a key. EUnauthorized, ENotFound.
func (s *IngestKeyService) RevokeIngestKey(ctx context.Context, appID, keyID int64) error {
	u, err := actor(ctx)
	if err != nil {
		return err
	}
	db := s.db
	return db.inTx(ctx, func(c conn) error {
		if err := db.ownApp(ctx, c, u, appID); err != nil {
			return err
		}
		ok, err := c.execOne(ctx, "DELETE FROM ingest_keys WHERE id = ? AND app_id = ?", keyID, appID)
		if err != nil {
			return fmt.Errorf("revoke ingest key: %w", err)
		}
		if !ok {
			return errIngestKeyNotFound(appID, keyID)
		}
		return nil
	})
}

// AuthenticateIngestKey returns the key whose secret this is, read from
// the database on every call so that a revoked or rotated secret is
// refused at once. EUnauthorized for anything else.
func (s *IngestKeyService) AuthenticateIngestKey(ctx context.Context, secret string) (*kiln.IngestKey, error) {
	if !wellFormedIngestSecret(secret) {
		return nil, kiln.Errorf(kiln.EUnauthorized, "the ingest key is malformed: it starts with %s and has %d characters", kiln.IngestKeyPrefix, ingestSecretLen)
	}
	k, err := scanIngestKey(s.db.read().row(ctx, "SELECT "+cols("", ingestKeyColumns...)+" FROM ingest_keys WHERE hash = ?", hashIngestSecret(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kiln.Errorf(kiln.EUnauthorized, "unknown or revoked ingest key")
	} else if err != nil {
		return nil, fmt.Errorf("authenticate ingest key: %w", err)
	}
	return k, nil
}
