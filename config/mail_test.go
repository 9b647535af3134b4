package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/config"
)

func TestMailSettings(t *testing.T) {
	t.Parallel()
	load := func(env ...string) (config.Config, error) {
		return config.Load(config.Source{File: writeFile(t, ""), Environ: env})
	}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		c, err := load()
		if err != nil {
			t.Fatal(err)
		}
		if c.Mail.Sender != "log" || c.Mail.MaxAttempts != 10 || c.Mail.RetryBase != 7*time.Second {
			t.Fatalf("mail defaults = %+v", c.Mail)
		}
	})

	t.Run("SMTP", func(t *testing.T) {
		t.Parallel()
		c, err := load("KILN_MAIL_SENDER=smtp", "KILN_MAIL_SMTP_HOST=smtp.example.com", "KILN_MAIL_SMTP_PORT=465",
			"KILN_MAIL_SMTP_TLS=implicit", "KILN_MAIL_SMTP_USERNAME=kiln", "KILN_MAIL_SMTP_PASSWORD=pw",
			"KILN_MAIL_SMTP_FROM=Kiln <kiln@example.com>", "KILN_MAIL_RETRY_BASE=1s", "KILN_MAIL_TEMPLATES_DIR=/etc/kiln/mail")
		if err != nil {
			t.Fatal(err)
		}
		if c.Mail.SMTP.Port != 465 || c.Mail.SMTP.TLS != "implicit" || c.Mail.RetryBase != time.Second || c.Mail.TemplatesDir != "/etc/kiln/mail" {
			t.Fatalf("mail = %+v", c.Mail)
		}
	})

	for _, tc := range []struct {
		name  string
		env   []string
		field string
	}{
		{"SMTPNoHost", []string{"KILN_MAIL_SENDER=smtp", "KILN_MAIL_SMTP_FROM=kiln@example.com"}, "mail.smtp.host"},
		{"SMTPNoFrom", []string{"KILN_MAIL_SENDER=smtp", "KILN_MAIL_SMTP_HOST=h"}, "mail.smtp.from"},
		{"SMTPBadFrom", []string{"KILN_MAIL_SENDER=smtp", "KILN_MAIL_SMTP_HOST=h", "KILN_MAIL_SMTP_FROM=nobody"}, "mail.smtp.from"},
		{"SMTPBadTLS", []string{"KILN_MAIL_SENDER=smtp", "KILN_MAIL_SMTP_HOST=h", "KILN_MAIL_SMTP_FROM=a@b.c", "KILN_MAIL_SMTP_TLS=ssl"}, "mail.smtp.tls"},
		{"SMTPPasswordWithoutUser", []string{"KILN_MAIL_SENDER=smtp", "KILN_MAIL_SMTP_HOST=h", "KILN_MAIL_SMTP_FROM=a@b.c", "KILN_MAIL_SMTP_PASSWORD=pw"}, "mail.smtp.username"},
		{"SESNoFrom", []string{"KILN_MAIL_SENDER=ses"}, "mail.ses.from"},
		{"SESBadEndpoint", []string{"KILN_MAIL_SENDER=ses", "KILN_MAIL_SES_FROM=a@b.c", "KILN_MAIL_SES_ENDPOINT=localhost:8005"}, "mail.ses.endpoint"},
		{"Attempts", []string{"KILN_MAIL_MAX_ATTEMPTS=0"}, "mail.max_attempts"},
		{"RetryBase", []string{"KILN_MAIL_RETRY_BASE=1ms"}, "mail.retry_base"},
		{"Sender", []string{"KILN_MAIL_SENDER=postfix"}, "mail.sender"},
	} {
		t.Run("Err"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(tc.env...)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Load(%v) = %v, want an error naming %s", tc.env, err, tc.field)
			}
		})
	}
}
