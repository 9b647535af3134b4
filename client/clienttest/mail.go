package clienttest

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/kiln-build/kiln"
)

// mailState is the fake's outbox: reset tokens by secret and the messages
// admins see. A reset for "fail@example.com" lands as a failed message.
type mailState struct {
	resets   map[string]string // token → email
	messages []*kiln.MailMessage
}

// ResetToken returns the reset token the fake "mailed" to email, or "".
func (s *Server) ResetToken(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, e := range s.mail.resets {
		if e == email {
			return tok
		}
	}
	return ""
}

func (s *Server) mailHandler(op string) (handler, bool, bool) {
	switch op {
	case "POST /v1/auth/password-reset":
		return s.passwordReset, true, true
	case "POST /v1/auth/password-reset/confirm":
		return s.passwordResetConfirm, true, true
	case "PATCH /v1/me":
		return s.patchMe, false, true
	case "GET /v1/admin/mail":
		return s.adminMail, false, true
	case "POST /v1/admin/mail/{id}/retry":
		return s.adminRetryMail, false, true
	}
	return nil, false, false
}

func (s *Server) passwordReset(w http.ResponseWriter, r *http.Request, _ *userRec) {
	var in struct {
		Email string `json:"email"`
	}
	if !decode(w, r, &in) {
		return
	}
	if u := s.users[in.Email]; u != nil {
		if s.mail.resets == nil {
			s.mail.resets = map[string]string{}
		}
		s.mail.resets[fmt.Sprintf("reset-%d", s.id())] = in.Email
		status, lastErr := kiln.MailSent, ""
		if in.Email == "fail@example.com" {
			status, lastErr = kiln.MailFailed, "550 mailbox unavailable"
		}
		s.mail.messages = append(s.mail.messages, &kiln.MailMessage{ID: s.id(), MessageID: "m", Kind: "password_reset",
			To: in.Email, Subject: "Reset your Kiln password", Status: status, Attempts: 1, LastError: lastErr,
			CreatedAt: s.now(), UpdatedAt: s.now()})
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "If an account has this address, a password reset link is on its way."})
}

func (s *Server) passwordResetConfirm(w http.ResponseWriter, r *http.Request, _ *userRec) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if !decode(w, r, &in) {
		return
	}
	email, ok := s.mail.resets[in.Token]
	if !ok {
		problem(w, http.StatusUnprocessableEntity, kiln.EInvalid, "the password reset link is invalid or has expired",
			kiln.FieldError{Path: "token", Message: "is invalid, used or expired"})
		return
	}
	if len(in.Password) < 8 {
		problem(w, http.StatusUnprocessableEntity, kiln.EInvalid, "invalid new password",
			kiln.FieldError{Path: "password", Message: "must be at least 8 characters"})
		return
	}
	delete(s.mail.resets, in.Token)
	s.users[email].password = in.Password
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) patchMe(w http.ResponseWriter, r *http.Request, u *userRec) {
	var in struct {
		Notifications *struct {
			BuildFinished *bool `json:"build_finished"`
		} `json:"notifications"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Notifications != nil && in.Notifications.BuildFinished != nil {
		u.user.Notifications.BuildFinished = *in.Notifications.BuildFinished
	}
	writeJSON(w, http.StatusOK, u.user)
}

func (s *Server) adminMail(w http.ResponseWriter, r *http.Request, u *userRec) {
	if !u.user.IsAdmin() {
		problem(w, http.StatusForbidden, kiln.EForbidden, "only admins may list mail")
		return
	}
	status := r.URL.Query().Get("status")
	items := []*kiln.MailMessage{}
	for i := len(s.mail.messages) - 1; i >= 0; i-- {
		if m := s.mail.messages[i]; status == "" || string(m.Status) == status {
			items = append(items, m)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) adminRetryMail(w http.ResponseWriter, r *http.Request, u *userRec) {
	if !u.user.IsAdmin() {
		problem(w, http.StatusForbidden, kiln.EForbidden, "only admins may retry mail")
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for _, m := range s.mail.messages {
		if m.ID != id {
			continue
		}
		if m.Status != kiln.MailFailed {
			problem(w, http.StatusConflict, kiln.EConflict, fmt.Sprintf("mail %d is %s, only failed mail can be retried", id, m.Status))
			return
		}
		m.Status, m.Attempts, m.LastError = kiln.MailPending, 0, ""
		writeJSON(w, http.StatusOK, m)
		return
	}
	problem(w, http.StatusNotFound, kiln.ENotFound, fmt.Sprintf("mail %d not found", id))
}
