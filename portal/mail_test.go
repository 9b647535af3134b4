package portal_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/sqlstore"
)

func TestForgotAndResetPassword(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	e.Browser(t).MustSignup("ada@example.com")
	b := e.Browser(t) // someone who is not logged in

	b.Get("/login").MustContain(t, `href="/forgot-password"`)
	b.Get("/forgot-password").MustStatus(t, http.StatusOK).MustContain(t, "Mail me a reset link")
	known := b.Post("/forgot-password", "email", "ada@example.com").MustStatus(t, http.StatusOK).MustContain(t, "If an account has this address")
	b.Get("/forgot-password")
	unknown := b.Post("/forgot-password", "email", "nobody@example.com").MustStatus(t, http.StatusOK)
	if strings.ReplaceAll(known.body, "ada@example.com", "X") != strings.ReplaceAll(unknown.body, "nobody@example.com", "X") {
		t.Fatal("the page answers differently for a known and an unknown address")
	}
	b.Get("/forgot-password")
	b.Post("/forgot-password", "email", "").MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, "Enter the email address")

	msg := e.MustMail(t, "ada@example.com", "password_reset", "")
	token := strings.TrimPrefix(msg.Link, e.srv.URL+"/reset-password?token=")
	if token == msg.Link {
		t.Fatalf("reset link %q", msg.Link)
	}
	// Opening the link does not use the token.
	b.Get("/reset-password?token="+token).MustStatus(t, http.StatusOK).MustContain(t, "Set the new password")
	b.Post("/reset-password", "token", token, "password", "a new passphrase", "password_confirm", "different").
		MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, "The two passwords differ")
	b.Post("/reset-password", "token", token, "password", "short", "password_confirm", "short").
		MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, `class="field-error"`)
	p := b.Post("/reset-password", "token", token, "password", "a new passphrase", "password_confirm", "a new passphrase").MustStatus(t, http.StatusSeeOther)
	if p.location() != "/login?msg=reset" {
		t.Fatalf("after the reset: %q", p.location())
	}
	b.Get(p.location()).MustContain(t, "Your password is changed")
	b.Get("/reset-password?token=" + token)
	b.Post("/reset-password", "token", token, "password", "third passphrase", "password_confirm", "third passphrase").
		MustStatus(t, http.StatusUnprocessableEntity).MustContain(t, "invalid, used already or expired", `href="/forgot-password"`)
	b.Get("/login")
	b.Post("/login", "email", "ada@example.com", "password", "correct horse battery").MustStatus(t, http.StatusUnauthorized)
	b.Post("/login", "email", "ada@example.com", "password", "a new passphrase").MustStatus(t, http.StatusSeeOther)
}

func TestNotificationSettings(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	b := e.Browser(t)
	b.MustSignup("ada@example.com")
	b.Get("/account").MustContain(t, "Mail me when one of my builds succeeds or fails", `name="build_finished" type="checkbox" checked`)
	p := b.Post("/account/notifications").MustStatus(t, http.StatusSeeOther) // the box unticked
	pg := b.Get(p.location()).MustContain(t, "Your mail settings are saved")
	if strings.Contains(pg.body, `type="checkbox" checked`) {
		t.Fatal("build mail still on after unticking")
	}
	u, err := sqlstore.NewAuthStore(e.db).FindUserByEmail(context.Background(), "ada@example.com")
	if err != nil || u.Notifications.BuildFinished {
		t.Fatalf("stored settings: %+v %v", u, err)
	}
	b.Post("/account/notifications", "build_finished", "on").MustStatus(t, http.StatusSeeOther)
	b.Get("/account").MustContain(t, `type="checkbox" checked`)
}

func TestAdminFailedMail(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	admin := e.Browser(t)
	admin.MustSignup("admin@example.com")
	admin.Get("/admin").MustContain(t, "Mail that failed", "No failed mail.")

	e.bounce.Store(true)
	other := e.Browser(t)
	other.Get("/signup")
	other.Post("/signup", "email", "bounce@example.com", "password", "correct horse battery", "password_confirm", "correct horse battery").MustStatus(t, http.StatusOK)
	store := sqlstore.NewMailStore(e.db)
	adminCtx := kiln.NewContextWithUser(context.Background(), &kiln.User{ID: 1, Role: kiln.RoleAdmin})
	failed := kiln.MailFailed
	var list []*kiln.MailMessage
	for deadline := time.Now().Add(15 * time.Second); len(list) == 0; {
		var err error
		if list, _, err = store.FindMail(adminCtx, kiln.MailFilter{Status: &failed}); err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 && time.Now().After(deadline) {
			t.Fatal("the refused mail never failed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	admin.Get("/admin").MustContain(t, "bounce@example.com", "550 5.1.1 no such user", "Retry")

	e.bounce.Store(false)
	p := admin.Post("/admin/mail/"+jsonInt(list[0].ID)+"/retry").MustStatus(t, http.StatusSeeOther)
	admin.Get(p.location()).MustContain(t, "The message is queued again")
	e.MustMail(t, "bounce@example.com", "verify_email", "")
}

func jsonInt(n int64) string { return strconv.FormatInt(n, 10) }

// TestAdminEndsSessions ends another user's portal session from the admin
// page: the user is logged out at the next page.
func TestAdminEndsSessions(t *testing.T) {
	t.Parallel()
	e := MustEnv(t)
	admin := e.Browser(t)
	admin.MustSignup("admin@example.com")
	ada := e.Browser(t)
	ada.MustSignup("ada@example.com")
	u, err := sqlstore.NewAuthStore(e.db).FindUserByEmail(context.Background(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	form := `action="/admin/users/` + jsonInt(u.ID) + `/revoke-sessions"`
	admin.Get("/admin").MustContain(t, form, "End sessions", `aria-label="End sessions of ada@example.com"`)

	// Ada is no admin: refused, and her session goes on.
	ada.Get("/account")
	ada.Post("/admin/users/1/revoke-sessions").MustStatus(t, http.StatusForbidden)
	// A post without the page's CSRF token is refused.
	admin.PostForm("/admin/users/"+jsonInt(u.ID)+"/revoke-sessions", url.Values{"csrf": {"x"}}).MustStatus(t, http.StatusForbidden)
	admin.Get("/admin")
	admin.Post("/admin/users/99999/revoke-sessions").MustStatus(t, http.StatusNotFound)

	admin.Get("/admin")
	p := admin.Post("/admin/users/"+jsonInt(u.ID)+"/revoke-sessions").MustStatus(t, http.StatusSeeOther)
	admin.Get(p.location()).MustContain(t, "Ended 1 session of ada@example.com.", "logged out of the portal", "until they expire")
	// Her portal session is gone at once, although its access token has
	// not expired: she is sent to log in.
	p = ada.Get("/account").MustStatus(t, http.StatusSeeOther)
	if !strings.HasPrefix(p.location(), "/login") {
		t.Fatalf("ended session goes to %q", p.location())
	}
	e.clock.Advance(20 * time.Minute)
	// The admin's own session was not touched (refreshed past 20 minutes).
	admin.Get("/admin").MustStatus(t, http.StatusOK)
}
