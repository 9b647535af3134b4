package mail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kiln "github.com/kiln-build/kiln"
	"github.com/kiln-build/kiln/mail"
)

func writeTemplates(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func TestLoadTemplates(t *testing.T) {
	t.Parallel()

	t.Run("OverrideSome", func(t *testing.T) {
		t.Parallel()
		dir := writeTemplates(t, map[string]string{
			"verify_email.subject.txt": "Welcome aboard, {{.To}}\nInjected: header",
			"build_finished.html":      `<p>{{.App.Name}} #{{.Build.Number}}: <a href="{{.Link}}">{{.Build.Status}}</a></p>`,
		})
		tpl, err := mail.LoadTemplates(dir)
		if err != nil {
			t.Fatal(err)
		}
		m, err := tpl.VerifyEmail("ada@example.com", "http://k/verify-email?token=t", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "Welcome aboard, ada@example.com Injected: header" {
			t.Fatalf("subject %q: an override must stay on one line", m.Subject)
		}
		if !strings.Contains(m.Text, "expires in 24 hours") {
			t.Fatalf("text part is not the built-in one:\n%s", m.Text)
		}
		b, err := tpl.BuildFinished("ada@example.com", &kiln.App{Name: "<lib>"}, &kiln.Build{Number: 2, Status: kiln.BuildSucceeded}, "http://k/builds/9")
		if err != nil {
			t.Fatal(err)
		}
		if b.HTML != `<p>&lt;lib&gt; #2: <a href="http://k/builds/9">succeeded</a></p>` {
			t.Fatalf("html %q", b.HTML)
		}
		if b.Subject != "Build #2 of <lib> succeeded" {
			t.Fatalf("subject %q", b.Subject)
		}
	})

	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"UnknownFile", map[string]string{"verify.txt": "x"}, "verify.txt is not a template name"},
		{"ParseError", map[string]string{"password_reset.txt": "{{.Link"}, "password_reset.txt"},
		{"MissingField", map[string]string{"password_reset.html": "{{.Token}}"}, "password_reset"},
	} {
		t.Run("Err"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := mail.LoadTemplates(writeTemplates(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadTemplates = %v, want an error with %q", err, tc.want)
			}
		})
	}
	t.Run("ErrNoFolder", func(t *testing.T) {
		t.Parallel()
		if _, err := mail.LoadTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
			t.Fatal("a missing folder was accepted")
		}
	})
}
