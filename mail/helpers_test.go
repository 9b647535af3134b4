package mail_test

import (
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/mail"
)

// verifyMail renders the embedded verification message with a 24 h expiry.
func verifyMail(to, link string) *kiln.Mail {
	m, err := mail.DefaultTemplates().VerifyEmail(to, link, 24*time.Hour)
	if err != nil {
		panic(err) // the embedded templates were rendered once at load
	}
	return m
}
