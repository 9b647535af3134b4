package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/mail"
	"github.com/kiln-build/kiln/queue"
	"github.com/kiln-build/kiln/sqlstore"
)

// setupMail loads the mail templates, makes the configured sender, has the
// store render build-finished mails, and returns the queue's delivery
// settings.
func (m *Main) setupMail(ctx context.Context) (*queue.MailConfig, error) {
	cfg := m.Config.Mail
	tpl, err := mail.LoadTemplates(cfg.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("mail.templates_dir: %w", err)
	}
	m.templates = tpl
	if m.MailSender == nil {
		switch cfg.Sender {
		case "smtp":
			m.MailSender, err = mail.NewSMTP(mail.SMTPConfig{
				Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
				TLS: cfg.SMTP.TLS, From: cfg.SMTP.From,
			})
		case "ses":
			m.MailSender, err = mail.NewSES(ctx, mail.SESConfig{Region: cfg.SES.Region, Endpoint: cfg.SES.Endpoint, From: cfg.SES.From})
		default:
			m.Mailer = mail.NewDevMailer(m.Logger)
			m.MailSender = m.Mailer
		}
		if err != nil {
			return nil, err
		}
	}
	m.Logger.Info("mail sender", slog.String("sender", cfg.Sender))
	m.Mail = sqlstore.NewMailStore(m.DB)
	m.DB.SetBuildMail(func(to string, app *kiln.App, b *kiln.Build) (*kiln.Mail, error) {
		return tpl.BuildFinished(to, app, b, m.publicURL()+"/builds/"+strconv.FormatInt(b.ID, 10))
	})
	return &queue.MailConfig{Outbox: m.Mail, Sender: m.MailSender, RetryBase: cfg.RetryBase}, nil
}

// publicURL is the base of links in mail: base_url, else the address the
// API listens on (known once it listens), else http://ADDR.
func (m *Main) publicURL() string {
	if u := m.linkBase.Load(); u != nil {
		return *u
	}
	return m.Config.PublicURL()
}
