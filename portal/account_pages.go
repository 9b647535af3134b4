package portal

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// tokenExpiries are the choices of the new-token form, in days (0: never).
var tokenExpiries = []int{30, 90, 365, 0}

// accountPage shows the user's account and API tokens.
type accountPage struct {
	base
	Tokens   []*kiln.APIToken
	Expiries []int
	// NewToken and Secret are set right after creating a token: the only
	// time the secret is shown.
	NewToken  *kiln.APIToken
	Secret    string
	NameError string
	Name      string
	Notice    string
	// Usage is the user's language-model usage this month (GET
	// /v1/usage); nil when the server records none.
	Usage *kiln.MonthUsage
}

func (p *Portal) accountPage(w http.ResponseWriter, r *http.Request, s *session) error {
	pg := &accountPage{}
	switch r.URL.Query().Get("msg") {
	case "revoked":
		pg.Notice = "The token is revoked; programs using it can no longer sign in with it."
	case "sent":
		pg.Notice = "A new verification mail is on its way."
	case "notifications":
		pg.Notice = "Your mail settings are saved."
	}
	return p.showAccount(w, r, s, http.StatusOK, pg)
}

func (p *Portal) showAccount(w http.ResponseWriter, r *http.Request, s *session, status int, pg *accountPage) error {
	toks, err := s.api.ListTokens(r.Context())
	if err != nil {
		return err
	}
	pg.Tokens, pg.Expiries = toks, tokenExpiries
	pg.Usage, err = s.api.Usage(r.Context())
	if err != nil && kiln.ErrorCode(err) != kiln.EUnavailable {
		return err
	}
	pg.Title = "Account"
	p.render(w, r, s, status, "account", pg)
	return nil
}

func (p *Portal) createToken(w http.ResponseWriter, r *http.Request, s *session) error {
	pg := &accountPage{Name: strings.TrimSpace(r.PostForm.Get("name"))}
	var expires *time.Time
	days, err := strconv.Atoi(r.PostForm.Get("expires_days"))
	if err != nil || days < 0 || days > 3650 {
		days = 90
	}
	if days > 0 {
		t := p.now().Add(time.Duration(days) * 24 * time.Hour).UTC()
		expires = &t
	}
	if pg.Name == "" {
		pg.NameError = "Name the token after what will use it, like “laptop CLI” or “CI deploy”."
		return p.showAccount(w, r, s, http.StatusUnprocessableEntity, pg)
	}
	tok, secret, err := s.api.CreateToken(r.Context(), pg.Name, expires)
	if err != nil {
		if kiln.ErrorCode(err) != kiln.EInvalid {
			return err
		}
		pg.NameError = describeErr(err, "body.name")
		return p.showAccount(w, r, s, http.StatusUnprocessableEntity, pg)
	}
	pg.NewToken, pg.Secret, pg.Name = tok, secret, ""
	return p.showAccount(w, r, s, http.StatusOK, pg)
}

func (p *Portal) revokeToken(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.api.RevokeToken(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?msg=revoked", http.StatusSeeOther)
	return nil
}

func (p *Portal) resendVerification(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := s.api.ResendVerification(r.Context()); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?msg=sent", http.StatusSeeOther)
	return nil
}

// adminPage lists every user and every build.
type adminPage struct {
	base
	Users       []*kiln.User
	UsersNext   string
	Builds      []*kiln.Build
	BuildsNext  string
	UsersCursor string
	AppNames    map[int64]string // by app id
	Owners      map[int64]string // emails by user id, for the newest users
	// FailedMail are the outbox messages that ran out of attempts.
	FailedMail []*kiln.MailMessage
	Notice     string
}

func (p *Portal) adminPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if !s.data.User.IsAdmin() {
		// The API would refuse too; say so before asking it.
		return kiln.Errorf(kiln.EForbidden, "only administrators may see the admin pages")
	}
	ctx := r.Context()
	q := r.URL.Query()
	users, unext, err := s.api.AdminListUsers(ctx, kiln.Page{Cursor: q.Get("users"), Limit: 50})
	if err != nil {
		return err
	}
	builds, bnext, err := s.api.ListBuilds(ctx, kiln.BuildFilter{All: true, Page: kiln.Page{Cursor: q.Get("builds"), Limit: 50}})
	if err != nil {
		return err
	}
	pg := &adminPage{Users: users, UsersNext: unext, Builds: builds, BuildsNext: bnext, AppNames: map[int64]string{}, Owners: map[int64]string{}}
	pg.FailedMail, _, err = s.api.AdminListMail(ctx, kiln.MailFailed, kiln.Page{Limit: 50})
	if err != nil && kiln.ErrorCode(err) != kiln.EUnavailable {
		return err
	}
	if q.Get("msg") == "mail-retried" {
		pg.Notice = "The message is queued again; it leaves the list once it is being sent."
	}
	// Name the builds' apps and owners: apps one by one (at most a page of
	// them), owners from the newest users.
	for _, b := range builds {
		if _, ok := pg.AppNames[b.AppID]; ok {
			continue
		}
		app, err := s.api.GetApp(ctx, b.AppID)
		if err != nil {
			if kiln.ErrorCode(err) == kiln.ENotFound {
				pg.AppNames[b.AppID] = ""
				continue
			}
			return err
		}
		pg.AppNames[b.AppID] = app.Name
	}
	owners, _, err := s.api.AdminListUsers(ctx, kiln.Page{Limit: kiln.MaxPageLimit})
	if err != nil {
		return err
	}
	for _, u := range owners {
		pg.Owners[u.ID] = u.Email
	}
	if q.Get("msg") == "sessions-ended" {
		pg.Notice = sessionsEndedNotice(pg.Owners, q.Get("user"), q.Get("n"))
	}
	pg.Title = "Admin"
	p.render(w, r, s, http.StatusOK, "admin", pg)
	return nil
}

// sessionsEndedNotice says what ending a user's sessions did. The user id
// and count come from the redirect's query, so only numbers are taken
// from it; the email is the listed user's.
func sessionsEndedNotice(emails map[int64]string, user, n string) string {
	id, err := strconv.ParseInt(user, 10, 64)
	count, cerr := strconv.Atoi(n)
	if err != nil || cerr != nil || count < 0 {
		return "The user's sessions have ended."
	}
	who := emails[id]
	if who == "" {
		who = "user " + strconv.FormatInt(id, 10)
	}
	sessions := "sessions"
	if count == 1 {
		sessions = "session"
	}
	return fmt.Sprintf("Ended %d %s of %s. They are logged out of the portal; access tokens already issued to the CLI keep working until they expire (15 minutes by default).",
		count, sessions, who)
}

// revokeSessions ends every session of a user from the admin page.
func (p *Portal) revokeSessions(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	u, n, err := s.api.AdminRevokeUserSessions(r.Context(), id)
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/admin?msg=sessions-ended&user=%d&n=%d#users-h", u.ID, n), http.StatusSeeOther)
	return nil
}
