package portal

import (
	"fmt"
	"net/http"
	"strings"

	kiln "github.com/kiln-build/kiln"
)

// resetForm is the forgot-password and reset-password pages.
type resetForm struct {
	base
	Email       string
	Token       string
	Sent        string // the server's answer after a request
	Error       string
	FieldErrors map[string]string
}

func (p *Portal) forgotPage(w http.ResponseWriter, r *http.Request, s *session) error {
	f := &resetForm{Email: r.URL.Query().Get("email")}
	f.Title = "Forgot your password?"
	p.render(w, r, s, http.StatusOK, "forgot-password", f)
	return nil
}

func (p *Portal) forgot(w http.ResponseWriter, r *http.Request, s *session) error {
	f := &resetForm{Email: strings.TrimSpace(r.PostForm.Get("email")), FieldErrors: map[string]string{}}
	f.Title = "Forgot your password?"
	if f.Email == "" {
		f.FieldErrors["email"] = "Enter the email address of your account."
		p.render(w, r, s, http.StatusUnprocessableEntity, "forgot-password", f)
		return nil
	}
	msg, err := p.client().RequestPasswordReset(r.Context(), f.Email)
	if err != nil {
		switch kiln.ErrorCode(err) {
		case kiln.EInvalid:
			f.FieldErrors["email"] = describeErr(err, "body.email")
		case kiln.ERateLimited:
			f.Error = "Too many reset requests for this address. Wait a while, then try again; the mails already sent still work."
		default:
			return err
		}
		p.render(w, r, s, http.StatusUnprocessableEntity, "forgot-password", f)
		return nil
	}
	f.Sent = msg
	p.render(w, r, s, http.StatusOK, "forgot-password", f)
	return nil
}

// resetPage asks for the new password; like verification, the token is
// used only when the form is sent, so mail scanners opening the link do
// not use it up.
func (p *Portal) resetPage(w http.ResponseWriter, r *http.Request, s *session) error {
	f := &resetForm{Token: r.URL.Query().Get("token")}
	f.Title = "Choose a new password"
	if f.Token == "" {
		f.Error = "This link has no reset token. Open the link from the mail exactly as it is, or ask for a new one."
	}
	p.render(w, r, s, http.StatusOK, "reset-password", f)
	return nil
}

func (p *Portal) reset(w http.ResponseWriter, r *http.Request, s *session) error {
	f := &resetForm{Token: r.PostForm.Get("token"), FieldErrors: map[string]string{}}
	f.Title = "Choose a new password"
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("password_confirm")
	switch {
	case password == "":
		f.FieldErrors["password"] = "Choose a new password."
	case password != confirm:
		f.FieldErrors["password_confirm"] = "The two passwords differ; type the same password twice."
	}
	if len(f.FieldErrors) > 0 {
		p.render(w, r, s, http.StatusUnprocessableEntity, "reset-password", f)
		return nil
	}
	if err := p.client().ResetPassword(r.Context(), f.Token, password); err != nil {
		if kiln.ErrorCode(err) != kiln.EInvalid {
			return err
		}
		for _, fe := range fieldErrors(err) {
			if name := strings.TrimPrefix(fe.Path, "body."); name == "password" {
				f.FieldErrors["password"] = fe.Message
			}
		}
		if len(f.FieldErrors) == 0 {
			f.Error = "This reset link is invalid, used already or expired. Ask for a new one."
		}
		p.render(w, r, s, http.StatusUnprocessableEntity, "reset-password", f)
		return nil
	}
	if s != nil {
		// Every session of the account ended with the reset.
		p.endSession(r.Context(), w, r, s)
	}
	http.Redirect(w, r, "/login?msg=reset", http.StatusSeeOther)
	return nil
}

// saveNotifications changes the user's mail settings from the account page.
func (p *Portal) saveNotifications(w http.ResponseWriter, r *http.Request, s *session) error {
	n := kiln.Notifications{BuildFinished: r.PostForm.Get("build_finished") == "on"}
	u, err := s.api.SetNotifications(r.Context(), n)
	if err != nil {
		return err
	}
	s.data.User = *u
	if err := p.saveSession(r.Context(), s); err != nil {
		return err
	}
	http.Redirect(w, r, "/account?msg=notifications", http.StatusSeeOther)
	return nil
}

// retryMail sends a failed message again from the admin page.
func (p *Portal) retryMail(w http.ResponseWriter, r *http.Request, s *session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := s.api.AdminRetryMail(r.Context(), id); err != nil {
		if kiln.ErrorCode(err) != kiln.EConflict {
			return err
		}
	}
	http.Redirect(w, r, fmt.Sprintf("/admin?msg=mail-retried&mail=%d#mail-h", id), http.StatusSeeOther)
	return nil
}
