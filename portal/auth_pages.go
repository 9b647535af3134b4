package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// authForm is the login and signup page.
type authForm struct {
	base
	Email string
	Next  string
	// Error is what went wrong as a whole; FieldErrors by input name.
	Error       string
	FieldErrors map[string]string
	Notice      string
	// OIDCName, when set, offers "Log in with OIDCName".
	OIDCName string
}

func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request, s *session) error {
	next := safeNext(r.URL.Query().Get("next"))
	if s != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	f := &authForm{Next: next, Email: r.URL.Query().Get("email")}
	switch r.URL.Query().Get("msg") {
	case "logged-out":
		f.Notice = "You are logged out."
	case "verified":
		f.Notice = "Your email address is verified. Log in to continue."
	case "reset":
		f.Notice = "Your password is changed. Log in with the new one."
	}
	f.Title = "Log in"
	f.OIDCName = p.oidcProviderName(r)
	p.render(w, r, nil, http.StatusOK, "login", f)
	return nil
}

func (p *Portal) login(w http.ResponseWriter, r *http.Request, _ *session) error {
	f := &authForm{Email: strings.TrimSpace(r.PostForm.Get("email")), Next: safeNext(r.PostForm.Get("next"))}
	f.Title = "Log in"
	password := r.PostForm.Get("password")
	if f.Email == "" || password == "" {
		f.Error = "Enter your email address and password."
		p.render(w, r, nil, http.StatusUnprocessableEntity, "login", f)
		return nil
	}
	ks, err := p.client().Login(r.Context(), f.Email, password)
	if err != nil {
		switch kiln.ErrorCode(err) {
		case kiln.EUnauthorized:
			f.Error = "That email address and password do not match an account. Check them and try again."
			p.render(w, r, nil, http.StatusUnauthorized, "login", f)
			return nil
		case kiln.ERateLimited, kiln.EInvalid:
			f.Error = kiln.ErrorMessage(err)
			var ke *kiln.Error
			if errors.As(err, &ke) && ke.RetryAfter > 0 {
				f.Error = fmt.Sprintf("Too many failed attempts. Try again in %s.", humanDuration(ke.RetryAfter.Round(time.Second)))
			}
			p.render(w, r, nil, http.StatusTooManyRequests, "login", f)
			return nil
		}
		return err
	}
	if err := p.startSession(r.Context(), w, r, ks); err != nil {
		return err
	}
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
	return nil
}

func (p *Portal) signupPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if s != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	f := &authForm{}
	f.Title = "Sign up"
	p.render(w, r, nil, http.StatusOK, "signup", f)
	return nil
}

// checkEmailPage is shown after signing up.
type checkEmailPage struct {
	base
	Email string
}

func (p *Portal) signup(w http.ResponseWriter, r *http.Request, _ *session) error {
	f := &authForm{Email: strings.TrimSpace(r.PostForm.Get("email")), FieldErrors: map[string]string{}}
	f.Title = "Sign up"
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("password_confirm")
	switch {
	case f.Email == "":
		f.FieldErrors["email"] = "Enter your email address."
	case password == "":
		f.FieldErrors["password"] = "Choose a password."
	case password != confirm:
		f.FieldErrors["password_confirm"] = "The two passwords differ; type the same password twice."
	}
	if len(f.FieldErrors) > 0 {
		p.render(w, r, nil, http.StatusUnprocessableEntity, "signup", f)
		return nil
	}
	if _, err := p.client().Signup(r.Context(), f.Email, password); err != nil {
		switch kiln.ErrorCode(err) {
		case kiln.EConflict:
			f.FieldErrors["email"] = "An account with this email address exists already. Log in instead."
		case kiln.EInvalid:
			for _, fe := range fieldErrors(err) {
				f.FieldErrors[strings.TrimPrefix(fe.Path, "body.")] = fe.Message
			}
			if len(f.FieldErrors) == 0 {
				f.Error = kiln.ErrorMessage(err)
			}
		case kiln.ERateLimited:
			f.Error = kiln.ErrorMessage(err)
		default:
			return err
		}
		p.render(w, r, nil, http.StatusUnprocessableEntity, "signup", f)
		return nil
	}
	pg := &checkEmailPage{Email: f.Email}
	pg.Title = "Check your email"
	p.render(w, r, nil, http.StatusOK, "check-email", pg)
	return nil
}

// fieldErrors returns the per-field problems of an API error.
func fieldErrors(err error) []kiln.FieldError {
	var ke *kiln.Error
	if errors.As(err, &ke) {
		return ke.Fields
	}
	return nil
}

// verifyPage asks the user to confirm before the token is used, so that
// mail scanners that open links do not use it up.
type verifyPage struct {
	base
	Token string
	Done  bool
	Error string
}

func (p *Portal) verifyPage(w http.ResponseWriter, r *http.Request, s *session) error {
	pg := &verifyPage{Token: r.URL.Query().Get("token")}
	pg.Title = "Verify your email address"
	if pg.Token == "" {
		pg.Error = "This link has no verification token. Open the link from the mail exactly as it is, or ask for a new mail from your account page."
	}
	p.render(w, r, s, http.StatusOK, "verify", pg)
	return nil
}

func (p *Portal) verify(w http.ResponseWriter, r *http.Request, s *session) error {
	pg := &verifyPage{Token: r.PostForm.Get("token")}
	pg.Title = "Verify your email address"
	u, err := p.client().VerifyEmail(r.Context(), pg.Token)
	if err != nil {
		if kiln.ErrorCode(err) != kiln.EInvalid {
			return err
		}
		pg.Error = "This verification link is invalid, used already or expired. Log in and ask for a new one from your account page."
		p.render(w, r, s, http.StatusUnprocessableEntity, "verify", pg)
		return nil
	}
	if s != nil && s.data.User.ID == u.ID {
		s.data.User = *u
		if err := p.saveSession(r.Context(), s); err != nil {
			return err
		}
		http.Redirect(w, r, "/?msg=verified", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/login?msg=verified&email="+url.QueryEscape(u.Email), http.StatusSeeOther)
	return nil
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if s != nil {
		p.endSession(r.Context(), w, r, s)
	}
	http.Redirect(w, r, "/login?msg=logged-out", http.StatusSeeOther)
	return nil
}

// mailboxPage lists the dev outbox.
type mailboxPage struct {
	base
	Mail []kiln.Mail
}

// devMailbox shows the mail the dev mailer kept, newest first, with its
// links, reading the API's /dev/mail (dev mode only).
func (p *Portal) devMailbox(w http.ResponseWriter, r *http.Request, s *session) error {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, internalBase+"/dev/mail", nil)
	if err != nil {
		return err
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return kiln.Errorf(kiln.ENotFound, "the dev mailbox is off (start the server with --dev)")
	}
	var mail []kiln.Mail
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&mail); err != nil {
		return fmt.Errorf("read dev mail: %w", err)
	}
	pg := &mailboxPage{}
	for i := len(mail) - 1; i >= 0; i-- {
		m := mail[i]
		if !strings.HasPrefix(m.Link, "http://") && !strings.HasPrefix(m.Link, "https://") {
			m.Link = ""
		}
		pg.Mail = append(pg.Mail, m)
	}
	pg.Title = "Dev mailbox"
	p.render(w, r, s, http.StatusOK, "mailbox", pg)
	return nil
}
