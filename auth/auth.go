// Package auth implements kiln.AuthService: accounts with argon2id
// passwords, short-lived ES256 access JWTs with rotating signing keys,
// rotating refresh tokens with reuse detection, email verification,
// password reset, API tokens and a login rate limit. It keeps its data
// through Store, which sqlstore implements; mails go to the store's outbox
// with the token they carry.
package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
	kilnmail "github.com/kiln-build/kiln/mail"
)

// Defaults for the zero fields of Config.
const (
	DefaultIssuer          = "kiln"
	DefaultAccessTTL       = 15 * time.Minute
	DefaultRefreshTTL      = 30 * 24 * time.Hour
	DefaultVerifyTTL       = 24 * time.Hour
	DefaultMinPasswordLen  = 8
	DefaultLoginWindow     = time.Minute
	DefaultLoginAccountMax = 5  // failures per account per window
	DefaultLoginIPMax      = 20 // failures per IP per window
	DefaultLimiterMaxKeys  = 10000
	DefaultResendWindow    = 15 * time.Minute
	DefaultResendMax       = 3 // verification mails per user per window
	DefaultResetTTL        = time.Hour
	DefaultResetWindow     = 15 * time.Minute
	DefaultResetMax        = 3 // reset mails per address per window
	DefaultResetMinTime    = 250 * time.Millisecond

	// MaxPasswordLen bounds passwords (in characters) so nobody can make
	// the server hash megabytes.
	MaxPasswordLen = 256
	// MinSecretLen is the shortest accepted Secret, in bytes.
	MinSecretLen = 32
	// maxEmailLen is RFC 5321's limit on a forward path.
	maxEmailLen = 254
)

// Config configures a Service. Zero fields take the defaults above, except
// Secret and BaseURL, which are required.
type Config struct {
	// Secret is the root secret, at least MinSecretLen bytes: the signing
	// keys of access tokens (ES256, in the store) are sealed with a key
	// derived from it, so every API node needs the same Secret.
	Secret []byte
	// Issuer is the iss claim of access tokens.
	Issuer string
	// AccessTTL, RefreshTTL and VerifyTTL are the lifetimes of access
	// tokens, refresh tokens (each rotation starts a new one) and email
	// verification links.
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	VerifyTTL  time.Duration
	// BaseURL is the public URL used in mail links, e.g.
	// http://127.0.0.1:8080.
	BaseURL string
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// MinPasswordLen is the shortest accepted password, in characters.
	MinPasswordLen int

	// LoginWindow is the sliding window of the login rate limit, in which
	// an account may fail LoginAccountMax times and an IP (an IPv6 /64)
	// LoginIPMax times before further attempts get ERateLimited.
	LoginWindow     time.Duration
	LoginAccountMax int
	LoginIPMax      int
	// LimiterMaxKeys caps how many accounts and how many IPs the limiter
	// remembers; past it the least recently failed are forgotten first.
	LimiterMaxKeys int

	// ResendWindow and ResendMax limit verification mails per user, so
	// nobody can flood an inbox with them.
	ResendWindow time.Duration
	ResendMax    int

	// ResetTTL is how long a password reset link works. ResetWindow and
	// ResetMax limit reset requests per address (known or not, so the
	// limit tells nothing). ResetMinTime is the least time a reset
	// request takes to answer, so the answer's timing does not tell
	// whether the account exists.
	ResetTTL     time.Duration
	ResetWindow  time.Duration
	ResetMax     int
	ResetMinTime time.Duration

	// Templates render the mails (mail.DefaultTemplates when nil).
	Templates *kilnmail.Templates

	// Argon2 are the cost parameters of new password hashes
	// (DefaultArgon2Params when zero).
	Argon2 Argon2Params
	// MaxConcurrentHashes bounds the password hashes running at once
	// (GOMAXPROCS when zero); further logins wait their turn.
	MaxConcurrentHashes int
}

