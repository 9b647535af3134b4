// Package client is the Go client of Kiln's REST API (v1). The CLI and any
// Go program talk to a Kiln server only through it. Every method takes a
// context first, returns kiln domain types, and reports API failures as
// *Error, which unwraps to a *kiln.Error so kiln.ErrorCode works on it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kiln-build/kiln"
)

// Response size limits: a hostile or broken server cannot make the client
// buffer without bound.
const (
	maxJSONResponse  = 64 << 20
	maxErrorResponse = 1 << 20
)

// refreshMargin renews an access token this long before it expires, so a
// token does not lapse between the check and the server reading it.
const refreshMargin = 30 * time.Second

// Client calls one Kiln server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	http      *http.Client
	userAgent string
	now       func() time.Time

	mu      sync.Mutex
	token   string // static bearer (API token or access JWT) when sess is nil
	sess    *Tokens
	onSaved func(*kiln.Session) error
	reload  func() (Tokens, bool)
}

// Tokens is the credential pair of a login session.
type Tokens struct {
	AccessToken     string
	AccessExpiresAt time.Time // zero when unknown
	RefreshToken    string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (timeouts, transport, proxies).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithToken authenticates every call with a fixed bearer: an API token
// ("kiln_…") or an access JWT. It is never refreshed.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithSession authenticates with a login session that the client keeps
// fresh: when the access token has expired (or is about to), or a call is
// answered 401, it calls /v1/auth/refresh once with the refresh token,
// passes the new session to save (which may be nil) and retries the call.
// Refresh tokens rotate, so save should persist the new pair; an error from
// save fails the call.
func WithSession(t Tokens, save func(*kiln.Session) error) Option {
	return func(c *Client) {
		c.sess = &t
		c.onSaved = save
	}
}

// WithSessionReload gives a session client a way to see tokens that another
// process (another CLI command sharing the credentials file) stored after
// rotating the session. Before refreshing, the client calls load; when it
// returns a different refresh token, the client adopts that pair instead of
// presenting its own, now rotated, refresh token, which the server would
// treat as reuse and answer by revoking the whole session.
func WithSessionReload(load func() (Tokens, bool)) Option {
	return func(c *Client) { c.reload = load }
}

// WithClock sets the clock used to decide whether a token has expired.
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// New returns a client of the server at baseURL ("https://kiln.example.com";
// a path prefix is kept). It panics on a URL that is not absolute http(s),
// since that is a programming error; use ParseServerURL to check user input.
func New(baseURL string, opts ...Option) *Client {
	u, err := ParseServerURL(baseURL)
	if err != nil {
		panic(fmt.Sprintf("client.New: %v", err))
	}
	c := &Client{
		base:      u,
		http:      defaultHTTPClient(),
		userAgent: "kiln-client/" + kiln.Version,
		now:       time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// ParseServerURL checks that s is an absolute http or https URL without
// query or fragment and returns it with any trailing slash removed.
func ParseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("server url %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server url %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server url %q: no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("server url %q: must not have credentials, a query or a fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// BaseURL returns the server URL the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = 2 * time.Minute
	// No overall timeout: artifact downloads may be large; callers bound
	// calls with their context.
	return &http.Client{Transport: t}
}

// CallOption changes one call.
type CallOption func(*http.Request)

// WithIdempotencyKey sends an Idempotency-Key header, so that repeating a
// create call with the same key and body returns the first response
// instead of creating a second thing.
func WithIdempotencyKey(key string) CallOption {
	return func(r *http.Request) {
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
	}
}

// request describes one API call.
type request struct {
	method string
	path   string // starting with /; built from numeric ids, so never escaped
	query  url.Values
	body   any  // JSON-encoded when not nil
	anon   bool // sent without credentials and never refreshed (login, refresh …)
	opts   []CallOption
}

// do sends req and decodes a JSON success body into out (when not nil).
func (c *Client) do(ctx context.Context, req request, out any) error {
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorResponse))
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxJSONResponse))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", req.method, req.path, err)
	}
	return nil
}

