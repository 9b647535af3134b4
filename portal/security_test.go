package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/portal"
)

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	for _, path := range []string{"/login", "/signup", "/no/such/page"} {
		p := b.Get(path)
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, p.header)
		}
		// No inline script or style anywhere: the CSP would block it.
		if regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|style="| on[a-z]+="`).MatchString(p.body) {
			t.Errorf("%s has inline script or style", path)
		}
	}
	nf := b.Get("/no/such/page").MustStatus(t, http.StatusNotFound)
	if !strings.HasPrefix(nf.header.Get("Content-Type"), "text/html") {
		t.Errorf("unknown page answered %s", nf.header.Get("Content-Type"))
	}
	// The API keeps its own paths and answers.
	api := b.Get("/v1/apps").MustStatus(t, http.StatusUnauthorized)
	if api.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("API answered %s", api.header.Get("Content-Type"))
	}
	b.Get("/healthz").MustStatus(t, http.StatusOK)
	b.Get("/openapi.json").MustStatus(t, http.StatusOK).MustContain(t, `"/v1/plan"`)
	st := b.Get("/static/kiln.js?v=1").MustStatus(t, http.StatusOK)
	if !strings.Contains(st.header.Get("Cache-Control"), "immutable") {
		t.Errorf("static Cache-Control %q", st.header.Get("Cache-Control"))
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/apps/new")
	good := b.CSRF()

	// No token, a wrong token, another browser's token: refused.
	for _, tok := range []string{"", "x", strings.Repeat("a", 32)} {
		b.PostForm("/apps/new", url.Values{"csrf": {tok}, "op": {"build"}, "description": {"a todo app"}}).
			MustStatus(t, http.StatusForbidden).MustContain(t, "security token does not match")
	}
	// A cross-site form post: refused even with the right token.
	b.PostForm("/apps/new", url.Values{"csrf": {good}, "op": {"build"}, "description": {"a todo app"}}, "Sec-Fetch-Site", "cross-site").
		MustStatus(t, http.StatusForbidden).MustContain(t, "sent from another site")
	b.PostForm("/apps/new", url.Values{"csrf": {good}, "op": {"build"}, "description": {"a todo app"}}, "Origin", "https://evil.example").
		MustStatus(t, http.StatusForbidden)
	if n := countRows(t, e, "apps"); n != 0 {
		t.Fatalf("%d apps created by forged posts", n)
	}
	// Login forms are protected too (login CSRF).
	other := e.Browser(t)
	other.PostForm("/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}}).MustStatus(t, http.StatusForbidden)
	b.PostForm("/apps/new", url.Values{"csrf": {good}, "op": {"build"}, "description": {"a todo app"}}).MustStatus(t, http.StatusSeeOther)
}

func TestUsersSeeOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	ada := e.Browser(t)
	ada.MustSignup("ada@example.com") // the first user: an admin
	ada.Get("/apps/new")
	p := ada.Post("/apps/new", "op", "build", "description", "A todo app with tasks (title)").MustStatus(t, http.StatusSeeOther)
	build := p.location()
	e.RunBuild(t, buildID(t, build))
	appURL := regexp.MustCompile(`href="(/apps/\d+)"`).FindStringSubmatch(ada.Get(build).body)[1]
	art := regexp.MustCompile(`href="(/artifacts/\d+/download)"`).FindStringSubmatch(ada.Get(appURL).body)[1]

	bob := e.Browser(t)
	bob.MustSignup("bob@example.com")
	bob.Get("/").MustContain(t, "You have no apps yet")
	for _, path := range []string{appURL, appURL + "/spec", build, strings.SplitN(build, "?", 2)[0] + "/log.json", strings.SplitN(build, "?", 2)[0] + "/log.txt", art} {
		pg := bob.Get(path).MustStatus(t, http.StatusNotFound)
		if strings.Contains(pg.body, "todo") || strings.Contains(pg.body, "tasks") {
			t.Errorf("%s leaks the other user's app:\n%s", path, pg.body)
		}
	}
	bob.Get("/")
	bob.Post(appURL+"/rebuild").MustStatus(t, http.StatusNotFound)
	bob.Post(appURL+"/delete").MustStatus(t, http.StatusNotFound)
	bob.Get("/admin").MustStatus(t, http.StatusForbidden).MustContain(t, "only administrators")
	ada.Get("/admin").MustStatus(t, http.StatusOK).MustContain(t, "bob@example.com", "All builds", ">a-todo-app-with-tasks</a>", "<td data-label=\"Owner\">ada@example.com</td>")
}

func TestSessionRefreshAndSealing(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	var before []byte
	if err := e.db.Writer().QueryRow("SELECT data FROM web_sessions").Scan(&before); err != nil {
		t.Fatal(err)
	}
	// The row holds no readable token.
	if strings.Contains(string(before), "eyJ") || strings.Contains(string(before), "ada@example.com") {
		t.Fatal("session data is not sealed")
	}
	// Past the access token's life the portal refreshes it transparently.
	e.clock.Advance(20 * time.Minute)
	p := b.Get("/").MustStatus(t, http.StatusOK).MustContain(t, "Your apps")
	if !strings.Contains(strings.Join(p.header.Values("Set-Cookie"), "\n"), "kiln_session=") {
		t.Error("the cookie's life was not extended with the refresh token's")
	}
	var after []byte
	if err := e.db.Writer().QueryRow("SELECT data FROM web_sessions").Scan(&after); err != nil {
		t.Fatal(err)
	}
	if string(after) == string(before) {
		t.Fatal("the session was not refreshed")
	}
	b.Get("/account").MustStatus(t, http.StatusOK)
	// Past the refresh token's life the session is over.
	e.clock.Advance(31 * 24 * time.Hour)
	p = b.Get("/account").MustStatus(t, http.StatusSeeOther)
	if !strings.HasPrefix(p.location(), "/login") {
		t.Fatalf("expired session goes to %q", p.location())
	}
	// A stolen cookie value with a changed byte is nobody.
	other := e.Browser(t)
	u, _ := url.Parse(e.srv.URL)
	other.c.Jar.SetCookies(u, []*http.Cookie{{Name: "kiln_session", Value: strings.Repeat("A", 43)}})
	other.Get("/").MustStatus(t, http.StatusSeeOther)
}

func TestSecureCookieUnderTLS(t *testing.T) {
	t.Parallel()
	e := MustEnv(t, func(c *portal.Config) { c.BaseURL = "https://kiln.example.com" })
	b := e.Browser(t)
	p := b.Get("/login")
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if !c.Secure || !c.HttpOnly {
			t.Errorf("cookie %s: Secure %v HttpOnly %v", c.Name, c.Secure, c.HttpOnly)
		}
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/account").MustStatus(t, http.StatusOK).MustContain(t, "You have no API tokens")
	b.Post("/account/tokens", "name", "", "expires_days", "30").MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, "Name the token")
	p := b.Post("/account/tokens", "name", "laptop <CLI>", "expires_days", "30").MustStatus(t, http.StatusOK)
	p.MustContain(t, "Copy it now", "laptop &lt;CLI&gt;")
	secret := regexp.MustCompile(`id="token-secret" class="secret" value="([^"]+)"`).FindStringSubmatch(p.body)
	if secret == nil || !strings.HasPrefix(secret[1], "kiln_") {
		t.Fatalf("no secret shown:\n%s", p.body)
	}
	// The token works against the API.
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+secret[1])
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("token refused: %v %v", err, res)
	}
	res.Body.Close()
	// It is never shown again.
	acct := b.Get("/account").MustContain(t, "laptop &lt;CLI&gt;")
	if strings.Contains(acct.body, secret[1]) {
		t.Fatal("the secret is shown again")
	}
	revoke := regexp.MustCompile(`action="(/account/tokens/\d+/revoke)"`).FindStringSubmatch(acct.body)[1]
	p = b.Post(revoke).MustStatus(t, http.StatusSeeOther)
	b.Get(p.location()).MustContain(t, "The token is revoked", "You have no API tokens")
	// Writes resolve the credential afresh (reads may reuse it for a
	// moment): the revoked token is refused at once.
	req, _ = http.NewRequest("POST", e.srv.URL+"/v1/plan", strings.NewReader(`{"description":"a todo app"}`))
	req.Header.Set("Authorization", "Bearer "+secret[1])
	req.Header.Set("Content-Type", "application/json")
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token: %v %v", err, res)
	}
	res.Body.Close()
}
