package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	kiln "github.com/kiln-build/kiln"
)

// SigningAlgorithm is the JWS algorithm of Kiln's access tokens. It is
// asymmetric, so a node that only verifies never needs a private key, and
// a token signed with HMAC over the public key (algorithm confusion) is
// refused because only this algorithm is accepted.
const SigningAlgorithm = "ES256"

// Key ring timings.
const (
	// keyReloadInterval is how stale a node's copy of the signing keys may
	// get: a rotation on another node reaches this one within it.
	keyReloadInterval = 30 * time.Second
	// keyMissReloadInterval spaces reloads caused by tokens with an
	// unknown kid, so garbage tokens cannot turn into a query each.
	keyMissReloadInterval = time.Second
	kidBytes              = 8
	sealInfo              = "kiln access-token signing keys v1"
)

// SigningKey is a stored access-token signing key. The private key is kept
// only sealed with a key derived from Config.Secret.
type SigningKey struct {
	ID        string // the kid
	Algorithm string
	Public    []byte // PKIX DER
	Sealed    []byte // AES-256-GCM nonce and ciphertext of the PKCS #8 DER private key
	Current   bool   // the key that signs new tokens; at most one is
	CreatedAt time.Time
	RetiresAt *time.Time // verifies tokens until then; nil: no end
}

// KeyStore keeps the signing keys every API node shares.
type KeyStore interface {
	// FindSigningKeys returns the keys that verify tokens at now (not
	// retired), newest first.
	FindSigningKeys(ctx context.Context, now time.Time) ([]*SigningKey, error)

	// CreateSigningKey stores k as the current key. EConflict when a
	// current key exists (another node created one first).
	CreateSigningKey(ctx context.Context, k *SigningKey) error

	// RotateSigningKey makes next the current key in one transaction: the
	// current key keeps verifying until previousUntil, and any older key
	// still verifying retires at now, so at most two keys verify.
	RotateSigningKey(ctx context.Context, next *SigningKey, now, previousUntil time.Time) error
}

// newSealer returns the AEAD that seals private signing keys, keyed by
// HKDF-SHA256 of secret.
func newSealer(secret []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// newSigningKey generates a P-256 key and returns it sealed, with the kid
// as additional data so a sealed key cannot be moved to another row.
func newSigningKey(aead cipher.AEAD, now time.Time) (*SigningKey, *ecdsa.PrivateKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate signing key: %w", err)
	}
	kid, err := newID(kidBytes)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal public key: %w", err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	k := &SigningKey{
		ID: kid, Algorithm: SigningAlgorithm, Public: pub, Current: true, CreatedAt: now,
		Sealed: aead.Seal(nonce, nonce, der, []byte(kid)),
	}
	return k, priv, nil
}

func openSigningKey(aead cipher.AEAD, k *SigningKey) (*ecdsa.PrivateKey, error) {
	n := aead.NonceSize()
	if len(k.Sealed) < n {
		return nil, fmt.Errorf("signing key %s: sealed key too short", k.ID)
	}
	der, err := aead.Open(nil, k.Sealed[:n], k.Sealed[n:], []byte(k.ID))
	if err != nil {
		return nil, fmt.Errorf("signing key %s cannot be unsealed with this auth.secret: every API node needs the same auth.secret (or run `kiln reset-signing-keys` with this node's configuration to start over with a new key)", k.ID)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not an ECDSA key", k.ID)
	}
	return ec, nil
}

// ringKey is one key that verifies tokens.
type ringKey struct {
	public    *ecdsa.PublicKey
	retiresAt *time.Time
}

// keyRing is a node's copy of the signing keys: reloaded from the store
// every keyReloadInterval, and early (at most every keyMissReloadInterval)
// when a token names a kid it does not know — a rotation on another node.
type keyRing struct {
	store  KeyStore
	aead   cipher.AEAD
	now    func() time.Time
	logger *slog.Logger

	mu       sync.Mutex
	keys     map[string]*ringKey
	signKID  string
	signKey  *ecdsa.PrivateKey
	signErr  error // why signKey could not be unsealed
	loadedAt time.Time
	missAt   time.Time
}

