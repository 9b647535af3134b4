// Package mail builds Kiln's messages and delivers them. DevMailer keeps
// them in memory and in the log for development; real senders (SMTP, SES)
// implement the same kiln.Mailer.
package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"

	kiln "github.com/kiln-build/kiln"
)

// Mail kinds, the values of kiln.Mail.Kind.
const (
	KindVerifyEmail = "verify_email"
)

//go:embed templates
var templateFS embed.FS

// Templates are parsed once; a parse error is a bug in this package and
// its tests catch it, so Must is fine here.
var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html"))
)

// templateData is what every message template sees.
type templateData struct {
	To   string
	Link string
}

// VerifyEmail returns the message that asks to to confirm their address by
// opening link. The HTML part escapes both values, so a hostile address or
// link cannot inject markup.
func VerifyEmail(to, link string) *kiln.Mail {
	m, err := build(KindVerifyEmail, "Verify your email for Kiln", templateData{To: to, Link: link})
	if err != nil {
		// The templates are embedded and take two strings: executing them
		// cannot fail unless the package itself is broken.
		panic(err)
	}
	return m
}

// build renders the kind's text and HTML templates with data.
func build(kind, subject string, data templateData) (*kiln.Mail, error) {
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, kind+".txt", data); err != nil {
		return nil, fmt.Errorf("render %s text: %w", kind, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, kind+".html", data); err != nil {
		return nil, fmt.Errorf("render %s html: %w", kind, err)
	}
	return &kiln.Mail{
		To:      data.To,
		Subject: subject,
		Text:    text.String(),
		HTML:    html.String(),
		Kind:    kind,
		Link:    data.Link,
	}, nil
}