// withDefaults returns c with zero fields filled in.
func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	def(&c.AccessTTL, DefaultAccessTTL)
	def(&c.RefreshTTL, DefaultRefreshTTL)
	def(&c.VerifyTTL, DefaultVerifyTTL)
	def(&c.LoginWindow, DefaultLoginWindow)
	def(&c.ResendWindow, DefaultResendWindow)
	def(&c.ResetTTL, DefaultResetTTL)
	def(&c.ResetWindow, DefaultResetWindow)
	def(&c.ResetMinTime, DefaultResetMinTime)
	defInt(&c.ResetMax, DefaultResetMax)
	if c.Templates == nil {
		c.Templates = kilnmail.DefaultTemplates()
	}
	defInt(&c.MinPasswordLen, DefaultMinPasswordLen)
	defInt(&c.LoginAccountMax, DefaultLoginAccountMax)
	defInt(&c.LoginIPMax, DefaultLoginIPMax)
	defInt(&c.LimiterMaxKeys, DefaultLimiterMaxKeys)
	defInt(&c.ResendMax, DefaultResendMax)
	defInt(&c.MaxConcurrentHashes, runtime.GOMAXPROCS(0))
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = DefaultArgon2Params
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// Validate reports the first bad field of c after defaults, naming it.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case len(c.Secret) < MinSecretLen:
		return fmt.Errorf("auth config: Secret must be at least %d bytes", MinSecretLen)
	case c.AccessTTL < 0:
		return errors.New("auth config: AccessTTL must be positive")
	case c.RefreshTTL < 0:
		return errors.New("auth config: RefreshTTL must be positive")
	case c.VerifyTTL < 0:
		return errors.New("auth config: VerifyTTL must be positive")
	case c.LoginWindow < 0:
		return errors.New("auth config: LoginWindow must be positive")
	case c.ResendWindow < 0:
		return errors.New("auth config: ResendWindow must be positive")
	case c.ResetTTL < 0:
		return errors.New("auth config: ResetTTL must be positive")
	case c.ResetWindow < 0:
		return errors.New("auth config: ResetWindow must be positive")
	case c.ResetMinTime < 0:
		return errors.New("auth config: ResetMinTime must not be negative")
	case c.ResetMax < 1:
		return errors.New("auth config: ResetMax must be positive")
	case c.MinPasswordLen < 1 || c.MinPasswordLen > MaxPasswordLen:
		return fmt.Errorf("auth config: MinPasswordLen must be between 1 and %d", MaxPasswordLen)
	case c.LoginAccountMax < 1:
		return errors.New("auth config: LoginAccountMax must be positive")
	case c.LoginIPMax < 1:
		return errors.New("auth config: LoginIPMax must be positive")
	case c.LimiterMaxKeys < 1:
		return errors.New("auth config: LimiterMaxKeys must be positive")
	case c.ResendMax < 1:
		return errors.New("auth config: ResendMax must be positive")
	case c.MaxConcurrentHashes < 1:
		return errors.New("auth config: MaxConcurrentHashes must be positive")
	}
	if err := c.Argon2.validate(); err != nil {
		return fmt.Errorf("auth config: Argon2: %w", err)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("auth config: BaseURL must be an absolute http(s) URL without query, got %q", c.BaseURL)
	}
	return nil
}

// Service implements kiln.AuthService over a Store.
type Service struct {
	store  Store
	cfg    Config
	logger *slog.Logger

	keys           *keyRing
	oidc           *OIDC // set by NewOIDC; nil without external login
	hasher         *hasher
	accountLimiter *failureLimiter
	ipLimiter      *failureLimiter
	resendLimiter  *failureLimiter
	resetLimiter   *failureLimiter
}

var _ kiln.AuthService = (*Service)(nil)

// New returns a Service. It fails, naming the field, when cfg is invalid
// or store is nil. A nil logger discards. New hashes one dummy password,
// so it takes as long as one login.
func New(store Store, cfg Config, logger *slog.Logger) (*Service, error) {
	if store == nil {
		return nil, errors.New("auth: store is nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h, err := newHasher(cfg.Argon2, cfg.MaxConcurrentHashes)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	aead, err := newSealer(cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Service{
		keys:           &keyRing{store: store, aead: aead, now: cfg.Now, logger: logger},
		store:          store,
		cfg:            cfg,
		logger:         logger,
		hasher:         h,
		accountLimiter: newFailureLimiter(cfg.LoginAccountMax, cfg.LoginWindow, cfg.LimiterMaxKeys),
		ipLimiter:      newFailureLimiter(cfg.LoginIPMax, cfg.LoginWindow, cfg.LimiterMaxKeys),
		resendLimiter:  newFailureLimiter(cfg.ResendMax, cfg.ResendWindow, cfg.LimiterMaxKeys),
		resetLimiter:   newFailureLimiter(cfg.ResetMax, cfg.ResetWindow, cfg.LimiterMaxKeys),
	}, nil
}

// now returns the service's current time, truncated to the microsecond so
// times survive a database round trip unchanged.
func (s *Service) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}

// errUnauthorized is the one answer to every bad credential, so no answer
// tells which part was wrong.
func errUnauthorized(msg string) error {
	return kiln.Errorf(kiln.EUnauthorized, "%s", msg)
}

// rateLimited returns ERateLimited with RetryAfter rounded up to a whole
// second, as the Retry-After header will show it.
func rateLimited(msg string, wait time.Duration) error {
	if r := wait % time.Second; r != 0 {
		wait += time.Second - r
	}
	return &kiln.Error{Code: kiln.ERateLimited, Message: msg, RetryAfter: wait}
}

// isCode reports whether err carries the kiln error code.
func isCode(err error, code string) bool {
	var e *kiln.Error
	return errors.As(err, &e) && e.Code == code
}