// send performs the call with authentication and the refresh-once retry and
// returns a 2xx response whose body the caller must close; any other status
// becomes an *Error.
func (c *Client) send(ctx context.Context, req request) (*http.Response, error) {
	var body []byte
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", req.method, req.path, err)
		}
	}
	bearer := ""
	if !req.anon {
		var err error
		if bearer, err = c.bearer(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := c.roundTrip(ctx, req, body, bearer)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && !req.anon && c.canRefresh() {
		drain(resp)
		if err := c.refreshAfter401(ctx, bearer); err != nil {
			return nil, err
		}
		if bearer, err = c.bearer(ctx); err != nil {
			return nil, err
		}
		if resp, err = c.roundTrip(ctx, req, body, bearer); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorResponse))
		return nil, errorFromResponse(resp, data)
	}
	return resp, nil
}

func (c *Client) roundTrip(ctx context.Context, req request, body []byte, bearer string) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + req.path
	u.RawPath = ""
	if len(req.query) > 0 {
		u.RawQuery = req.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.method, req.path, err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json, application/problem+json")
	hr.Header.Set("User-Agent", c.userAgent)
	if bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+bearer)
	}
	for _, o := range req.opts {
		o(hr)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", req.method, req.path, ctx.Err())
		}
		return nil, &Error{
			Code:   kiln.EUnavailable,
			Detail: fmt.Sprintf("cannot reach %s: %v", c.base.Host, unwrapURLError(err)),
		}
	}
	return resp, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorResponse))
	resp.Body.Close()
}

// bearer returns the credential to send, refreshing an expired session first.
func (c *Client) bearer(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return c.token, nil
	}
	if c.expiredLocked() && c.sess.RefreshToken != "" {
		if err := c.refreshLocked(ctx, ""); err != nil {
			return "", err
		}
	}
	return c.sess.AccessToken, nil
}

// expiredLocked reports whether the access token is missing or (about to
// be) expired.
func (c *Client) expiredLocked() bool {
	return c.sess.AccessToken == "" ||
		(!c.sess.AccessExpiresAt.IsZero() && !c.now().Add(refreshMargin).Before(c.sess.AccessExpiresAt))
}

func (c *Client) canRefresh() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil && c.sess.RefreshToken != ""
}

// refreshAfter401 refreshes unless another call already replaced the access
// token that was refused: refresh tokens rotate, and presenting a rotated
// one again would revoke the whole session.
func (c *Client) refreshAfter401(ctx context.Context, refused string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess.AccessToken != refused {
		return nil
	}
	return c.refreshLocked(ctx, refused)
}

// refreshLocked renews the session, unless reload finds one that another
// process renewed already and whose access token is usable (not expired,
// not the one the server just refused).
func (c *Client) refreshLocked(ctx context.Context, refused string) error {
	if c.reload != nil {
		if t, ok := c.reload(); ok && t.RefreshToken != "" && t.RefreshToken != c.sess.RefreshToken {
			*c.sess = t
			if !c.expiredLocked() && c.sess.AccessToken != refused {
				return nil
			}
		}
	}
	s, err := c.Refresh(ctx, c.sess.RefreshToken)
	if err != nil {
		return fmt.Errorf("refresh session: %w", err)
	}
	c.sess.AccessToken = s.AccessToken
	c.sess.AccessExpiresAt = s.AccessExpiresAt
	c.sess.RefreshToken = s.RefreshToken
	if c.onSaved != nil {
		if err := c.onSaved(s); err != nil {
			return fmt.Errorf("save refreshed session: %w", err)
		}
	}
	return nil
}

// CurrentTokens returns the session tokens the client holds now (after any
// refresh), or false when it was not configured WithSession.
func (c *Client) CurrentTokens() (Tokens, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return Tokens{}, false
	}
	return *c.sess, true
}
