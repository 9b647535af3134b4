// Package mail builds Kiln's messages from templates and delivers them.
// The senders — DevMailer (log and dev mailbox), SMTP and SES — implement
// kiln.Mailer; the outbox's queue job calls one of them (see docs/EMAIL.md).
package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	kiln "github.com/kiln-build/kiln"
)

// Mail kinds, the values of kiln.Mail.Kind and the template names.
const (
	KindVerifyEmail   = "verify_email"
	KindPasswordReset = "password_reset"
	KindBuildFinished = "build_finished"
)

// kinds are the messages Kiln sends; each has KIND.subject.txt, KIND.txt
// and KIND.html templates.
var kinds = []string{KindVerifyEmail, KindPasswordReset, KindBuildFinished}

//go:embed templates
var templateFS embed.FS

// TemplateData is what every message template sees. Expires is set for
// messages with a single-use link, App and Build for build_finished.
type TemplateData struct {
	To      string
	Link    string
	Expires string
	App     *kiln.App
	Build   *kiln.Build
}

// Templates renders messages. Each template can be overridden by a file of
// the same name in a folder (LoadTemplates). It is safe for concurrent use.
type Templates struct {
	subject map[string]*texttemplate.Template
	text    map[string]*texttemplate.Template
	html    map[string]*htmltemplate.Template
}

var defaultTemplates = func() *Templates {
	t, err := LoadTemplates("")
	if err != nil {
		// The embedded templates are part of this package; its tests
		// catch a broken one.
		panic(err)
	}
	return t
}()

// DefaultTemplates returns the embedded templates.
func DefaultTemplates() *Templates { return defaultTemplates }

// TemplateNames lists the template files, the names an override folder may
// hold.
func TemplateNames() []string {
	var names []string
	for _, k := range kinds {
		names = append(names, k+".subject.txt", k+".txt", k+".html")
	}
	return names
}

// LoadTemplates returns the embedded templates with those in dir (when not
// "") put in their place. It fails, naming the file, for a file in dir
// that is not a template name (a typo would silently change nothing), a
// template that does not parse, or one that fails on sample data.
func LoadTemplates(dir string) (*Templates, error) {
	names := TemplateNames()
	read := func(name string) ([]byte, error) { return templateFS.ReadFile("templates/" + name) }
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
		override := map[string]bool{}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if !slices.Contains(names, e.Name()) {
				return nil, fmt.Errorf("mail templates: %s is not a template name (one of %s)",
					filepath.Join(dir, e.Name()), strings.Join(names, ", "))
			}
			override[e.Name()] = true
		}
		embedded := read
		read = func(name string) ([]byte, error) {
			if override[name] {
				return os.ReadFile(filepath.Join(dir, name))
			}
			return embedded(name)
		}
	}
	t := &Templates{
		subject: map[string]*texttemplate.Template{},
		text:    map[string]*texttemplate.Template{},
		html:    map[string]*htmltemplate.Template{},
	}
	for _, k := range kinds {
		for _, name := range []string{k + ".subject.txt", k + ".txt", k + ".html"} {
			src, err := read(name)
			if err != nil {
				return nil, fmt.Errorf("mail templates: %w", err)
			}
			var perr error
			switch {
			case strings.HasSuffix(name, ".subject.txt"):
				t.subject[k], perr = texttemplate.New(name).Option("missingkey=error").Parse(string(src))
			case strings.HasSuffix(name, ".txt"):
				t.text[k], perr = texttemplate.New(name).Option("missingkey=error").Parse(string(src))
			default:
				t.html[k], perr = htmltemplate.New(name).Option("missingkey=error").Parse(string(src))
			}
			if perr != nil {
				return nil, fmt.Errorf("mail templates: %w", perr)
			}
		}
	}
	// Render each kind once so a template that refers to a missing field
	// fails at start, not when a user waits for the mail.
	sample := TemplateData{To: "ada@example.com", Link: "https://kiln.example/x", Expires: "1 hour",
		App: &kiln.App{ID: 1, Name: "sample"}, Build: &kiln.Build{ID: 1, Number: 1, Status: kiln.BuildFailed, Error: "e"}}
	for _, k := range kinds {
		if _, err := t.render(k, sample); err != nil {
			return nil, fmt.Errorf("mail templates: %w", err)
		}
	}
	return t, nil
}

// render executes the kind's three templates with data.
func (t *Templates) render(kind string, data TemplateData) (*kiln.Mail, error) {
	var subject, text, html bytes.Buffer
	if err := t.subject[kind].Execute(&subject, data); err != nil {
		return nil, fmt.Errorf("render %s subject: %w", kind, err)
	}
	if err := t.text[kind].Execute(&text, data); err != nil {
		return nil, fmt.Errorf("render %s text: %w", kind, err)
	}
	if err := t.html[kind].Execute(&html, data); err != nil {
		return nil, fmt.Errorf("render %s html: %w", kind, err)
	}
	// A subject is one line: a template (or an app name) with a line
	// break must not be able to add headers.
	subj := strings.Join(strings.Fields(subject.String()), " ")
	if subj == "" {
		return nil, fmt.Errorf("render %s subject: empty", kind)
	}
	return &kiln.Mail{
		To:      data.To,
		Subject: subj,
		Text:    text.String(),
		HTML:    html.String(),
		Kind:    kind,
		Link:    data.Link,
	}, nil
}

// VerifyEmail returns the message that asks to to confirm their address by
// opening link, valid for ttl.
func (t *Templates) VerifyEmail(to, link string, ttl time.Duration) (*kiln.Mail, error) {
	return t.render(KindVerifyEmail, TemplateData{To: to, Link: link, Expires: humanDuration(ttl)})
}

// PasswordReset returns the message with a password reset link valid for
// ttl.
func (t *Templates) PasswordReset(to, link string, ttl time.Duration) (*kiln.Mail, error) {
	return t.render(KindPasswordReset, TemplateData{To: to, Link: link, Expires: humanDuration(ttl)})
}

// BuildFinished returns the message telling to that build b of app ended,
// with link to the build's page.
func (t *Templates) BuildFinished(to string, app *kiln.App, b *kiln.Build, link string) (*kiln.Mail, error) {
	if app == nil || b == nil {
		return nil, errors.New("render build_finished: app and build are required")
	}
	return t.render(KindBuildFinished, TemplateData{To: to, Link: link, App: app, Build: b})
}

// humanDuration says d in words: "24 hours", "1 hour", "30 minutes".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64(d/time.Minute), "minute")
	default:
		return plural(int64(d/time.Second), "second")
	}
}
