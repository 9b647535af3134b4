package auth_test

import (
	"context"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

// fakeKeys is an in-memory auth.KeyStore.
type fakeKeys struct {
	keyMu sync.Mutex
	keys  []*auth.SigningKey
	// KeyLoads counts FindSigningKeys calls.
	KeyLoads int
}

func (s *fakeKeys) FindSigningKeys(_ context.Context, now time.Time) ([]*auth.SigningKey, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	s.KeyLoads++
	var out []*auth.SigningKey
	for i := len(s.keys) - 1; i >= 0; i-- {
		k := s.keys[i]
		if k.RetiresAt == nil || k.RetiresAt.After(now) {
			c := *k
			out = append(out, &c)
		}
	}
	return out, nil
}

func (s *fakeKeys) CreateSigningKey(_ context.Context, k *auth.SigningKey) error {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	for _, o := range s.keys {
		if o.Current {
			return kiln.Errorf(kiln.EConflict, "a current signing key exists already")
		}
	}
	c := *k
	c.Current = true
	s.keys = append(s.keys, &c)
	return nil
}

func (s *fakeKeys) RotateSigningKey(_ context.Context, next *auth.SigningKey, now, previousUntil time.Time) error {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	for _, k := range s.keys {
		switch {
		case k.Current:
			k.Current, k.RetiresAt = false, &previousUntil
		case k.RetiresAt == nil || k.RetiresAt.After(now):
			k.RetiresAt = &now
		}
	}
	c := *next
	c.Current = true
	s.keys = append(s.keys, &c)
	return nil
}

// currentKey returns the stored current key.
func (s *fakeKeys) currentKey() *auth.SigningKey {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	for _, k := range s.keys {
		if k.Current {
			c := *k
			return &c
		}
	}
	return nil
}

// fakeIdentities is an in-memory auth.IdentityStore over the fakeStore's
// users.
type fakeIdentities struct {
	identities map[[2]string]int64 // (issuer, subject) → user id
}

func (s *fakeStore) RecordIdentityLogin(context.Context, string, string, time.Time) error { return nil }

func (s *fakeStore) FindUserByIdentity(_ context.Context, issuer, subject string) (*kiln.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.identities[[2]string{issuer, subject}]
	if !ok || s.users[id] == nil {
		return nil, kiln.Errorf(kiln.ENotFound, "user not found")
	}
	return copyUser(s.users[id]), nil
}

func (s *fakeStore) CreateUserWithIdentity(ctx context.Context, u *kiln.User, issuer, subject string) error {
	s.mu.Lock()
	if _, ok := s.identities[[2]string{issuer, subject}]; ok {
		s.mu.Unlock()
		return kiln.Errorf(kiln.EConflict, "this identity is linked to an account already")
	}
	s.mu.Unlock()
	if err := s.CreateUser(ctx, u); err != nil {
		return err
	}
	return s.LinkIdentity(ctx, u.ID, issuer, subject)
}

func (s *fakeStore) LinkIdentity(_ context.Context, userID int64, issuer, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[userID] == nil {
		return kiln.Errorf(kiln.ENotFound, "user not found")
	}
	if s.identities == nil {
		s.identities = map[[2]string]int64{}
	}
	key := [2]string{issuer, subject}
	if _, ok := s.identities[key]; ok {
		return kiln.Errorf(kiln.EConflict, "this identity is linked to an account already")
	}
	s.identities[key] = userID
	return nil
}

func (s *fakeStore) SetAdminFromOIDC(_ context.Context, userID int64, admin bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[userID]
	switch {
	case u == nil:
		return false, kiln.Errorf(kiln.ENotFound, "user not found")
	case admin && u.Role != kiln.RoleAdmin:
		u.Role, u.AdminFromOIDC = kiln.RoleAdmin, true
	case !admin && u.Role == kiln.RoleAdmin && u.AdminFromOIDC:
		u.Role, u.AdminFromOIDC = kiln.RoleUser, false
	default:
		return false, nil
	}
	return true, nil
}

// keyLoads returns how often the keys were read.
func (s *fakeKeys) keyLoads() int {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	return s.KeyLoads
}
