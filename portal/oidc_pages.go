package portal

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/client"
)

// oidcCookie holds a login attempt at the identity provider between the
// redirect there and the callback: state, nonce, PKCE verifier and where
// to go afterwards. It is HttpOnly, SameSite=Lax (the callback is a
// top-level GET from the provider), lives 10 minutes and is used once.
const (
	oidcCookie    = "kiln_oidc"
	oidcCookieTTL = 10 * time.Minute
	// oidcCallbackPath is the redirect URI's path: register
	// BASE_URL/login/oidc/callback at the provider.
	oidcCallbackPath = "/login/oidc/callback"
)

type oidcAttempt struct {
	client.OIDCRequest
	Next string
}

// oidcProviderName returns the provider's display name for the login
// page, or "" when external login is off or the provider is unreachable.
func (p *Portal) oidcProviderName(r *http.Request) string {
	prov, err := p.client().OIDCProvider(r.Context())
	if err != nil {
		if code := kiln.ErrorCode(err); code != kiln.ENotFound {
			p.log.WarnContext(r.Context(), "identity provider unavailable for the login page", "error", err)
		}
		return ""
	}
	return prov.Name
}

// oidcStart sends the browser to the provider's authorization endpoint.
func (p *Portal) oidcStart(w http.ResponseWriter, r *http.Request, s *session) error {
	next := safeNext(r.URL.Query().Get("next"))
	if s != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	prov, err := p.client().OIDCProvider(r.Context())
	if err != nil {
		return err
	}
	a := oidcAttempt{OIDCRequest: client.NewOIDCRequest(p.publicURL(r) + oidcCallbackPath), Next: next}
	raw, _ := json.Marshal(a)
	http.SetCookie(w, p.cookie(r, oidcCookie, base64.RawURLEncoding.EncodeToString(raw), p.now().Add(oidcCookieTTL)))
	http.Redirect(w, r, a.AuthURL(prov), http.StatusFound)
	return nil
}

// oidcCallback finishes the login: the state must match the attempt's
// cookie, then the API exchanges the code (with the verifier and nonce)
// and the portal session starts.
func (p *Portal) oidcCallback(w http.ResponseWriter, r *http.Request, _ *session) error {
	fail := func(status int, msg string) error {
		f := &authForm{Error: msg, Next: "/"}
		f.Title = "Log in"
		f.OIDCName = p.oidcProviderName(r)
		p.render(w, r, nil, status, "login", f)
		return nil
	}
	var a oidcAttempt
	c, err := r.Cookie(oidcCookie)
	p.clearCookie(w, r, oidcCookie)
	if err == nil {
		raw, derr := base64.RawURLEncoding.DecodeString(c.Value)
		if derr != nil || json.Unmarshal(raw, &a) != nil {
			a = oidcAttempt{}
		}
	}
	q := r.URL.Query()
	if a.State == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(a.State)) != 1 {
		return fail(http.StatusBadRequest, "This login link has expired or was not started here. Log in again.")
	}
	if e := q.Get("error"); e != "" {
		msg := "The identity provider did not log you in"
		if d := strings.TrimSpace(q.Get("error_description")); d != "" && len(d) < 200 {
			msg += ": " + d
		}
		return fail(http.StatusUnauthorized, msg+".")
	}
	ks, err := p.client().OIDCLogin(r.Context(), a.Login(q.Get("code")))
	if err != nil {
		switch kiln.ErrorCode(err) {
		case kiln.EUnauthorized, kiln.EForbidden, kiln.EConflict, kiln.EInvalid:
			return fail(http.StatusUnauthorized, kiln.ErrorMessage(err))
		}
		return err
	}
	if err := p.startSession(r.Context(), w, r, ks); err != nil {
		return err
	}
	http.Redirect(w, r, safeNext(a.Next), http.StatusSeeOther)
	return nil
}
