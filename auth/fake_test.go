package auth_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth"
)

// fakeStore is an in-memory auth.Store that follows the contract in
// store.go. Its function fields, when set, replace a method's result so a
// test can inject store failures.
type fakeStore struct {
	fakeKeys
	fakeIdentities

	mu        sync.Mutex
	now       func() time.Time // for CreatedAt
	users     map[int64]*kiln.User
	oneTime   map[string]*oneTimeToken // by hash
	refresh   map[int64]*auth.RefreshToken
	apiTokens map[int64]*fakeAPIToken
	nextID    int64

	// FindUserByEmailErr, when set, is returned by FindUserByEmail.
	FindUserByEmailErr error
	// SetPasswordHashCalls counts SetPasswordHash calls.
	SetPasswordHashCalls int
	// BeforeRotate, when set, runs at the start of RotateRefreshToken, so
	// a test can play a concurrent refresh.
	BeforeRotate func(oldID int64)
	// Outbox, when set, receives the mail of each stored token at once:
	// the fake's outbox delivers synchronously. OutboxErr, when set, makes
	// storing a token with a mail fail, as a failed transaction would.
	Outbox    kiln.Mailer
	OutboxErr error
}

type oneTimeToken struct {
	kind      string
	userID    int64
	expiresAt time.Time
	used      bool
}

type fakeAPIToken struct {
	token kiln.APIToken
	hash  string
}

var _ auth.Store = (*fakeStore)(nil)

func newFakeStore(now func() time.Time) *fakeStore {
	return &fakeStore{
		now:       now,
		users:     map[int64]*kiln.User{},
		oneTime:   map[string]*oneTimeToken{},
		refresh:   map[int64]*auth.RefreshToken{},
		apiTokens: map[int64]*fakeAPIToken{},
	}
}

func (s *fakeStore) id() int64 { s.nextID++; return s.nextID }

func copyUser(u *kiln.User) *kiln.User { c := *u; return &c }

func (s *fakeStore) CreateUser(_ context.Context, u *kiln.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.users {
		if strings.EqualFold(o.Email, u.Email) {
			return kiln.Errorf(kiln.EConflict, "email taken")
		}
	}
	u.ID = s.id()
	u.CreatedAt, u.UpdatedAt = s.now(), s.now()
	if len(s.users) == 0 {
		u.Role = kiln.RoleAdmin
	} else if u.Role == "" {
		u.Role = kiln.RoleUser
	}
	s.users[u.ID] = copyUser(u)
	return nil
}

func (s *fakeStore) FindUserByEmail(_ context.Context, email string) (*kiln.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.FindUserByEmailErr != nil {
		return nil, s.FindUserByEmailErr
	}
	for _, u := range s.users {
		if strings.EqualFold(u.Email, email) {
			return copyUser(u), nil
		}
	}
	return nil, kiln.Errorf(kiln.ENotFound, "user not found")
}

func (s *fakeStore) FindUserByID(_ context.Context, id int64) (*kiln.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[id]; ok {
		return copyUser(u), nil
	}
	return nil, kiln.Errorf(kiln.ENotFound, "user not found")
}

// deleteUser removes a user, as an admin tool would.
func (s *fakeStore) deleteUser(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, id)
}

func (s *fakeStore) SetEmailVerified(_ context.Context, userID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[userID]
	if !ok {
		return kiln.Errorf(kiln.ENotFound, "user not found")
	}
	u.EmailVerified = true
	return nil
}

func (s *fakeStore) SetPasswordHash(_ context.Context, userID int64, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.SetPasswordHashCalls++
	u, ok := s.users[userID]
	if !ok {
		return kiln.Errorf(kiln.ENotFound, "user not found")
	}
	u.PasswordHash = hash
	return nil
}

func (s *fakeStore) CreateUserWithToken(ctx context.Context, u *kiln.User, t *auth.OneTimeToken) error {
	if t.Mail != nil && s.OutboxErr != nil {
		return s.OutboxErr
	}
	if err := s.CreateUser(ctx, u); err != nil {
		return err
	}
	return s.CreateOneTimeToken(ctx, u.ID, t)
}

func (s *fakeStore) CreateOneTimeToken(ctx context.Context, userID int64, t *auth.OneTimeToken) error {
	s.mu.Lock()
	if t.Mail != nil && s.OutboxErr != nil {
		s.mu.Unlock()
		return s.OutboxErr
	}
	if _, ok := s.users[userID]; !ok {
		s.mu.Unlock()
		return kiln.Errorf(kiln.ENotFound, "user not found")
	}
	s.oneTime[t.Hash] = &oneTimeToken{kind: t.Kind, userID: userID, expiresAt: t.ExpiresAt}
	outbox := s.Outbox
	s.mu.Unlock()
	if t.Mail != nil && outbox != nil {
		t.Mail.ID = "fake-" + t.Hash[:8]
		return outbox.Send(ctx, t.Mail)
	}
	return nil
}

