package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	kiln "github.com/kiln-build/kiln"
)

// Defaults of OIDCConfig.
const (
	DefaultOIDCGroupClaim = "cognito:groups"
	DefaultOIDCName       = "SSO"
)

// DefaultOIDCScopes are the scopes asked for when none are configured.
var DefaultOIDCScopes = []string{oidc.ScopeOpenID, "email", "profile"}

const (
	// oidcLeeway is the clock skew allowed on provider tokens' exp, nbf and iat.
	oidcLeeway = 30 * time.Second
	// oidcKidMissInterval spaces JWKS fetches caused by unknown kids.
	oidcKidMissInterval = 10 * time.Second
	// oidcDiscoveryRetry spaces discovery attempts while the provider is down.
	oidcDiscoveryRetry = 5 * time.Second
	// devicePollWait is how long one device-token call waits for the user.
	devicePollWait = 20 * time.Second
	maxClaimLen    = 512
)

// OIDCConfig configures login through an OpenID Connect provider.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL; discovery reads
	// Issuer/.well-known/openid-configuration.
	Issuer string
	// ClientID and ClientSecret identify Kiln at the provider (an app
	// client in Cognito). The secret may be empty for a public client.
	ClientID     string
	ClientSecret string
	// Scopes asked for (DefaultOIDCScopes when empty); must hold openid.
	Scopes []string
	// GroupClaim names the claim listing the user's groups
	// (DefaultOIDCGroupClaim when empty).
	GroupClaim string
	// AdminGroup, when set, makes members of this group admins at login,
	// and demotes the admins it made once a login no longer lists it.
	AdminGroup string
	// Audience is an extra aud value accepted in provider access tokens
	// (besides ClientID), for providers that issue them for an API.
	Audience string
	// Name is shown as "Log in with NAME" (DefaultOIDCName when empty).
	Name string
	// HTTPClient talks to the provider (a client with a 10 s timeout when nil).
	HTTPClient *http.Client
}

func (c OIDCConfig) withDefaults() OIDCConfig {
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultOIDCScopes
	}
	if c.GroupClaim == "" {
		c.GroupClaim = DefaultOIDCGroupClaim
	}
	if c.Name == "" {
		c.Name = DefaultOIDCName
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return c
}

// Validate reports the first bad field, naming it.
func (c OIDCConfig) Validate() error {
	c = c.withDefaults()
	u, err := url.Parse(c.Issuer)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("auth.oidc.issuer must be an absolute https URL, got %q", c.Issuer)
	case c.ClientID == "":
		return errors.New("auth.oidc.client_id is required with auth.oidc.issuer")
	case !slices.Contains(c.Scopes, oidc.ScopeOpenID):
		return fmt.Errorf("auth.oidc.scopes must include %q", oidc.ScopeOpenID)
	}
	return nil
}

// OIDC logs users in through an OpenID Connect provider and accepts the
// provider's access tokens as API credentials. It implements
// kiln.OIDCService. Discovery happens on first use and is retried while
// the provider is unreachable, so Kiln starts without it.
type OIDC struct {
	svc    *Service
	cfg    OIDCConfig
	logger *slog.Logger

	mu        sync.Mutex
	prov      *oidc.Provider
	discErr   error
	discAt    time.Time
	knownKids map[string]bool
	kidMissAt time.Time
	// idVerifier checks ID tokens, accessVerifier the signature and issuer
	// of access tokens; both share the provider's cached JWKS.
	idVerifier, accessVerifier *oidc.IDTokenVerifier
}

var _ kiln.OIDCService = (*OIDC)(nil)

// NewOIDC returns the OIDC login for svc and makes svc.Authenticate accept
// the provider's access tokens. It fails, naming the setting, when cfg is
// invalid.
func NewOIDC(svc *Service, cfg OIDCConfig) (*OIDC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := &OIDC{svc: svc, cfg: cfg.withDefaults(), logger: svc.logger, knownKids: map[string]bool{}}
	svc.oidc = o
	return o, nil
}

// clientCtx makes go-oidc and oauth2 use the configured HTTP client.
func (o *OIDC) clientCtx(ctx context.Context) context.Context {
	ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	return context.WithValue(ctx, oauth2.HTTPClient, o.cfg.HTTPClient)
}

