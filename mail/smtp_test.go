package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/mail"
	"github.com/kiln-build/kiln/mail/smtptest"
)

func mustSMTP(tb testing.TB, srv *smtptest.Server, mutate func(*mail.SMTPConfig)) *mail.SMTP {
	tb.Helper()
	cfg := mail.SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), TLS: mail.TLSNone, From: "Kiln <kiln@example.com>", Timeout: 5 * time.Second}
	if srv.CertPool != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: srv.CertPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func waitOne(tb testing.TB, srv *smtptest.Server) smtptest.Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := srv.Wait(ctx, func(smtptest.Message) bool { return true })
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestSMTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msg := func() *kiln.Mail {
		m := verifyMail("ada@example.com", "http://kiln.test/verify-email?token=abc&x=1")
		m.ID = "0123456789abcdef"
		return m
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{})
		if err := mustSMTP(t, srv, nil).Send(ctx, msg()); err != nil {
			t.Fatal(err)
		}
		got := waitOne(t, srv)
		if got.From != "kiln@example.com" || len(got.To) != 1 || got.To[0] != "ada@example.com" {
			t.Fatalf("envelope from %q to %v", got.From, got.To)
		}
		if id := got.MessageID(); id != "0123456789abcdef@example.com" {
			t.Fatalf("Message-ID = %q, want the stable id at the From domain", id)
		}
		if got.Header.Get("Subject") != "Verify your email for Kiln" {
			t.Fatalf("Subject = %q", got.Header.Get("Subject"))
		}
		if !strings.Contains(got.Text, "http://kiln.test/verify-email?token=abc&x=1") {
			t.Fatalf("text part lacks the link:\n%s", got.Text)
		}
		if !strings.Contains(got.HTML, `href="http://kiln.test/verify-email?token=abc&amp;x=1"`) {
			t.Fatalf("html part lacks the link:\n%s", got.HTML)
		}
	})

	for _, mode := range []string{smtptest.TLSStartTLS, smtptest.TLSImplicit} {
		t.Run("TLS_"+mode, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, smtptest.Options{TLS: mode, Username: "kiln", Password: "s3cret"})
			s := mustSMTP(t, srv, func(c *mail.SMTPConfig) { c.TLS, c.Username, c.Password = mode, "kiln", "s3cret" })
			if err := s.Send(ctx, msg()); err != nil {
				t.Fatal(err)
			}
			waitOne(t, srv)
		})
	}

	t.Run("ErrStartTLSRequired", func(t *testing.T) {
		// starttls refuses a server that cannot upgrade: credentials never
		// cross in the clear.
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{})
		err := mustSMTP(t, srv, func(c *mail.SMTPConfig) { c.TLS = mail.TLSStartTLS }).Send(ctx, msg())
		if err == nil || errors.Is(err, kiln.ErrPermanentMail) {
			t.Fatalf("Send to a server without STARTTLS = %v, want a temporary error", err)
		}
	})

	t.Run("ErrBadPassword", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{Username: "kiln", Password: "s3cret"})
		err := mustSMTP(t, srv, func(c *mail.SMTPConfig) { c.Username, c.Password = "kiln", "wrong" }).Send(ctx, msg())
		if err == nil {
			t.Fatal("sent with a wrong password")
		}
	})

	t.Run("ErrPermanentRecipient", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{})
		srv.Reject(func(string) error {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		})
		err := mustSMTP(t, srv, nil).Send(ctx, msg())
		if !errors.Is(err, kiln.ErrPermanentMail) {
			t.Fatalf("550 answer = %v, want a permanent error", err)
		}
	})

	t.Run("ErrTemporaryRecipient", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{})
		srv.Reject(func(string) error {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		})
		err := mustSMTP(t, srv, nil).Send(ctx, msg())
		if err == nil || errors.Is(err, kiln.ErrPermanentMail) {
			t.Fatalf("451 answer = %v, want a temporary error", err)
		}
	})

	t.Run("ErrServerDown", func(t *testing.T) {
		t.Parallel()
		srv := smtptest.Start(t, smtptest.Options{})
		srv.Stop()
		err := mustSMTP(t, srv, nil).Send(ctx, msg())
		if err == nil || errors.Is(err, kiln.ErrPermanentMail) {
			t.Fatalf("server down = %v, want a temporary error", err)
		}
	})

	t.Run("ErrConfig", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			cfg  mail.SMTPConfig
			want string
		}{
			{mail.SMTPConfig{Port: 25, From: "a@b.c"}, "mail.smtp.host"},
			{mail.SMTPConfig{Host: "h", Port: 0, From: "a@b.c"}, "mail.smtp.port"},
			{mail.SMTPConfig{Host: "h", Port: 25, From: "a@b.c", TLS: "ssl"}, "mail.smtp.tls"},
			{mail.SMTPConfig{Host: "h", Port: 25}, "mail.smtp.from"},
			{mail.SMTPConfig{Host: "h", Port: 25, From: "not an address"}, "mail.smtp.from"},
		} {
			if _, err := mail.NewSMTP(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewSMTP(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
			}
		}
	})
}
