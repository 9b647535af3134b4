package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters for new password hashes.
// Existing hashes are checked with the parameters stored in them, so
// raising these upgrades each account at its next login.
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32 // bytes
	KeyLen      uint32 // bytes
}

// DefaultArgon2Params follow OWASP's argon2id recommendation (19 MiB, two
// passes, one lane): about 22 ms and 19 MiB per hash on one core of the
// machines Kiln is developed on (BenchmarkHashPassword).
var DefaultArgon2Params = Argon2Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLen:     16,
	KeyLen:      32,
}

// Bounds on the parameters of a stored hash: a hash outside them is
// refused rather than run, so a corrupt or planted row cannot make a login
// burn gigabytes or minutes.
const (
	maxHashMemory      = 1 << 20 // 1 GiB in KiB
	maxHashIterations  = 64
	maxHashParallelism = 64
	minHashSaltLen     = 8
	minHashKeyLen      = 16
	maxHashPartLen     = 1024
)

func (p Argon2Params) validate() error {
	switch {
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxHashMemory:
		return errors.New("memory out of range")
	case p.Iterations < 1 || p.Iterations > maxHashIterations:
		return errors.New("iterations out of range")
	case p.Parallelism < 1 || p.Parallelism > maxHashParallelism:
		return errors.New("parallelism out of range")
	case p.SaltLen < minHashSaltLen || p.SaltLen > maxHashPartLen:
		return errors.New("salt length out of range")
	case p.KeyLen < minHashKeyLen || p.KeyLen > maxHashPartLen:
		return errors.New("key length out of range")
	}
	return nil
}

var b64 = base64.RawStdEncoding

// hashPassword returns the PHC string of password under p:
// $argon2id$v=19$m=…,t=…,p=…$salt$hash, with salt and hash in unpadded
// standard base64.
func hashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// parsedHash is a decoded PHC string.
type parsedHash struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

// parseHash decodes a PHC argon2id string, refusing any other algorithm,
// version or parameters outside the bounds above.
func parseHash(encoded string) (*parsedHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, errors.New("parse password hash: not a PHC string")
	}
	if parts[1] != "argon2id" {
		return nil, fmt.Errorf("parse password hash: unsupported algorithm %q", parts[1])
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || parts[2] != fmt.Sprintf("v=%d", version) {
		return nil, errors.New("parse password hash: bad version field")
	}
	if version != argon2.Version {
		return nil, fmt.Errorf("parse password hash: unsupported version %d", version)
	}
	var h parsedHash
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.params.Memory, &h.params.Iterations, &h.params.Parallelism); err != nil ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", h.params.Memory, h.params.Iterations, h.params.Parallelism) {
		return nil, errors.New("parse password hash: bad parameter field")
	}
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil {
		return nil, fmt.Errorf("parse password hash: salt: %w", err)
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil {
		return nil, fmt.Errorf("parse password hash: key: %w", err)
	}
	h.params.SaltLen, h.params.KeyLen = uint32(len(h.salt)), uint32(len(h.key))
	if err := h.params.validate(); err != nil {
		return nil, fmt.Errorf("parse password hash: %w", err)
	}
	return &h, nil
}

// checkPassword reports whether password matches the PHC string encoded,
// comparing in constant time. It fails only for a hash it cannot read.
func checkPassword(password, encoded string) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Iterations, h.params.Memory, h.params.Parallelism, h.params.KeyLen)
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// needsRehash reports whether encoded was made with parameters other than p.
func needsRehash(encoded string, p Argon2Params) bool {
	h, err := parseHash(encoded)
	if err != nil {
		return true
	}
	return h.params != p
}

// hasher runs password hashes, at most cap(sem) at a time: each one holds
// Memory KiB for tens of milliseconds, so a burst of logins queues here
// instead of exhausting memory.
type hasher struct {
	params Argon2Params
	sem    chan struct{}
	// dummy is a hash of a random password, checked when a login names an
	// unknown account so it costs the same time as a known one.
	dummy string
}

func newHasher(p Argon2Params, concurrency int) (*hasher, error) {
	dummyPassword := make([]byte, 32)
	if _, err := rand.Read(dummyPassword); err != nil {
		return nil, fmt.Errorf("read dummy password: %w", err)
	}
	dummy, err := hashPassword(base64.RawURLEncoding.EncodeToString(dummyPassword), p)
	if err != nil {
		return nil, err
	}
	return &hasher{params: p, sem: make(chan struct{}, concurrency), dummy: dummy}, nil
}

func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for password hasher: %w", ctx.Err())
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns a new PHC string for password.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return hashPassword(password, h.params)
}

// check reports whether password matches encoded; with encoded == "" it
// checks against the dummy hash and reports false.
func (h *hasher) check(ctx context.Context, password, encoded string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if encoded == "" {
		_, err := checkPassword(password, h.dummy)
		return false, err
	}
	return checkPassword(password, encoded)
}