// provider returns the discovered provider. EUnavailable while discovery
// fails.
func (o *OIDC) provider(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.prov != nil {
		return o.prov, nil
	}
	now := time.Now()
	if o.discErr == nil || now.Sub(o.discAt) >= oidcDiscoveryRetry {
		// Discovery outlives the request that triggers it.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		o.prov, o.discErr = oidc.NewProvider(o.clientCtx(dctx), o.cfg.Issuer)
		o.discAt = now
		if o.discErr != nil {
			o.logger.WarnContext(ctx, "oidc discovery failed", slog.String("issuer", o.cfg.Issuer), slog.Any("error", o.discErr))
		} else {
			// Verifier (not VerifierContext, which starts an empty key
			// set each call) keeps one JWKS cache for the process.
			o.idVerifier = o.prov.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.svc.cfg.Now})
			o.accessVerifier = o.prov.Verifier(&oidc.Config{SkipClientIDCheck: true, SkipExpiryCheck: true})
		}
	}
	if o.prov == nil {
		return nil, kiln.Errorf(kiln.EUnavailable, "the identity provider cannot be reached; try again later")
	}
	return o.prov, nil
}

// verifiers returns the token verifiers; provider must have succeeded.
func (o *OIDC) verifiers() (v struct{ id, access *oidc.IDTokenVerifier }) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v.id, v.access = o.idVerifier, o.accessVerifier
	return v
}

func (o *OIDC) oauth2Config(p *oidc.Provider, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: redirectURI, Scopes: o.cfg.Scopes,
	}
}

// Provider describes the provider for clients building a login URL.
// EUnavailable when it cannot be reached.
func (o *OIDC) Provider(ctx context.Context) (*kiln.OIDCProvider, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return nil, err
	}
	ep := p.Endpoint()
	return &kiln.OIDCProvider{
		Name: o.cfg.Name, Issuer: o.cfg.Issuer, ClientID: o.cfg.ClientID, Scopes: o.cfg.Scopes,
		AuthorizationEndpoint: ep.AuthURL, DeviceFlow: ep.DeviceAuthURL != "",
	}, nil
}

// LoginWithCode exchanges an authorization code (with its PKCE verifier),
// verifies the ID token — signature against the provider's JWKS, issuer,
// audience (the client id), expiry and nonce — links or creates the user
// and opens a Kiln session. EUnauthorized when the provider refuses the
// code or the ID token fails; EForbidden or EConflict when the identity
// cannot become an account (no email; email of an account not linked).
func (o *OIDC) LoginWithCode(ctx context.Context, in kiln.OIDCCodeLogin) (*kiln.Session, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return nil, err
	}
	if in.Code == "" || in.CodeVerifier == "" || in.Nonce == "" || in.RedirectURI == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "code, code_verifier, nonce and redirect_uri are required")
	}
	// Failed exchanges count against the IP like failed password logins:
	// each costs a request to the provider.
	ip, now := ipKey(in.IP), o.svc.now()
	if ip != "" {
		if wait := o.svc.ipLimiter.retryAfter(ip, now); wait > 0 {
			return nil, rateLimited("too many failed logins, try again later", wait)
		}
	}
	fail := func(err error) error {
		if ip != "" && isCode(err, kiln.EUnauthorized) {
			o.svc.ipLimiter.fail(ip, now)
		}
		return err
	}
	tok, err := o.oauth2Config(p, in.RedirectURI).Exchange(o.clientCtx(ctx), in.Code, oauth2.VerifierOption(in.CodeVerifier))
	if err != nil {
		o.logger.InfoContext(ctx, "oidc code exchange failed", slog.Any("error", err))
		return nil, fail(errUnauthorized("the identity provider refused the login"))
	}
	sess, err := o.sessionFromToken(ctx, p, tok, in.Nonce)
	if err != nil {
		return nil, fail(err)
	}
	return sess, nil
}

