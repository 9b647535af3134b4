package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/auth/oidcmock"
	"github.com/kiln-build/kiln/client"
	"github.com/kiln-build/kiln/config"
	"github.com/kiln-build/kiln/sqlstore"
)

// mustMainOIDC starts an API node whose portal and API log in through the
// OIDC server idp, with a password user (the first, the admin) already
// signed up so that provider users are not admins by being first.
func mustMainOIDC(t *testing.T, idp *oidcmock.Server) *Main {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Roles = []string{config.RoleAPI}
	cfg.Log.Format = "text"
	cfg.Auth.OIDC.Issuer = idp.Issuer
	cfg.Auth.OIDC.ClientID = "kiln-portal"
	cfg.Auth.OIDC.ClientSecret = "s3cret"
	cfg.Auth.OIDC.AdminGroup = "kiln-admins"
	cfg.Auth.OIDC.Name = "Cognito"
	logs := &syncBuffer{}
	m := NewMain(cfg, logs)
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		_ = m.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	if _, err := client.New(m.URL()).Signup(context.Background(), "root@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPortalOIDCOverHTTP follows the portal's login through the real OIDC
// server with a plain HTTP client and a cookie jar: authorization-code flow
// with PKCE, state and nonce, the callback creating the portal session.
func TestPortalOIDCOverHTTP(t *testing.T) {
	t.Parallel()
	idp := oidcmock.Start(t)
	m := mustMainOIDC(t, idp)
	idp.SetUser(t, oidcmock.User{Sub: "sub-frank", Email: "frank@example.com", EmailVerified: true})
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	_, body := get(m.URL() + "/login")
	if !strings.Contains(body, `href="/login/oidc?next=%2f"`) || !strings.Contains(body, "Log in with Cognito") {
		t.Fatalf("login page has no provider button:\n%s", body)
	}
	var authURL string
	browser.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), idp.Issuer+"/authorize") {
			authURL = r.URL.String()
		}
		return nil
	}
	resp, body := get(m.URL() + "/login/oidc?next=/account")
	if resp.Request.URL.Path != "/account" || !strings.Contains(body, "frank@example.com") {
		t.Fatalf("after the login: %s\n%s", resp.Request.URL, body)
	}
	for _, want := range []string{"code_challenge_method=S256", "code_challenge=", "nonce=", "state=",
		"redirect_uri=" + strings.ReplaceAll(m.URL(), ":", "%3A") + "%2Flogin%2Foidc%2Fcallback"} {
		if !strings.Contains(strings.ReplaceAll(authURL, "/", "%2F"), strings.ReplaceAll(want, "/", "%2F")) {
			t.Errorf("authorization URL %s lacks %s", authURL, want)
		}
	}
	u, err := sqlstore.NewAuthStore(m.DB).FindUserByEmail(context.Background(), "frank@example.com")
	if err != nil || !u.EmailVerified || u.Role != kiln.RoleUser {
		t.Fatalf("user created on first login = %+v, %v", u, err)
	}

	// The callback refuses a state it did not start, and a second use of
	// the attempt (its cookie is gone).
	resp, body = get(m.URL() + "/login/oidc/callback?code=stolen&state=guess")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "expired or was not started here") {
		t.Fatalf("forged callback: %s\n%s", resp.Status, body)
	}
}

// TestPortalOIDCInBrowser logs in through the provider in Chromium: the
// "Log in with Cognito" button, the provider's redirect back, the
// dashboard; the provider group makes the user an admin.
func TestPortalOIDCInBrowser(t *testing.T) {
	idp := oidcmock.Start(t)
	root, cancel := browserContext(t)
	defer cancel()
	m := mustMainOIDC(t, idp)
	base := m.URL()
	idp.SetUser(t, oidcmock.User{Sub: "sub-grace", Email: "grace@example.com", EmailVerified: true, Groups: []string{"kiln-admins"}})
	grace := newTab(t, root)
	axe := axeSource(t)

	grace.do("open the login page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`//a[text()="Log in with Cognito"]`))
	grace.checkA11y(axe, "login-with-provider")
	grace.do("log in with the provider",
		chromedp.Click(`//a[text()="Log in with Cognito"]`),
		chromedp.WaitVisible(`//h2[text()="You have no apps yet"]`))
	grace.do("the admin page, thanks to the provider group",
		chromedp.Navigate(base+"/admin"),
		chromedp.WaitVisible(`//h2[text()="All builds"]`))
	grace.do("the account is the provider's user",
		chromedp.Navigate(base+"/account"),
		chromedp.WaitVisible(`//*[contains(., "grace@example.com")]`))
}