func (s *fakeStore) ResetPassword(_ context.Context, tokenHash, passwordHash string, now time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.oneTime[tokenHash]
	if !ok || t.used || t.kind != auth.TokenPasswordReset || !now.Before(t.expiresAt) {
		return 0, kiln.Errorf(kiln.EInvalid, "invalid token")
	}
	u, ok := s.users[t.userID]
	if !ok {
		return 0, kiln.Errorf(kiln.EInvalid, "invalid token")
	}
	t.used = true
	u.PasswordHash, u.EmailVerified = passwordHash, true
	for _, rt := range s.refresh {
		if rt.UserID == u.ID && rt.RevokedAt == nil {
			r := now
			rt.RevokedAt = &r
		}
	}
	return u.ID, nil
}

func (s *fakeStore) ConsumeOneTimeToken(_ context.Context, kind, hash string, now time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.oneTime[hash]
	if !ok || t.used || t.kind != kind || !now.Before(t.expiresAt) {
		return 0, kiln.Errorf(kiln.EInvalid, "invalid token")
	}
	t.used = true
	return t.userID, nil
}

func (s *fakeStore) CreateRefreshToken(_ context.Context, t *auth.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.ID = s.id()
	c := *t
	s.refresh[t.ID] = &c
	return nil
}

func (s *fakeStore) FindRefreshToken(_ context.Context, hash string) (*auth.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.refresh {
		if t.Hash == hash {
			c := *t
			return &c, nil
		}
	}
	return nil, kiln.Errorf(kiln.ENotFound, "refresh token not found")
}

func (s *fakeStore) RotateRefreshToken(_ context.Context, oldID int64, next *auth.RefreshToken, now time.Time) error {
	if s.BeforeRotate != nil {
		s.BeforeRotate(oldID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.refresh[oldID]
	if !ok {
		return kiln.Errorf(kiln.ENotFound, "refresh token not found")
	}
	if old.RevokedAt != nil {
		return kiln.Errorf(kiln.EConflict, "refresh token already revoked")
	}
	old.RevokedAt = &now
	next.ID = s.id()
	c := *next
	s.refresh[next.ID] = &c
	return nil
}

func (s *fakeStore) RevokeRefreshToken(_ context.Context, id int64, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.refresh[id]; ok && t.RevokedAt == nil {
		t.RevokedAt = &now
	}
	return nil
}

func (s *fakeStore) RevokeRefreshFamily(_ context.Context, family string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.refresh {
		if t.Family == family && t.RevokedAt == nil {
			t.RevokedAt = &now
		}
	}
	return nil
}

func (s *fakeStore) RevokeUserRefreshTokens(_ context.Context, userID int64, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.refresh {
		if t.UserID == userID && t.RevokedAt == nil && now.Before(t.ExpiresAt) {
			t.RevokedAt = &now
			n++
		}
	}
	return n, nil
}

// refreshTokens returns copies of all stored refresh tokens by id.
func (s *fakeStore) refreshTokens() []auth.RefreshToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []auth.RefreshToken
	for _, t := range s.refresh {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b auth.RefreshToken) int { return int(a.ID - b.ID) })
	return out
}

func (s *fakeStore) CreateAPIToken(_ context.Context, t *kiln.APIToken, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.ID = s.id()
	t.CreatedAt = s.now()
	s.apiTokens[t.ID] = &fakeAPIToken{token: *t, hash: hash}
	return nil
}

func (s *fakeStore) FindAPITokens(_ context.Context, userID int64) ([]*kiln.APIToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*kiln.APIToken
	for _, t := range s.apiTokens {
		if t.token.UserID == userID {
			c := t.token
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *kiln.APIToken) int { return int(b.ID - a.ID) })
	return out, nil
}

func (s *fakeStore) DeleteAPIToken(_ context.Context, userID, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.apiTokens[id]
	if !ok || t.token.UserID != userID {
		return kiln.Errorf(kiln.ENotFound, "api token not found")
	}
	delete(s.apiTokens, id)
	return nil
}

func (s *fakeStore) FindUserByAPITokenHash(_ context.Context, hash string, now time.Time) (*kiln.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.apiTokens {
		if t.hash != hash {
			continue
		}
		if t.token.ExpiresAt != nil && !now.Before(*t.token.ExpiresAt) {
			return nil, kiln.Errorf(kiln.EUnauthorized, "api token expired")
		}
		u, ok := s.users[t.token.UserID]
		if !ok {
			return nil, kiln.Errorf(kiln.EUnauthorized, "api token user gone")
		}
		used := now
		t.token.LastUsedAt = &used
		return copyUser(u), nil
	}
	return nil, kiln.Errorf(kiln.EUnauthorized, "unknown api token")
}