// sessionFromToken verifies the ID token of a token response (and its
// nonce, when not empty) and opens a session for its user.
func (o *OIDC) sessionFromToken(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, nonce string) (*kiln.Session, error) {
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, errUnauthorized("the identity provider sent no ID token (is the openid scope allowed?)")
	}
	idt, err := o.verifiers().id.Verify(ctx, rawID)
	if err != nil {
		o.logger.InfoContext(ctx, "oidc id token refused", slog.Any("error", err))
		return nil, errUnauthorized("the identity provider's ID token is not valid")
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, errUnauthorized("the ID token's nonce does not match this login")
	}
	var c claims
	if err := idt.Claims(&c.raw); err != nil {
		return nil, fmt.Errorf("decode id token claims: %w", err)
	}
	if tu := c.str("token_use"); tu != "" && tu != "id" {
		return nil, errUnauthorized("not an ID token")
	}
	id := o.identityFrom(idt.Subject, c)
	if id.email == "" {
		o.fillFromUserInfo(ctx, p, oauth2.StaticTokenSource(tok), &id)
	}
	u, err := o.link(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	now := o.svc.now()
	if err := o.svc.store.RecordIdentityLogin(ctx, o.cfg.Issuer, id.subject, now); err != nil {
		o.logger.WarnContext(ctx, "record oidc login", slog.Any("error", err))
	}
	sess, err := o.svc.newSession(ctx, u, "", now)
	if err != nil {
		return nil, err
	}
	o.logger.InfoContext(ctx, "user logged in through oidc", slog.Int64("user_id", u.ID))
	return sess, nil
}

// StartDevice starts a device authorization at the provider. EInvalid when
// the provider has no device authorization endpoint.
func (o *OIDC) StartDevice(ctx context.Context) (*kiln.OIDCDeviceAuth, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return nil, err
	}
	if p.Endpoint().DeviceAuthURL == "" {
		return nil, kiln.Errorf(kiln.EInvalid, "the identity provider does not support the device flow; log in through a browser")
	}
	da, err := o.oauth2Config(p, "").DeviceAuth(o.clientCtx(ctx))
	if err != nil {
		o.logger.WarnContext(ctx, "oidc device authorization failed", slog.Any("error", err))
		return nil, kiln.Errorf(kiln.EUnavailable, "the identity provider refused to start a device login")
	}
	out := &kiln.OIDCDeviceAuth{
		DeviceCode: da.DeviceCode, UserCode: da.UserCode, VerificationURI: da.VerificationURI,
		VerificationURIComplete: da.VerificationURIComplete, Interval: int(da.Interval),
	}
	if !da.Expiry.IsZero() {
		out.ExpiresIn = int(time.Until(da.Expiry).Seconds())
	}
	if out.Interval <= 0 {
		out.Interval = 5
	}
	return out, nil
}

// PollDevice waits up to 20 s for the user to approve the device code.
// EConflict while the approval is pending (call again); EUnauthorized when
// it was denied or expired.
func (o *OIDC) PollDevice(ctx context.Context, deviceCode string) (*kiln.Session, error) {
	p, err := o.provider(ctx)
	if err != nil {
		return nil, err
	}
	if deviceCode == "" || len(deviceCode) > 2048 {
		return nil, kiln.FieldErrorf("device_code", "must be 1 to 2048 characters")
	}
	wctx, cancel := context.WithTimeout(ctx, devicePollWait)
	defer cancel()
	tok, err := o.oauth2Config(p, "").DeviceAccessToken(o.clientCtx(wctx), &oauth2.DeviceAuthResponse{DeviceCode: deviceCode, Interval: 1})
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, kiln.Errorf(kiln.EConflict, "authorization_pending: the login is not approved yet")
	case errors.As(err, &re):
		return nil, errUnauthorized("the device login was not approved: " + re.ErrorCode)
	default:
		return nil, fmt.Errorf("device access token: %w", err)
	}
	return o.sessionFromToken(ctx, p, tok, "")
}

// claims is a token's claim set with lenient accessors: providers differ
// on whether a boolean is true or "true" and whether a list is a string.
type claims struct{ raw map[string]any }

func (c claims) str(name string) string {
	s, _ := c.raw[name].(string)
	return s
}