// currentKey returns the key that signs, or nil.
func currentKey(stored []*SigningKey) *SigningKey {
	for _, k := range stored {
		if k.Current {
			return k
		}
	}
	return nil
}

// load reads the keys, creating the first one when there is none. Callers
// hold r.mu.
func (r *keyRing) load(ctx context.Context) error {
	now := r.now()
	stored, err := r.store.FindSigningKeys(ctx, now)
	if err != nil {
		return fmt.Errorf("find signing keys: %w", err)
	}
	current := currentKey(stored)
	if current == nil {
		k, _, err := newSigningKey(r.aead, now.UTC().Truncate(time.Microsecond))
		if err != nil {
			return err
		}
		switch err := r.store.CreateSigningKey(ctx, k); {
		case isCode(err, kiln.EConflict): // another node won: use its key
			if stored, err = r.store.FindSigningKeys(ctx, now); err != nil {
				return fmt.Errorf("find signing keys: %w", err)
			}
		case err != nil:
			return fmt.Errorf("create signing key: %w", err)
		default:
			r.logger.InfoContext(ctx, "created access-token signing key", slog.String("kid", k.ID))
			stored = append([]*SigningKey{k}, stored...)
		}
		if current = currentKey(stored); current == nil {
			return errors.New("no current signing key after creating one")
		}
	}
	keys := make(map[string]*ringKey, len(stored))
	for _, k := range stored {
		pub, err := x509.ParsePKIXPublicKey(k.Public)
		if err != nil {
			return fmt.Errorf("signing key %s: parse public key: %w", k.ID, err)
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Algorithm != SigningAlgorithm {
			return fmt.Errorf("signing key %s: unsupported algorithm %q", k.ID, k.Algorithm)
		}
		keys[k.ID] = &ringKey{public: ec, retiresAt: k.RetiresAt}
	}
	if r.signKID != current.ID {
		// A node that cannot unseal the key still verifies tokens; only
		// signing fails (signer returns signErr).
		priv, err := openSigningKey(r.aead, current)
		r.signKID, r.signKey, r.signErr = current.ID, priv, err
	}
	r.keys, r.loadedAt = keys, now
	return nil
}

// fresh loads the keys when they are older than keyReloadInterval.
// Callers hold r.mu.
func (r *keyRing) fresh(ctx context.Context) error {
	if r.keys != nil && r.now().Sub(r.loadedAt) < keyReloadInterval {
		return nil
	}
	return r.load(ctx)
}

// signer returns the current key and its kid.
func (r *keyRing) signer(ctx context.Context) (string, *ecdsa.PrivateKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(ctx); err != nil {
		return "", nil, err
	}
	if r.signErr != nil {
		return "", nil, r.signErr
	}
	return r.signKID, r.signKey, nil
}

// verifier returns the public key of kid if it verifies tokens now.
func (r *keyRing) verifier(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	k, ok := r.keys[kid]
	if now := r.now(); !ok && now.Sub(r.missAt) >= keyMissReloadInterval {
		r.missAt = now
		if err := r.load(ctx); err != nil {
			return nil, err
		}
		k, ok = r.keys[kid]
	}
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if k.retiresAt != nil && !r.now().Before(*k.retiresAt) {
		return nil, fmt.Errorf("kid %q is retired", kid)
	}
	return k.public, nil
}

// invalidate makes the next use reload.
func (r *keyRing) invalidate() {
	r.mu.Lock()
	r.loadedAt = time.Time{}
	r.mu.Unlock()
}

// rotationGrace is how long the previous key keeps verifying after a
// rotation: the longest a token it signed may live, plus the time other
// nodes may still sign with it before they reload, plus clock skew.
func (s *Service) rotationGrace() time.Duration {
	return s.cfg.AccessTTL + keyReloadInterval + jwtLeeway
}

// SigningKeys lists the keys that verify access tokens (admins only).
// EUnauthorized without a user, EForbidden for non-admins.
func (s *Service) SigningKeys(ctx context.Context) ([]*kiln.SigningKey, error) {
	if err := requireAdmin(ctx, "manage signing keys"); err != nil {
		return nil, err
	}
	stored, err := s.store.FindSigningKeys(ctx, s.now())
	if err != nil {
		return nil, fmt.Errorf("find signing keys: %w", err)
	}
	out := make([]*kiln.SigningKey, 0, len(stored))
	for _, k := range stored {
		out = append(out, &kiln.SigningKey{ID: k.ID, Algorithm: k.Algorithm, Current: k.Current, CreatedAt: k.CreatedAt, RetiresAt: k.RetiresAt})
	}
	return out, nil
}

// RotateSigningKey starts a new signing key (admins only) and returns the
// keys that verify tokens afterwards. The previous key keeps verifying the
// tokens it signed until they expire; with immediate it retires at once
// (after a leak: every access token fails and clients refresh). Older
// keys retire at once either way, so at most two keys verify.
// EUnauthorized without a user, EForbidden for non-admins.
func (s *Service) RotateSigningKey(ctx context.Context, immediate bool) ([]*kiln.SigningKey, error) {
	if err := requireAdmin(ctx, "manage signing keys"); err != nil {
		return nil, err
	}
	if err := s.rotate(ctx, immediate); err != nil {
		return nil, err
	}
	return s.SigningKeys(ctx)
}

// ResetSigningKeys retires every key at once and starts a new one: the
// operator's way out when the keys were sealed with a lost auth.secret.
// It needs no user (the CLI runs it with the server's configuration).
func (s *Service) ResetSigningKeys(ctx context.Context) (string, error) {
	now := s.now()
	k, _, err := newSigningKey(s.keys.aead, now)
	if err != nil {
		return "", err
	}
	if err := s.store.RotateSigningKey(ctx, k, now, now); err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	s.keys.invalidate()
	s.logger.WarnContext(ctx, "signing keys reset", slog.String("kid", k.ID))
	return k.ID, nil
}

func (s *Service) rotate(ctx context.Context, immediate bool) error {
	now := s.now()
	// Make sure a current key exists, so rotating a fresh install works.
	if _, _, err := s.keys.signer(ctx); err != nil {
		return err
	}
	k, _, err := newSigningKey(s.keys.aead, now)
	if err != nil {
		return err
	}
	until := now.Add(s.rotationGrace())
	if immediate {
		until = now
	}
	if err := s.store.RotateSigningKey(ctx, k, now, until); err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	s.keys.invalidate()
	s.logger.InfoContext(ctx, "rotated access-token signing key", slog.String("kid", k.ID),
		slog.Time("previous_until", until), slog.Bool("immediate", immediate))
	return nil
}

// CheckSigningKeys loads the signing keys (creating the first) and fails
// when the current one cannot be unsealed, so a node with the wrong
// auth.secret refuses to start instead of failing every login.
func (s *Service) CheckSigningKeys(ctx context.Context) error {
	_, _, err := s.keys.signer(ctx)
	return err
}

// requireAdmin fails unless the user in ctx is an admin.
func requireAdmin(ctx context.Context, what string) error {
	u := kiln.UserFromContext(ctx)
	if u == nil {
		return errUnauthorized("authentication required")
	}
	if !u.IsAdmin() {
		return kiln.Errorf(kiln.EForbidden, "only admins may %s", what)
	}
	return nil
}

// keyFunc resolves a token's kid for jwt.Parse. Tokens without a kid are
// refused: every token Kiln signs carries one.
func (s *Service) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		return s.keys.verifier(ctx, kid)
	}
}
