package portal_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestSignupVerifyLogin(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)

	p := b.Get("/").MustStatus(t, http.StatusSeeOther)
	if p.location() != "/login?next=%2F" {
		t.Fatalf("anonymous dashboard redirects to %q", p.location())
	}
	b.Get("/signup").MustStatus(t, http.StatusOK).MustContain(t, `<label for="email">Email address</label>`, `autocomplete="new-password"`)
	b.Post("/signup", "email", "ada@example.com", "password", "correct horse battery", "password_confirm", "different").
		MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, "The two passwords differ")
	b.Post("/signup", "email", "ada@example.com", "password", "short", "password_confirm", "short").
		MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, `class="field-error"`)
	b.Post("/signup", "email", "ada@example.com", "password", "correct horse battery", "password_confirm", "correct horse battery").
		MustStatus(t, http.StatusOK).MustContain(t, "Check your email", "ada@example.com", `href="/dev/mailbox"`)

	msg := e.MustMail(t, "ada@example.com", "verify_email", "")
	if !strings.HasPrefix(msg.Link, e.srv.URL+"/verify-email?token=") {
		t.Fatalf("verification link %q", msg.Link)
	}
	b.Get("/dev/mailbox").MustStatus(t, http.StatusOK).MustContain(t, `class="mail-link"`)
	token := strings.TrimPrefix(msg.Link, e.srv.URL+"/verify-email?token=")
	// Opening the link does not use the token: a button does.
	b.Get("/verify-email?token="+token).MustStatus(t, http.StatusOK).MustContain(t, "Verify my email address")
	b.Post("/verify-email", "token", "wrong").MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, "invalid, used already or expired")
	b.Get("/verify-email?token=" + token)
	p = b.Post("/verify-email", "token", token).MustStatus(t, http.StatusSeeOther)
	if !strings.HasPrefix(p.location(), "/login?msg=verified") {
		t.Fatalf("after verifying: %q", p.location())
	}
	b.Get(p.location()).MustContain(t, "Your email address is verified")

	b.Post("/login", "email", "ada@example.com", "password", "wrong password").
		MustStatus(t, http.StatusUnauthorized).MustContain(t, "do not match an account")
	p = b.Post("/login", "email", "ada@example.com", "password", "correct horse battery", "next", "/account").MustStatus(t, http.StatusSeeOther)
	if p.location() != "/account" {
		t.Fatalf("login goes to %q", p.location())
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "kiln_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Path != "/" {
		t.Fatalf("session cookie %+v", cookie)
	}
	b.Get("/").MustStatus(t, http.StatusOK).MustContain(t, "You have no apps yet", "Describe your first app", "Log out")

	// Logging out ends the session on the server too.
	b.Post("/logout").MustStatus(t, http.StatusSeeOther)
	b.Get("/").MustStatus(t, http.StatusSeeOther)
	if n := countRows(t, e, "web_sessions"); n != 0 {
		t.Fatalf("%d sessions after logout", n)
	}
}

func countRows(t *testing.T, e *env, table string) int {
	t.Helper()
	var n int
	if err := e.db.Writer().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSafeRedirectAfterLogin(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Post("/logout")
	for _, next := range []string{"//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		b.Get("/login")
		p := b.Post("/login", "email", "ada@example.com", "password", "correct horse battery", "next", next).MustStatus(t, http.StatusSeeOther)
		if p.location() != "/" {
			t.Errorf("next %q redirects to %q", next, p.location())
		}
		b.Post("/logout")
	}
}

func TestUnverifiedAndDelete(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.Get("/signup")
	b.Post("/signup", "email", "ada@example.com", "password", "correct horse battery", "password_confirm", "correct horse battery").MustStatus(t, http.StatusOK)
	b.MustLogin("ada@example.com")
	b.Get("/").MustStatus(t, http.StatusOK).MustContain(t, "Verify your email address", "Send the mail again")
	first := e.MustMail(t, "ada@example.com", "verify_email", "")
	p := b.Post("/account/resend-verification").MustStatus(t, http.StatusSeeOther)
	b.Get(p.location()).MustContain(t, "A new verification mail is on its way", "not verified")
	// Verifying while logged in updates the page header at once.
	msg := e.MustMail(t, "ada@example.com", "verify_email", first.Link)
	token := msg.Link[strings.Index(msg.Link, "token=")+len("token="):]
	b.Get("/verify-email?token=" + token)
	p = b.Post("/verify-email", "token", token).MustStatus(t, http.StatusSeeOther)
	if p.location() != "/?msg=verified" {
		t.Fatalf("verify while logged in goes to %q", p.location())
	}
	if pg := b.Get(p.location()); strings.Contains(pg.body, "Send the mail again") || !strings.Contains(pg.body, "Your email address is verified") {
		t.Fatalf("after verifying:\n%s", pg.body)
	}

	b.Get("/apps/new")
	p = b.Post("/apps/new", "op", "build", "description", "A todo app with tasks (title)").MustStatus(t, http.StatusSeeOther)
	bp := b.Get(p.location())
	app := regexp.MustCompile(`href="(/apps/\d+)"`).FindStringSubmatch(bp.body)[1]
	b.Get(app).MustContain(t, `data-confirm="Delete`)
	p = b.Post(app+"/delete").MustStatus(t, http.StatusSeeOther)
	b.Get(p.location()).MustContain(t, "The app was deleted", "You have no apps yet")
	b.Get(app).MustStatus(t, http.StatusNotFound)
}
