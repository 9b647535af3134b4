package config

import (
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// validate checks the mail settings of the chosen sender.
func (m Mail) validate(bad func(field, format string, args ...any)) {
	if m.MaxAttempts < 1 || m.MaxAttempts > 25 {
		bad("mail.max_attempts", "must be between 1 and 25")
	}
	if m.RetryBase < 10*time.Millisecond || m.RetryBase > time.Hour {
		bad("mail.retry_base", "must be between 10ms and 1h")
	}
	from := func(field, v string) {
		if strings.TrimSpace(v) == "" {
			bad(field, "is required with mail.sender %s", m.Sender)
		} else if _, err := mail.ParseAddress(v); err != nil {
			bad(field, "must be an email address such as Kiln <kiln@example.com>, got %q", v)
		}
	}
	switch m.Sender {
	case "smtp":
		if strings.TrimSpace(m.SMTP.Host) == "" {
			bad("mail.smtp.host", "is required with mail.sender smtp")
		}
		if m.SMTP.Port < 1 || m.SMTP.Port > 65535 {
			bad("mail.smtp.port", "must be between 1 and 65535")
		}
		switch m.SMTP.TLS {
		case "starttls", "implicit", "none":
		default:
			bad("mail.smtp.tls", "must be one of starttls, implicit, none, got %q", m.SMTP.TLS)
		}
		if m.SMTP.Password != "" && m.SMTP.Username == "" {
			bad("mail.smtp.username", "is required when mail.smtp.password is set")
		}
		from("mail.smtp.from", m.SMTP.From)
	case "ses":
		from("mail.ses.from", m.SES.From)
		if e := m.SES.Endpoint; e != "" {
			if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("mail.ses.endpoint", "must be an http(s) URL, got %q", e)
			}
		}
	}
}