func (c claims) boolean(name string) bool {
	switch v := c.raw[name].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

func (c claims) list(name string) []string {
	switch v := c.raw[name].(type) {
	case string:
		return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (c claims) time(name string) (time.Time, bool) {
	f, ok := c.raw[name].(float64)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// identity is what Kiln takes from a provider's token or userinfo.
type identity struct {
	subject  string
	email    string
	verified bool
	groups   []string
}

func (o *OIDC) identityFrom(subject string, c claims) identity {
	return identity{subject: subject, email: NormalizeEmail(c.str("email")), verified: c.boolean("email_verified"),
		groups: c.list(o.cfg.GroupClaim)}
}

// fillFromUserInfo reads email and email_verified from the userinfo
// endpoint (Cognito access tokens carry no email). Failures leave id as is.
func (o *OIDC) fillFromUserInfo(ctx context.Context, p *oidc.Provider, ts oauth2.TokenSource, id *identity) {
	if p.UserInfoEndpoint() == "" {
		return
	}
	info, err := p.UserInfo(o.clientCtx(ctx), ts)
	if err != nil {
		o.logger.InfoContext(ctx, "oidc userinfo failed", slog.Any("error", err))
		return
	}
	if info.Subject != id.subject {
		o.logger.WarnContext(ctx, "oidc userinfo is about another subject", slog.String("subject", info.Subject))
		return
	}
	var c claims
	if err := info.Claims(&c.raw); err != nil {
		return
	}
	id.email, id.verified = NormalizeEmail(c.str("email")), c.boolean("email_verified")
	if len(id.groups) == 0 {
		id.groups = c.list(o.cfg.GroupClaim)
	}
}

// link returns the user of a provider identity: the linked one; else,
// when the provider vouches for an email that has an account, that account
// (now linked); else a new user. It then applies the admin group. Before
// it links an unknown subject, unlinked (when not nil) may complete id,
// for example from the UserInfo endpoint.
func (o *OIDC) link(ctx context.Context, id identity, unlinked func(*identity)) (*kiln.User, error) {
	store := o.svc.store
	if id.subject == "" || len(id.subject) > maxClaimLen {
		return nil, errUnauthorized("the identity provider's token has no usable subject")
	}
	u, err := store.FindUserByIdentity(ctx, o.cfg.Issuer, id.subject)
	if isCode(err, kiln.ENotFound) {
		if unlinked != nil {
			unlinked(&id)
		}
		u, err = o.firstLogin(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	if err := o.applyAdminGroup(ctx, u, id.groups); err != nil {
		return nil, err
	}
	return u, nil
}

// applyAdminGroup makes the role of u follow AdminGroup, when it is set:
// a member who is no admin becomes one, marked as the provider's; an admin
// the group made who is no longer a member (the token lists other groups
// or none) is demoted. Admins made by hand are never demoted. u is updated
// to match the store.
func (o *OIDC) applyAdminGroup(ctx context.Context, u *kiln.User, groups []string) error {
	if o.cfg.AdminGroup == "" {
		return nil
	}
	member := slices.Contains(groups, o.cfg.AdminGroup)
	switch {
	case member && !u.IsAdmin():
		changed, err := o.svc.store.SetAdminFromOIDC(ctx, u.ID, true)
		if err != nil {
			return fmt.Errorf("grant admin: %w", err)
		}
		if changed {
			u.Role, u.AdminFromOIDC = kiln.RoleAdmin, true
			o.logger.InfoContext(ctx, "oidc group made user admin", slog.Int64("user_id", u.ID), slog.String("group", o.cfg.AdminGroup))
		}
	case !member && u.IsAdmin() && u.AdminFromOIDC:
		changed, err := o.svc.store.SetAdminFromOIDC(ctx, u.ID, false)
		if err != nil {
			return fmt.Errorf("revoke admin: %w", err)
		}
		if changed {
			u.Role, u.AdminFromOIDC = kiln.RoleUser, false
			o.logger.WarnContext(ctx, "oidc group left, user is no longer admin", slog.Int64("user_id", u.ID), slog.String("group", o.cfg.AdminGroup))
		}
	}
	return nil
}

func (o *OIDC) firstLogin(ctx context.Context, id identity) (*kiln.User, error) {
	store, iss := o.svc.store, o.cfg.Issuer
	if id.email == "" {
		return nil, kiln.Errorf(kiln.EForbidden, "the identity provider gave no email address; Kiln needs the email scope to create your account")
	}
	if fe := validateEmail(id.email); fe != nil {
		return nil, kiln.Errorf(kiln.EForbidden, "the identity provider's email address %s", fe.Message)
	}
	u := &kiln.User{Email: id.email, EmailVerified: id.verified, Role: kiln.RoleUser}
	err := store.CreateUserWithIdentity(ctx, u, iss, id.subject)
	if err == nil {
		o.logger.InfoContext(ctx, "user created through oidc", slog.Int64("user_id", u.ID), slog.String("issuer", iss))
		return u, nil
	}
	if !isCode(err, kiln.EConflict) {
		return nil, fmt.Errorf("create user: %w", err)
	}
	// A concurrent first login of the same subject won: use its user.
	if u, err := store.FindUserByIdentity(ctx, iss, id.subject); err == nil {
		return u, nil
	}
	// The email has an account. Link it only when the provider vouches
	// for the address; otherwise anyone could claim it at the provider.
	if !id.verified {
		return nil, kiln.Errorf(kiln.EConflict, "an account with this email exists; the identity provider does not say the address is verified, so it is not linked")
	}
	existing, err := store.FindUserByEmail(ctx, id.email)
	if err != nil {
		return nil, fmt.Errorf("find user: %w", err)
	}
	if err := store.LinkIdentity(ctx, existing.ID, iss, id.subject); err != nil && !isCode(err, kiln.EConflict) {
		return nil, fmt.Errorf("link identity: %w", err)
	}
	o.logger.InfoContext(ctx, "oidc identity linked to existing user", slog.Int64("user_id", existing.ID))
	return existing, nil
}

// tokenIssuer returns the iss claim of a JWT without verifying it, or "".
func tokenIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Iss
}

// tokenKid returns the kid header of a JWT without verifying it, or "".
func tokenKid(token string) string {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.Kid
}

// owns reports whether token claims to come from the provider.
func (o *OIDC) owns(token string) bool { return tokenIssuer(token) == o.cfg.Issuer }

// kidAllowed reports whether a token's kid may be looked up: known kids
// always, unknown ones (which make go-oidc fetch the JWKS) at most every
// oidcKidMissInterval.
func (o *OIDC) kidAllowed(kid string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.knownKids[kid] {
		return true
	}
	now := time.Now()
	if now.Sub(o.kidMissAt) < oidcKidMissInterval {
		return false
	}
	o.kidMissAt = now
	return true
}

func (o *OIDC) rememberKid(kid string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.knownKids) > 64 {
		clear(o.knownKids)
	}
	o.knownKids[kid] = true
}

// authenticate verifies a provider access token — signature against the
// JWKS by kid, issuer, expiry, nbf and iat with oidcLeeway, and audience
// (aud holding the client id or Audience, or Cognito's client_id claim) —
// and returns its user, created on first use.
func (o *OIDC) authenticate(ctx context.Context, token string) (*kiln.User, error) {
	kid := tokenKid(token)
	if kid == "" {
		return nil, errors.New("provider token has no kid")
	}
	if !o.kidAllowed(kid) {
		return nil, fmt.Errorf("unknown kid %q (JWKS fetched recently)", kid)
	}
	p, err := o.provider(ctx)
	if err != nil {
		return nil, err
	}
	t, err := o.verifiers().access.Verify(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("verify provider token: %w", err)
	}
	o.rememberKid(kid)
	var c claims
	if err := t.Claims(&c.raw); err != nil {
		return nil, fmt.Errorf("decode provider token: %w", err)
	}
	now := o.svc.cfg.Now()
	exp, ok := c.time("exp")
	if !ok || !now.Before(exp.Add(oidcLeeway)) {
		return nil, errors.New("provider token expired or has no exp")
	}
	if nbf, ok := c.time("nbf"); ok && now.Add(oidcLeeway).Before(nbf) {
		return nil, errors.New("provider token not valid yet")
	}
	if iat, ok := c.time("iat"); ok && now.Add(oidcLeeway).Before(iat) {
		return nil, errors.New("provider token issued in the future")
	}
	aud := t.Audience
	if !slices.Contains(aud, o.cfg.ClientID) && (o.cfg.Audience == "" || !slices.Contains(aud, o.cfg.Audience)) &&
		c.str("client_id") != o.cfg.ClientID {
		return nil, fmt.Errorf("provider token is for another audience (aud %q, client_id %q)", aud, c.str("client_id"))
	}
	if tu := c.str("token_use"); tu != "" && tu != "access" {
		return nil, fmt.Errorf("provider token_use is %q, want access", tu)
	}
	// Access tokens carry no email (Cognito's never do): ask UserInfo, but
	// only for a subject not linked yet, not on every request.
	return o.link(ctx, o.identityFrom(t.Subject, c), func(id *identity) {
		if id.email == "" {
			o.fillFromUserInfo(ctx, p, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}), id)
		}
	})
}
