package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	kiln "github.com/kiln-build/kiln"
)

// SMTP TLS modes.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "implicit" // TLS from the first byte (SMTPS, usually port 465)
	TLSNone     = "none"     // no encryption: only for a relay on the same machine or tests
)

// SMTPConfig configures an SMTP sender.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string // no authentication when empty
	Password string
	TLS      string // TLSStartTLS (default), TLSImplicit or TLSNone
	From     string // the From address, e.g. "Kiln <kiln@example.com>"
	// Timeout bounds connecting and one message (default 30s).
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests trust their own CA).
	TLSConfig *tls.Config
}

// SMTP sends mail through an SMTP server with wneessen/go-mail, one
// connection per message. It is safe for concurrent use.
type SMTP struct {
	cfg  SMTPConfig
	from *netmail.Address
}

var _ kiln.Mailer = (*SMTP)(nil)

// NewSMTP returns an SMTP sender. It fails, naming the setting, for a
// missing host, a bad port or TLS mode, or a From that is not an address.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if strings.TrimSpace(cfg.Host) == "" {
		return nil, errors.New("smtp: mail.smtp.host is required")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp: mail.smtp.port must be 1 to 65535, got %d", cfg.Port)
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("smtp: mail.smtp.tls must be starttls, implicit or none, got %q", cfg.TLS)
	}
	from, err := parseFrom(cfg.From, "mail.smtp.from")
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg, from: from}, nil
}

// parseFrom checks a From setting.
func parseFrom(from, setting string) (*netmail.Address, error) {
	if strings.TrimSpace(from) == "" {
		return nil, fmt.Errorf("%s is required", setting)
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not an email address: %w", setting, from, err)
	}
	return a, nil
}

// messageIDDomain returns the domain of from, for Message-IDs.
func messageIDDomain(from *netmail.Address) string {
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		return from.Address[i+1:]
	}
	return "kiln.invalid"
}

// Send delivers m. The Message-ID is m.ID at the From domain, the same on
// every attempt. Errors the server answers with a 5xx code (a refused
// recipient, a rejected message) wrap kiln.ErrPermanentMail; connection
// failures and 4xx answers are temporary.
func (s *SMTP) Send(ctx context.Context, m *kiln.Mail) error {
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.cfg.TLSConfig))
	}
	if s.cfg.Username != "" {
		// Over TLS the strongest mechanism the server offers; without TLS
		// only PLAIN, which go-mail sends to a server on this machine
		// alone, so credentials never cross a network in the clear.
		auth := gomail.SMTPAuthAutoDiscover
		if s.cfg.TLS == TLSNone {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
			return fmt.Errorf("smtp: %w: %w", kiln.ErrPermanentMail, err)
		}
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

// message builds the MIME message: text and HTML alternatives.
func (s *SMTP) message(m *kiln.Mail) (*gomail.Msg, error) {
	if m == nil {
		return nil, errors.New("smtp: nil message")
	}
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("smtp: %w: recipient %q: %w", kiln.ErrPermanentMail, m.To, err)
	}
	msg.Subject(m.Subject)
	if m.ID != "" {
		msg.SetMessageIDWithValue(m.ID + "@" + messageIDDomain(s.from))
	} else {
		msg.SetMessageID()
	}
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
